"""Every page in Thai says nothing in English (issue 13): each page a member or an admin sees, in
the states that bring out its rarer words (a request of three images, one failed and one still
being made, a budget nearly spent, a low balance, Rivya down, a form with errors), read as a
person reads it: its text and the words of its attributes (labels, titles, confirmations, the
words static/js/app.js shows). Names stay as they are: Rivya, the models, the members, codes.
"""

from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from generations import errors, health
from generations.models import (
    BalanceReading,
    Board,
    BoardItem,
    MemberBudget,
    MemberPreference,
    Status,
    this_month,
)
from tests.rows import batch, generation, ledger_entry
from tests.support import rivya_failing_since, signed_in

pytestmark = pytest.mark.django_db

# Kept as they are in every language: the product's, Rivya's and the models' names, the named
# members, and what a Thai page writes in Latin letters too (CSV, UTC, API key, zip, rivya.ai).
NAMES = re.compile(
    r"Imagen Studio|Imagen 4 (?:Fast|Ultra)|Imagen 4|google-imagen4(?:-fast|-ultra)?|Rivya|"
    r"\b(?:alice|bob|charlie|CSV|UTC|API key|API|zip)\b|rivya\.ai|"
    # The language switch names each language in itself; a refusal names a form's fields as code.
    r"\bEnglish\b|\b[a-z_]+=\S*"
)
WORD = re.compile(r"[A-Za-z]+")
# What app.js fills in: data-says="{model} makes {ratio} …", data-words-seconds="%(seconds)s s".
PLACEHOLDER = re.compile(r"\{\w+\}|%\(\w+\)s")
# Attributes whose words a person reads or hears, or that app.js shows.
READ_ATTRIBUTES = {"title", "alt", "placeholder", "aria-label", "hx-confirm"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
# Text in these is not words for a person: code, or what the browser runs.
NOT_WORDS = {"script", "style", "code"}


def is_button(tag: str, attrs: dict[str, str | None]) -> bool:
    return tag == "input" and attrs.get("type") in ("submit", "button", "reset")


class Words(HTMLParser):
    """The words of a page as a person meets them, less what is marked as another language
    (lang="en": the switch's "English") or as code."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.skipping: list[bool] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        skip = bool(self.skipping and self.skipping[-1]) or tag in NOT_WORDS
        skip = skip or named.get("lang", "th") not in ("th", None)
        if not skip:
            for name, value in attrs:
                readable = name in READ_ATTRIBUTES or (name == "value" and is_button(tag, named))
                if value and (readable or name.startswith("data-words-") or name in WORD_DATA):
                    self.found.append(value)
        if tag not in VOID:
            self.skipping.append(skip)

    def handle_endtag(self, tag: str) -> None:
        if tag not in VOID and self.skipping:
            self.skipping.pop()

    def handle_data(self, data: str) -> None:
        if not (self.skipping and self.skipping[-1]):
            self.found.append(data)


# The data-* attributes that hold words app.js puts on the page.
WORD_DATA = {
    "data-says",
    "data-announce",
    "data-copied",
    "data-copy-failed",
    "data-due-text",
    "data-total",
    "data-confirm",
}


def english_left(body: str) -> list[str]:
    reader = Words()
    reader.feed(body)
    text = PLACEHOLDER.sub(" ", NAMES.sub(" ", " ".join(reader.found)))
    return sorted(set(WORD.findall(text)))


THAI_PROMPT = "ประภาคารยามเช้า สีน้ำ"


@pytest.fixture
def thai(alice, bob, charlie):
    """alice and charlie (the admin) read Thai; the team's images, a board and a month of spending
    in the states that bring out every sentence."""
    for user in (alice, charlie):
        MemberPreference.objects.create(user=user, language="th")
    one = generation(alice, prompt=THAI_PROMPT, seed=7, seed_picked=True, negative_prompt="หมอก")
    three = batch(alice, Status.SUCCEEDED, Status.FAILED, Status.PROCESSING, prompt=THAI_PROMPT)
    failed = generation(bob, Status.FAILED, prompt=THAI_PROMPT)
    waiting = generation(
        alice,
        Status.QUEUED,
        prompt=THAI_PROMPT,
        submit_attempts=2,
        next_check_at=timezone.now() + timedelta(seconds=30),
    )
    queued = generation(alice, Status.PROCESSING, prompt=THAI_PROMPT, remote_status="queued")
    refused = generation(
        bob,
        Status.FAILED,
        prompt=THAI_PROMPT,
        error_code="insufficient_credits",
        error_message=errors.policy_for("insufficient_credits").member_message,
    )
    for row in (one, three[0], failed, refused):
        ledger_entry(row, "reserve", 8)
    ledger_entry(one, "charge", 8)
    ledger_entry(failed, "release", 8)
    board = Board.objects.create(name="บอร์ดฤดูใบไม้ผลิ", maker=alice)
    BoardItem.objects.create(board=board, generation=one, added_by=alice)
    MemberBudget.objects.create(user=alice, period=this_month(), monthly_limit=20, used=16)
    health.keep(health.BALANCE, {"credits": 3}, at=timezone.now() - timedelta(hours=2))
    now = timezone.now()
    BalanceReading.objects.create(credits=1000, at=now - timedelta(hours=3))
    BalanceReading.objects.create(credits=900, at=now - timedelta(minutes=30))
    timeout = errors.policy_for("timeout").admin_message.format(code="timeout", message="504")
    rivya_failing_since(600, code="timeout", message=timeout)
    return {
        "one": one,
        "three": three[0],
        "failed": failed,
        "waiting": waiting,
        "queued": queued,
        "board": board,
        "alice": signed_in(alice),
        "charlie": signed_in(charlie),
    }


def pages(rows: dict[str, Any]) -> list[tuple[str, str]]:
    """(who, path) of every page, with the history's states a path can bring out."""
    member = [
        "/",
        "/?who=mine",
        "/?model=ไม่มี&from=เมื่อวาน",
        "/generations/?nothing=1",
        "/boards/",
        f"/boards/{rows['board'].pk}/",
        "/usage/me/",
        "/usage/me/?start=2026-03-31&end=2026-03-01",
    ]
    member += [f"/generations/{rows[k].pk}/" for k in ("one", "three", "failed", "waiting")]
    member += [f"/?reuse={rows['one'].pk}", f"/?reuse={rows['one'].pk}&seed=new", "/?reuse=ภาพ"]
    member += ["/?q=ab", f"/?q={'ภาพ ' * 40}"]
    return [("alice", path) for path in member] + [("charlie", "/usage/"), ("charlie", "/")]


def test_no_page_says_english_in_thai(thai):
    left = {}
    for who, path in pages(thai):
        response = thai[who].get(path)
        assert response.status_code in (200, 400, 405), f"{path}: {response.status_code}"
        found = english_left(response.content.decode())
        if found:
            left[path] = found
    assert left == {}, "\n".join(f"{path}: {words}" for path, words in left.items())


def answers(rows: dict[str, Any]) -> list[tuple[str, str, dict[str, str], bool]]:
    """(who, path, form, htmx) of the forms whose answers say something: what each action says
    back, in place (htmx) or on the page it returns to, and its refusals."""
    one, three, board = rows["one"].pk, rows["three"].pk, rows["board"].pk
    return [
        ("alice", f"/generations/{one}/favorite/", {"star": "2"}, True),
        ("alice", f"/generations/{one}/favorite/", {"star": "1"}, True),
        ("alice", f"/boards/{board}/add/", {"generation": str(three)}, True),
        ("alice", f"/boards/{board}/add/", {"generation": "ภาพ"}, True),
        ("alice", f"/boards/{board}/add/", {"generation": str(three)}, False),
        ("alice", "/boards/", {"name": ""}, False),
        ("alice", f"/boards/{board}/rename/", {"name": ""}, False),
        ("alice", f"/generations/{rows['failed'].pk}/retry/", {}, True),
        ("alice", f"/generations/{rows['waiting'].pk}/cancel/", {}, False),
        ("alice", f"/generations/{one}/delete/", {}, True),
        ("alice", f"/generations/{three}/delete/", {}, False),
        ("alice", f"/generations/{three}/restore/", {}, True),
        ("alice", "/i18n/setlang/", {"language": "fr"}, False),
    ]


def test_every_answer_is_thai(thai):
    left = {}
    for who, path, form, htmx in answers(thai):
        headers = {"HX-Request": "true"} if htmx else {}
        response = thai[who].post(path, form, headers=headers, follow=not htmx)
        found = english_left(response.content.decode())
        if found:
            left[f"{path} {form}"] = found
    for who, path in [
        ("alice", f"/generations/{thai['one'].pk}/download/?n=ที่หนึ่ง"),
        ("alice", f"/generations/cards/?id={thai['waiting'].pk}:0"),
        ("charlie", "/usage/export.csv?start=เมื่อวาน"),
    ]:
        found = english_left(thai[who].get(path).content.decode())
        if found:
            left[path] = found
    assert left == {}, "\n".join(f"{path}: {words}" for path, words in left.items())


def test_the_forms_errors_are_thai(thai, form_data):
    response = thai["alice"].post(
        "/generations/",
        form_data(prompt="", seed="many", aspect_ratio="5:1", count="9"),
        headers={"HX-Request": "true"},
    )
    assert english_left(response.content.decode()) == []


def test_the_sign_in_pages_are_thai(alice):
    client = Client(headers={"Accept-Language": "th"})
    assert english_left(client.get("/accounts/login/").content.decode()) == []
    for _ in range(5):
        locked = client.post("/accounts/login/", {"username": "alice", "password": "wrong"})
    assert english_left(locked.content.decode()) == []


def test_it_finds_english_left(thai):
    """The check itself: an English word is caught, in text and in the words of an attribute;
    names, code and what is marked as English are not."""
    assert english_left("<p>ภาพ Delete</p>") == ["Delete"]
    assert english_left('<button aria-label="Close">+</button>') == ["Close"]
    assert english_left("<p>Rivya · Imagen 4 Fast · alice <code>timeout</code></p>") == []
    assert english_left('<button lang="en">English</button>') == []
