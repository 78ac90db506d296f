"""``{% reuse_actions generation %}``: who sees which control, on a card (htmx) and on the detail
page (plain forms that come back to it). The views check the same again; these are the buttons."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.utils import translation

from generations.models import Status
from tests.rows import generation
from tests.support import page_text

pytestmark = pytest.mark.django_db

TAG = Template("{% load reuse_actions %}{% reuse_actions generation page=page %}")


def drawn(row, user, page: str = "card", path: str = "/") -> str:
    request = RequestFactory().get(path)
    request.user = user
    context = {"generation": row, "user": user, "request": request, "page": page}
    return TAG.render(Context({**context, "csrf_token": "token"}))


def test_it_offers_reuse_and_copy_to_anyone(alice, bob):
    row = generation(alice, prompt="A heron")
    html = drawn(row, bob)
    assert f'href="/?reuse={row.pk}"' in html
    assert f'href="/?reuse={row.pk}&amp;seed=new"' in html
    assert 'data-copy="A heron"' in html
    assert 'role="status"' in html
    for action in ("retry", "cancel", "stop"):
        assert f"/{action}/" not in html


def test_it_puts_a_retried_card_at_the_top_of_the_history(alice):
    html = page_text(drawn(generation(alice, Status.FAILED), alice))
    assert 'hx-target="#history-list" hx-swap="afterbegin"' in html
    assert 'name="form_token"' in html


def test_it_draws_a_new_retry_token_each_time(alice):
    row = generation(alice, Status.FAILED)
    assert drawn(row, alice) != drawn(row, alice)


def test_it_swaps_the_card_after_cancel_or_stop(alice):
    row = generation(alice, Status.QUEUED)
    assert f'hx-target="#gen-{row.pk}" hx-swap="outerHTML"' in page_text(drawn(row, alice))


def test_it_draws_plain_forms_that_come_back_on_the_detail_page(alice):
    row = generation(alice, Status.PROCESSING, submit_attempts=1)
    html = drawn(row, alice, page="detail", path=f"/generations/{row.pk}/")
    assert f'action="/generations/{row.pk}/stop/"' in html
    assert "hx-post" not in html
    assert f'name="next" value="/generations/{row.pk}/"' in html


def test_it_offers_nothing_to_change_on_a_colleagues_unfinished_one(alice, bob):
    html = drawn(generation(alice, Status.QUEUED), bob)
    assert "Cancel" not in html
    assert "Stop waiting" not in html


def test_it_speaks_thai_to_a_thai_member(alice, bob):
    with translation.override("th"):
        theirs = page_text(drawn(generation(bob, prompt="A heron"), alice))
        failed = page_text(drawn(generation(alice, Status.FAILED), alice))
        unsent = page_text(drawn(generation(alice, Status.QUEUED), alice))
        sent = page_text(drawn(generation(alice, Status.PROCESSING, submit_attempts=1), alice))
    assert ">ใช้ค่าเดิมอีกครั้ง</a>" in theirs
    assert "> ค่าเดิม ซีดใหม่ </a>" in theirs
    assert 'data-copied="คัดลอกพรอมต์แล้ว"' in theirs
    assert 'data-copy-failed="คัดลอกพรอมต์ไม่สำเร็จ ลองเลือกข้อความแล้วคัดลอกเอง"' in theirs
    assert "> คัดลอกพรอมต์ </button>" in theirs
    assert ">ลองใหม่</button>" in failed
    assert ">ยกเลิก</button>" in unsent
    assert "ภาพนี้ยังไม่ได้ส่งไปที่ Rivya ยกเลิกตอนนี้จะได้เครดิตคืน" in unsent
    assert ">เลิกรอ</button>" in sent
    assert "Rivya กำลังสร้างภาพนี้อยู่และสั่งให้หยุดไม่ได้" in sent
    for english in ("Reuse settings", "Copy prompt", "Retry", "Cancel", "Stop waiting"):
        assert english not in theirs + failed + unsent + sent
