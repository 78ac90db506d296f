"""The admin in Thai (issue 13): a Thai admin (their saved language) reads every page of the admin
in Thai, as tests/test_thai_pages.py reads the studio's: the index, every registered model's list,
a row's page, its history and its deletion, the pages to add one, and what saving says back. Our
words come from locale/, Django's and django-axes' from their catalogues, and those they leave in
English from vendor_locale/. What stays as it is: names and codes, and the few words Django and
axes write in English without asking for a translation (below, each with why).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import polib
import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.http import HttpRequest
from django.utils import timezone

from generations.credits import team_budget
from generations.models import AlertSent, MemberBudget, MemberPreference, Status, this_month
from tests.rows import batch, ledger_entry
from tests.support import signed_in
from tests.test_thai_pages import NAMES, PLACEHOLDER, WORD, Words

pytestmark = pytest.mark.django_db

ADMIN_LOCALE = Path(admin.__file__).parent / "locale"

THAI_PROMPT = "ประภาคารยามเช้า สีน้ำ"

# Names and codes the admin shows, kept as they are in Thai too: Django's name ("การจัดการ
# Django"), ID and UUID, an IANA zone name, the keys the multiple-select help names ("Control",
# "Command" on a Mac), LDAP, IP, GET and POST, an error code or hasher's name (generation_failed,
# pbkdf2_sha256), a UUID's value, a stored file's name.
ADMIN_NAMES = re.compile(
    r"\b(?:Django|ID|UUID|IANA|LDAP|Mac|IP|GET|POST|sha256)\b|Asia/Bangkok|“Control”|“Command”|"
    r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b|\b[a-z0-9]+(?:_[a-z0-9]+)+\b|"
    r"[\w/-]+\.png\b"
)
# What Django and axes write in English without gettext, so no catalogue can say it in Thai:
NOT_TRANSLATABLE = re.compile(
    # a permission's name, stored in English when the tables are made (auth's Permission.name);
    r"\bCan (?:add|change|delete|view) [\w ]+|"
    # django-axes' rows' names (AccessLog, AccessAttempt, AccessFailureLog .__str__);
    r"Access Log for \S+ @|Attempted Access:|Failed access: user \S+ (?:locked out )?on .+? from|"
    # the name of axes' application (AppConfig.verbose_name, left to the default), and what axes
    # stores for a header a request did not send;
    r"\bAxes\b|<unknown>|"
    # a many-to-many table's model and its rows, named by Django in English when it makes the
    # model ("Group-permission relationship", "Group_permissions object (1)": a delete page's
    # list of what goes with a group).
    r"\b\w+-\w+ relationships?\b|\b\w+ object \(\d+\)"
)
# A column axes' list of attempts heads with its method's name ("Status": no description given).
AXES_STATUS = re.compile(r'<th scope="col" class="column-status">.*?</th>', re.DOTALL)
# ... and in the page's markup: a yes/no icon's alt ("True", "False", "None": the value itself),
# the search box's magnifier (alt="Search" in admin/search_form.html), and a password hash's
# masked salt and hash (in <bdi>, letters of the hash itself).
MARKUP_NOT_TRANSLATABLE = re.compile(r'alt="(?:True|False|None|Search)"|<bdi>[^<]*</bdi>')


def english_left(body: str, path: str = "") -> list[str]:
    if path.startswith("/admin/axes/accessattempt/"):
        body = AXES_STATUS.sub("", body)
    reader = Words()
    reader.feed(MARKUP_NOT_TRANSLATABLE.sub("", body))
    text = " ".join(reader.found)
    for kept in (NOT_TRANSLATABLE, NAMES, ADMIN_NAMES, PLACEHOLDER):
        text = kept.sub(" ", text)
    return sorted(set(WORD.findall(text)))


@pytest.fixture
def thai_admin(alice, charlie):
    """charlie, a superuser who reads Thai, and a row of every model the admin lists: a request of
    two images (one done, one failed) with its ledger, a budget nearly spent, the team's cap, an
    alert sent, alice's preferences, a group, and axes' records of sign-ins."""
    charlie.is_superuser = True
    charlie.save()
    MemberPreference.objects.create(user=charlie, language="th")
    MemberPreference.objects.create(user=alice, language="th", time_zone="Asia/Bangkok")
    done, failed = batch(alice, Status.SUCCEEDED, Status.FAILED, prompt=THAI_PROMPT)
    ledger_entry(done, "reserve", 8)
    ledger_entry(done, "charge", 8)
    ledger_entry(failed, "reserve", 8)
    ledger_entry(failed, "release", 8)
    MemberBudget.objects.create(user=alice, monthly_limit=20, used=16)
    team = team_budget()
    team.monthly_limit = 500
    team.save()
    AlertSent.objects.create(
        kind=AlertSent.Kind.MEMBER,
        subject=str(alice.pk),
        period=this_month(),
        threshold=80,
        claimed_at=timezone.now(),
        sent_at=timezone.now(),
    )
    group = Group.objects.create(name="ทีมออกแบบ")
    group.permissions.add(Permission.objects.get(codename="view_generation"))
    now = timezone.now()
    where = {"ip_address": "192.0.2.7", "user_agent": "", "path_info": "/", "http_accept": "*/*"}
    AccessAttempt.objects.create(
        username="bob", failures_since_start=3, attempt_time=now, get_data="", post_data="", **where
    )
    AccessLog.objects.create(username="alice", attempt_time=now, **where)
    AccessFailureLog.objects.create(username="bob", attempt_time=now, locked_out=False, **where)
    return signed_in(charlie)


def admin_pages(request: HttpRequest) -> list[str]:
    """The index, each application's page, and for every registered model: its list, a row's
    page, its history, its deletion (where an admin may delete) and the page to add one (where an
    admin may add), with the admin's other pages an admin opens (a filter, a search that finds
    nothing, a month of generations, the password change)."""
    pages = ["/admin/", "/admin/generations/", "/admin/auth/", "/admin/axes/"]
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        base = f"/admin/{opts.app_label}/{opts.model_name}/"
        row = model._default_manager.order_by("pk").first()
        assert row is not None, f"no {opts.label} row to open"
        pages += [base, f"{base}{row.pk}/change/", f"{base}{row.pk}/history/"]
        if model_admin.has_delete_permission(request):
            pages.append(f"{base}{row.pk}/delete/")
        if model_admin.has_add_permission(request):
            pages.append(f"{base}add/")
    year = timezone.localdate().year
    pages += [
        "/admin/generations/generation/?status__exact=failed",
        f"/admin/generations/generation/?created_at__year={year}",
        "/admin/generations/generation/?q=ไม่มีภาพนี้",
        "/admin/generations/ledgerentry/?kind__exact=charge&o=-1",
        "/admin/password_change/",
    ]
    return pages


def test_every_admin_page_is_thai(thai_admin, charlie, rf):
    request = rf.get("/admin/")
    request.user = charlie
    left = {}
    for path in admin_pages(request):
        response = thai_admin.get(path)
        assert response.status_code == 200, f"{path}: {response.status_code}"
        found = english_left(response.content.decode(), path)
        if found:
            left[path] = found
    assert left == {}, "\n".join(f"{path}: {words}" for path, words in left.items())


def answers(admin_client: Any) -> dict[str, Any]:
    """What the admin says back: a limit set below what was used (the warning and the saved
    notice), a time zone that is none, a budget added, and the deletion of budgets asked."""
    budget = MemberBudget.objects.get()
    alice = budget.user
    return {
        "limit below used": admin_client.post(
            f"/admin/generations/memberbudget/{budget.pk}/change/",
            {"monthly_limit": 10},
            follow=True,
        ),
        "team cap below used": admin_client.post(
            "/admin/generations/teambudget/1/change/",
            {"monthly_limit": 0},
            follow=True,
        ),
        "no such time zone": admin_client.post(
            f"/admin/generations/memberpreference/{alice.preference.pk}/change/",
            {"user": alice.pk, "language": "th", "time_zone": "ดาวอังคาร/โอลิมปัส"},
        ),
        "delete selected": admin_client.post(
            "/admin/generations/memberbudget/",
            {"action": "delete_selected", "_selected_action": [budget.pk]},
        ),
        "budget deleted": admin_client.post(
            f"/admin/generations/memberbudget/{budget.pk}/delete/", {"post": "yes"}, follow=True
        ),
        "budget added": admin_client.post(
            "/admin/generations/memberbudget/add/",
            {"user": alice.pk, "monthly_limit": 30, "_continue": "1"},
            follow=True,
        ),
    }


def test_what_the_admin_says_back_is_thai(thai_admin):
    team = team_budget()
    team.used = 40
    team.save()
    said = answers(thai_admin)
    bodies = {what: response.content.decode() for what, response in said.items()}
    assert "มากกว่าขีดจำกัดใหม่ที่ 10 เครดิต" in bodies["limit below used"]
    assert "มากกว่าเพดานใหม่ที่ 0 เครดิต" in bodies["team cap below used"]
    assert "ดาวอังคาร/โอลิมปัส ไม่ใช่ชื่อเขตเวลา" in bodies["no such time zone"]
    assert "เรียบร้อยแล้ว" in bodies["budget added"]
    left = {what: english_left(body) for what, body in bodies.items()}
    assert {what: words for what, words in left.items() if words} == {}


def admin_script_catalogue(client: Any) -> dict[str, Any]:
    """The words the admin's scripts read (its JavaScript catalogue, as a Thai admin gets it)."""
    script = client.get("/admin/jsi18n/").content.decode()
    found = re.search(r"const newcatalog = (\{.*?\});", script, re.DOTALL)
    assert found is not None, script[:200]
    catalogue: dict[str, Any] = json.loads(found[1])
    return catalogue


def test_the_admins_scripts_speak_thai(thai_admin):
    """Every word of the admin's scripts (its calendar, its clock, the two-list picker, the
    action bar) has Thai: Django's own catalogue for some, vendor_locale for the rest."""
    english = polib.pofile(str(ADMIN_LOCALE / "en" / "LC_MESSAGES" / "djangojs.po"))
    catalogue = admin_script_catalogue(thai_admin)
    missing = []
    for entry in english:
        key = f"{entry.msgctxt}\x04{entry.msgid}" if entry.msgctxt else entry.msgid
        said = catalogue.get(key)
        if said is None or said == entry.msgid or said == [entry.msgid, entry.msgid_plural]:
            missing.append(entry.msgid)
    assert missing == []
    assert catalogue["Choose all %s"] == "เลือก %s ทั้งหมด"


def test_it_finds_english_left_in_the_admin():
    """The check itself: an English word of ours or Django's is caught, a name, a code, a
    permission's stored name and a yes/no icon are not."""
    assert english_left("<p>งบประมาณ Team budgets</p>") == ["Team", "budgets"]
    assert english_left('<a title="Show counts">แสดง</a>') == ["Show", "counts"]
    assert english_left("<td>generation_failed</td><td>UUID: Asia/Bangkok</td>") == []
    assert english_left("<option>การสร้างภาพ | งาน | Can add generation</option>") == []
    assert english_left('<img src="/static/admin/img/icon-no.svg" alt="False">') == []
