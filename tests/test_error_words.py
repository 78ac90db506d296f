"""The error table's words (generations/errors.py): kept and stored in English, every one
translated, and put in the reader's language where a page shows them."""

from __future__ import annotations

import string

import pytest
from django.template import Context, Template
from django.utils import translation

from generations import downloader, errors
from generations.models import Generation

POLICIES = {**errors.ERROR_POLICIES, "an unknown code": errors.UNKNOWN_ERROR}
SENTENCES = sorted(
    {words for p in POLICIES.values() for words in (p.member_message, p.admin_message)}
    | set(errors.OTHER_STORED_WORDS)
)
VALIDATION = errors.policy_for("validation_failed").member_message


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("english", SENTENCES)
def test_every_sentence_has_thai_with_the_same_fields(english):
    with translation.override("th"):
        thai = translation.gettext(english)
    assert thai != english
    assert not thai.isascii()
    assert fields(thai) == fields(english)


def test_the_table_is_english_whatever_language_is_active():
    with translation.override("th"):
        assert errors.policy_for("cancelled").member_message.startswith("You cancelled")


def test_a_stored_sentence_reads_in_thai_with_rivyas_own_words_kept():
    stored = VALIDATION.format(message="seed must be at most 4294967295.")
    with translation.override("th"):
        shown = errors.member_words("validation_failed", stored)
    assert shown == "Rivya ไม่รับการตั้งค่านี้: seed must be at most 4294967295. ปรับการตั้งค่าแล้วลองใหม่"


def test_an_unknown_code_keeps_its_code():
    stored = errors.UNKNOWN_ERROR.member_message.format(code="odd_code", message="")
    with translation.override("th"):
        shown = errors.member_words("odd_code", stored)
    assert shown.startswith("Rivya ปฏิเสธคำขอนี้ (odd_code)")


def test_a_sentence_stored_under_another_code_is_still_found():
    """lifecycle stores generation_failed's words for a task code the table does not know."""
    stored = errors.policy_for("generation_failed").member_message
    with translation.override("th"):
        assert errors.member_words("content_policy", stored).startswith("Rivya สร้างภาพนี้ไม่สำเร็จ")


def test_english_and_unknown_sentences_are_shown_as_stored():
    stored = VALIDATION.format(message="bad seed.")
    with translation.override("en"):
        assert errors.member_words("validation_failed", stored) == stored
    with translation.override("th"):
        assert errors.member_words("validation_failed", "Written before the words changed.") == (
            "Written before the words changed."
        )


def test_the_admins_words_read_in_thai():
    with translation.override("th"):
        assert errors.admin_words("insufficient_credits") == (
            "บัญชี Rivya มีเครดิตไม่พอสำหรับสร้างภาพ เติมเครดิตได้ที่ rivya.ai"
        )
        assert "odd_code" in errors.admin_words("odd_code", "boom")
    with translation.override("en"):
        assert errors.admin_words("api_key_revoked") == (
            "The Rivya API key is not accepted (api_key_revoked). Set a valid RIVYA_API_KEY."
        )


def test_the_member_error_filter_shows_a_failed_card_in_the_readers_language():
    row = Generation(
        error_code="timeout", error_message=errors.policy_for("timeout").member_message
    )
    template = Template("{% load studio %}{{ generation|member_error }}")
    with translation.override("th"):
        assert template.render(Context({"generation": row})).startswith("Rivya ตอบช้าเกินไป")
    with translation.override("en"):
        assert template.render(Context({"generation": row})).startswith("Rivya kept taking")


@pytest.mark.parametrize(
    ("stored", "thai"),
    [
        (errors.ASKED_TO_WAIT.format(seconds=12), "Rivya ขอให้รอสักครู่ จะส่งอีกครั้งในอีก 12 วินาที"),
        (errors.SAVING, "Rivya สร้างเสร็จแล้ว กำลังบันทึกภาพ"),
        (errors.TIME_IS_UP.format(minutes=30), "Rivya สร้างภาพนี้ไม่เสร็จภายใน 30 นาที"),
    ],
)
def test_the_lifecycles_stored_notes_read_in_thai(stored, thai):
    template = Template("{% load studio %}{{ note|stored_words }}")
    with translation.override("th"):
        assert template.render(Context({"note": stored})).startswith(thai)


@pytest.mark.parametrize("reason", sorted(downloader.MESSAGES.values()))
def test_a_refused_result_is_stored_in_english_and_shown_in_thai(reason):
    with translation.override("th"):  # a worker whose site speaks Thai stores English all the same
        stored = errors.refused_result(12, reason, fetched=True)
    assert stored.startswith("Rivya made this image and charged 12 credits for it")
    assert reason in stored
    with translation.override("th"):
        shown = errors.member_words(errors.policy_for("result_unsafe").member_message, stored)
        assert shown == " ".join(
            [
                errors.RESULT_NOT_KEPT % {"credits": 12},
                translation.gettext(reason),
                translation.gettext(errors.CHARGED_AGAIN),
            ]
        )
    assert not any(word in shown for word in ("Rivya made", "picture", "Trying again"))


def test_a_refused_download_of_one_credit_reads_in_thai():
    stored = errors.refused_result(1, downloader.MESSAGES["too_slow"], fetched=False)
    assert stored.startswith("Rivya made this image and charged 1 credit for it, but the studio")
    with translation.override("th"):
        assert errors.member_words("result_unsafe", stored).startswith("Rivya สร้างภาพนี้")
