"""What each of Rivya's error codes means to the studio, in one table.

Every code the API reference lists (and the few the client makes itself for failures before an
answer, and the studio's own endings a member chooses: ``cancelled``, ``stopped_waiting``) has one
row: whether a retry can help, whether Rivya is asking us to wait (which is not a failed attempt),
whether only an admin can fix it, and what the member and the admin read. The client
(``rivya.RivyaError``), the lifecycle and the admins' usage page all read this table and keep no
list of their own. The words are whole sentences, so they can be translated one by one.

The words are kept, stored and compared in English: ``lifecycle.fail`` writes the member's words
into ``Generation.error_message`` and the admin's into ``admin_message`` (a worker has no
member's language, and a member's request, such as a cancel, must not store Thai where another
stores English). They are marked for the catalogue with ``gettext_noop`` and put in the reader's
language where they are shown: :func:`member_words` for a stored sentence (the template filters
``member_error`` and ``stored_words``), :func:`admin_words` for the admins' usage page. A
sentence stored before its English changed no longer matches and is shown as it was stored.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from functools import cache

from django.utils import translation
from django.utils.translation import gettext, gettext_noop, ngettext_lazy

from generations import downloader


@dataclass(frozen=True)
class ErrorPolicy:
    """What an error code means for us. For a retryable code, ``member_message`` is what the
    member reads once the retries are used up (while retrying, the card says it is waiting).
    Both messages may hold ``{code}`` and ``{message}`` (Rivya's code and message)."""

    retry: bool
    member_message: str
    admin_message: str
    # Rivya asked us to wait: no attempt is counted, and we never give up for it.
    waiting: bool = False
    # Only an admin can fix it (the key, its scope, the account's credits): logged as an error
    # and listed on the usage page.
    needs_admin: bool = False
    # Rivya is down (no answer, or a server error): a new generation waits for it, bounded by
    # the time budget rather than by attempts, so work submitted during an outage is sent once
    # Rivya is back.
    rivya_down: bool = False


NOT_SET_UP = gettext_noop(
    "The studio is not set up to reach Rivya. Please tell an admin; nothing was charged."
)
KEY_NOT_ACCEPTED = gettext_noop(
    "The Rivya API key is not accepted ({code}). Set a valid RIVYA_API_KEY."
)

# The studio's own codes for the endings a member chooses (generations/lifecycle.py): cancelled
# before it was sent, or no longer waited for after it was. Rivya never sends them.
CANCELLED = "cancelled"
STOPPED_WAITING = "stopped_waiting"
MEMBER_ENDINGS = frozenset((CANCELLED, STOPPED_WAITING))

ERROR_POLICIES: dict[str, ErrorPolicy] = {
    "validation_failed": ErrorPolicy(
        retry=False,
        member_message=gettext_noop(
            "Rivya did not accept these settings: {message} Change them and try again."
        ),
        admin_message=gettext_noop("Rivya rejected a request as invalid: {message}"),
    ),
    "insufficient_credits": ErrorPolicy(
        retry=False,
        member_message=gettext_noop(
            "The team's Rivya account is out of credits. An admin has been told; try "
            "again once credits are added."
        ),
        admin_message=gettext_noop(
            "The Rivya account has too few credits for a generation. Add credits at rivya.ai."
        ),
        needs_admin=True,
    ),
    "idempotency_conflict": ErrorPolicy(
        retry=False,
        member_message=gettext_noop(
            "This request clashed with an earlier one under the same id. Submit it again as new."
        ),
        admin_message=gettext_noop(
            "Rivya reported idempotency_conflict: the same key was sent with a different body."
        ),
    ),
    "rate_limited": ErrorPolicy(
        retry=True,
        member_message=gettext_noop(
            "Rivya kept asking us to slow down, so we stopped trying. Its credits "
            "were returned; try again in a few minutes."
        ),
        admin_message=gettext_noop("Rivya rate-limited us ({message})."),
        waiting=True,
    ),
    "public_api_disabled": ErrorPolicy(
        retry=True,
        member_message=gettext_noop(
            "Rivya's API stayed switched off, so we stopped trying. Its credits were "
            "returned; try again in a few minutes."
        ),
        admin_message=gettext_noop(
            "Rivya's public API is switched off for now (public_api_disabled); we keep retrying."
        ),
        waiting=True,
    ),
    "not_found": ErrorPolicy(
        retry=False,
        member_message=gettext_noop(
            "Rivya no longer knows this job. Submit it again. Please tell an admin; "
            "nothing was charged."
        ),
        admin_message=gettext_noop(
            "Rivya answered not_found for a task we created: was the API key changed?"
        ),
    ),
    "generation_failed": ErrorPolicy(
        retry=False,
        member_message=gettext_noop(
            "Rivya could not make this image. Nothing was charged. Try again, perhaps "
            "with a different prompt."
        ),
        admin_message=gettext_noop("A task ended failed with generation_failed."),
    ),
    "api_key_missing": ErrorPolicy(False, NOT_SET_UP, KEY_NOT_ACCEPTED, needs_admin=True),
    "api_key_invalid": ErrorPolicy(False, NOT_SET_UP, KEY_NOT_ACCEPTED, needs_admin=True),
    "api_key_revoked": ErrorPolicy(False, NOT_SET_UP, KEY_NOT_ACCEPTED, needs_admin=True),
    "api_key_expired": ErrorPolicy(False, NOT_SET_UP, KEY_NOT_ACCEPTED, needs_admin=True),
    "api_scope_denied": ErrorPolicy(
        retry=False,
        member_message=gettext_noop(
            "The studio is not allowed to do this at Rivya. Please tell an admin; "
            "nothing was charged."
        ),
        admin_message=gettext_noop(
            "The Rivya API key lacks a scope (generations:create, generations:read, "
            "credits:read, models:read). Create a key with all scopes."
        ),
        needs_admin=True,
    ),
    "model_unavailable": ErrorPolicy(
        retry=False,
        member_message=gettext_noop(
            "This model is not available at Rivya any more. Pick another model and try again."
        ),
        admin_message=gettext_noop(
            "Rivya no longer offers {message} (unavailable or gone from GET "
            "/api/v1/models); the form no longer offers it."
        ),
    ),
    "server_error": ErrorPolicy(
        retry=True,
        rivya_down=True,
        member_message=gettext_noop(
            "Rivya kept answering with server errors, so we stopped trying. Its "
            "credits were returned; try again in a few minutes."
        ),
        admin_message=gettext_noop("Rivya answered with a server error ({message})."),
    ),
    "timeout": ErrorPolicy(
        retry=True,
        rivya_down=True,
        member_message=gettext_noop(
            "Rivya kept taking too long to answer, so we stopped trying. Its credits "
            "were returned; try again in a few minutes."
        ),
        admin_message=gettext_noop("Rivya did not answer in time ({message})."),
    ),
    "connection_error": ErrorPolicy(
        retry=True,
        rivya_down=True,
        member_message=gettext_noop(
            "We could not reach Rivya, so we stopped trying. Its credits were "
            "returned; try again in a few minutes."
        ),
        admin_message=gettext_noop(
            "Could not connect to Rivya ({message}). Check RIVYA_BASE_URL and the network."
        ),
    ),
    "protocol_error": ErrorPolicy(
        retry=True,
        member_message=gettext_noop(
            "Rivya sent answers we could not read, so we stopped trying. Its credits "
            "were returned; try again in a few minutes."
        ),
        admin_message=gettext_noop("Rivya sent an answer we could not read ({message})."),
    ),
    # The endings a member chooses: the member's words say it was their choice.
    CANCELLED: ErrorPolicy(
        retry=False,
        member_message=gettext_noop(
            "You cancelled this image before it was sent to Rivya. Nothing was "
            "charged, and its credits are back in your budget."
        ),
        admin_message=gettext_noop(
            "The member cancelled it before it was sent to Rivya, and its reservation was released."
        ),
    ),
    STOPPED_WAITING: ErrorPolicy(
        retry=False,
        member_message=gettext_noop(
            "You stopped waiting for this image, and its credits are back in your budget. "
            "Rivya had already started it and cannot be asked to stop: if it finishes after all, "
            "the image will appear here and its credits will be charged then."
        ),
        admin_message=gettext_noop(
            "The member stopped waiting after it was sent to Rivya, and its "
            "reservation was released. The late check keeps looking for Rivya's result for a day; "
            "if it comes, the release becomes the charge."
        ),
    ),
}
UNKNOWN_ERROR = ErrorPolicy(
    retry=False,
    member_message=gettext_noop(
        "Rivya refused this request ({code}). Please tell an admin; nothing was charged."
    ),
    admin_message=gettext_noop(
        "Rivya answered with an error code this app does not know: {code}: {message}"
    ),
)

# The lifecycle's other sentences a member reads, stored in English as the table's are: a failure
# of ours, the time budget running out, and a card's status notes while it waits.
INTERNAL_ERROR = gettext_noop(
    "Something went wrong on our side while making this image. Try again; if it keeps "
    "happening, tell an admin."
)
TIME_IS_UP = gettext_noop(
    "Rivya did not finish this image within {minutes} minutes, so we stopped waiting. "
    "Nothing was charged. Try again later; if Rivya finishes it after all, it will still "
    "appear here."
)
ASKED_TO_WAIT = gettext_noop("Rivya asked us to wait; sending again in {seconds} s.")
NO_PROPER_ANSWER = gettext_noop("Rivya did not answer properly; trying again in {seconds} s.")
SLOW_TO_ANSWER = gettext_noop("Rivya is slow to answer; we keep checking.")
SAVING = gettext_noop("Rivya finished; saving the image.")
OTHER_STORED_WORDS = (
    INTERNAL_ERROR,
    TIME_IS_UP,
    ASKED_TO_WAIT,
    NO_PROPER_ANSWER,
    SLOW_TO_ANSWER,
    SAVING,
)

# A result Rivya made, and charged for, that the studio did not keep (lifecycle): what happened,
# why (one of downloader.MESSAGES) and what to do, stored as one error_message.
RESULT_NOT_FETCHED = ngettext_lazy(
    "Rivya made this image and charged %(credits)d credit for it, but the studio could not "
    "download the file.",
    "Rivya made this image and charged %(credits)d credits for it, but the studio could not "
    "download the file.",
    "credits",
)
RESULT_NOT_KEPT = ngettext_lazy(
    "Rivya made this image and charged %(credits)d credit for it, but the studio refused to "
    "keep the file.",
    "Rivya made this image and charged %(credits)d credits for it, but the studio refused to "
    "keep the file.",
    "credits",
)
CHARGED_AGAIN = gettext_noop(
    "Trying again makes a new image, which Rivya charges again; if this keeps happening, tell "
    "an admin."
)

# Read from the table, for database queries that need the codes themselves.
ADMIN_CODES = frozenset(code for code, policy in ERROR_POLICIES.items() if policy.needs_admin)


def policy_for(code: str) -> ErrorPolicy:
    return ERROR_POLICIES.get(code, UNKNOWN_ERROR)


def admin_words(code: str, message: str = "") -> str:
    """The admin's words for ``code``, in the active language (for a page; never stored)."""
    return gettext(policy_for(code).admin_message).format(code=code, message=message)


@cache
def _english_pattern(english: str) -> re.Pattern[str]:
    """A stored sentence made from ``english``: its ``{code}`` and ``{message}`` as groups."""
    parts = []
    for literal, field, _, _ in string.Formatter().parse(english):
        parts.append(re.escape(literal))
        if field:
            parts.append(f"(?P<{field}>.*?)")
    return re.compile("".join(parts), re.DOTALL)


def member_words(code: str, stored: str) -> str:
    """A stored ``error_message`` or ``status_note`` in the active language: when it is one of
    the sentences above (the code's own first, then any other, with the ``{code}``,
    ``{message}``, ``{minutes}`` or ``{seconds}`` it was made with), that sentence's
    translation; otherwise as it is stored (a sentence from elsewhere, such as a refused
    result's, or written before the words last changed)."""
    others = (p.member_message for p in ERROR_POLICIES.values())
    words = _stored_words([policy_for(code).member_message, *others, *OTHER_STORED_WORDS], stored)
    if words is stored:  # none of those sentences; perhaps a refused result's three
        return _refused_result_said_again(stored) or stored
    return words


def stored_admin_words(code: str, stored: str) -> str:
    """A stored ``admin_message`` (the last failure the usage page shows) in the active language,
    as :func:`member_words` does for a member's."""
    others = (p.admin_message for p in ERROR_POLICIES.values())
    return _stored_words([policy_for(code).admin_message, *others], stored)


def refused_result(charged: int, reason: str, *, fetched: bool) -> str:
    """What the member reads when Rivya made the image but the studio did not keep it (it could
    not download the file, or ``fetched`` it and refused it for ``reason``), in English as every
    stored sentence is; :func:`member_words` says it in the reader's language."""
    with translation.override(None):
        return _refused_result_words(charged, reason, fetched)


def _refused_result_words(charged: int, reason: str, fetched: bool) -> str:
    happened = (RESULT_NOT_KEPT if fetched else RESULT_NOT_FETCHED) % {"credits": charged}
    return f"{happened} {gettext(reason)} {gettext(CHARGED_AGAIN)}"


def _refused_result_said_again(stored: str) -> str | None:
    """``stored`` in the active language if :func:`refused_result` made it, else None."""
    number = re.search(r"\d+", stored)
    if number is None:
        return None
    charged = int(number.group())
    for reason in downloader.MESSAGES.values():
        for fetched in (True, False):
            if stored == refused_result(charged, reason, fetched=fetched):
                return _refused_result_words(charged, reason, fetched)
    return None


def _stored_words(candidates: list[str], stored: str) -> str:
    """The translation of the first of ``candidates`` that ``stored`` was made from, filled as
    it was; else ``stored`` as it is."""
    for english in dict.fromkeys(candidates):
        found = _english_pattern(english).fullmatch(stored)
        if found:
            return gettext(english).format(**found.groupdict())
    return stored
