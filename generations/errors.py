"""What each of Rivya's error codes means to the studio, in one table.

Every code the API reference lists (and the few the client makes itself for failures before an
answer, and the studio's own endings a member chooses: ``cancelled``, ``stopped_waiting``) has one
row: whether a retry can help, whether Rivya is asking us to wait (which is not a failed attempt),
whether only an admin can fix it, and what the member and the admin read. The client
(``rivya.RivyaError``), the lifecycle and the admins' usage page all read this table and keep no
list of their own. The words are whole sentences, so they can be translated one by one.
"""

from __future__ import annotations

from dataclasses import dataclass


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


NOT_SET_UP = "The studio is not set up to reach Rivya. Please tell an admin; nothing was charged."
KEY_NOT_ACCEPTED = "The Rivya API key is not accepted ({code}). Set a valid RIVYA_API_KEY."

# The studio's own codes for the endings a member chooses (generations/lifecycle.py): cancelled
# before it was sent, or no longer waited for after it was. Rivya never sends them.
CANCELLED = "cancelled"
STOPPED_WAITING = "stopped_waiting"
MEMBER_ENDINGS = frozenset((CANCELLED, STOPPED_WAITING))

ERROR_POLICIES: dict[str, ErrorPolicy] = {
    "validation_failed": ErrorPolicy(
        retry=False,
        member_message="Rivya did not accept these settings: {message} Change them and try again.",
        admin_message="Rivya rejected a request as invalid: {message}",
    ),
    "insufficient_credits": ErrorPolicy(
        retry=False,
        member_message="The team's Rivya account is out of credits. An admin has been told; try "
        "again once credits are added.",
        admin_message="The Rivya account has too few credits for a generation. Add credits at "
        "rivya.ai.",
        needs_admin=True,
    ),
    "idempotency_conflict": ErrorPolicy(
        retry=False,
        member_message="This request clashed with an earlier one under the same id. Submit it "
        "again as new.",
        admin_message="Rivya reported idempotency_conflict: the same key was sent with a "
        "different body.",
    ),
    "rate_limited": ErrorPolicy(
        retry=True,
        member_message="Rivya kept asking us to slow down, so we stopped trying. Its credits "
        "were returned; try again in a few minutes.",
        admin_message="Rivya rate-limited us ({message}).",
        waiting=True,
    ),
    "public_api_disabled": ErrorPolicy(
        retry=True,
        member_message="Rivya's API stayed switched off, so we stopped trying. Its credits were "
        "returned; try again in a few minutes.",
        admin_message="Rivya's public API is switched off for now (public_api_disabled); we keep "
        "retrying.",
        waiting=True,
    ),
    "not_found": ErrorPolicy(
        retry=False,
        member_message="Rivya no longer knows this job. Submit it again. Please tell an admin; "
        "nothing was charged.",
        admin_message="Rivya answered not_found for a task we created: was the API key changed?",
    ),
    "generation_failed": ErrorPolicy(
        retry=False,
        member_message="Rivya could not make this image. Nothing was charged. Try again, perhaps "
        "with a different prompt.",
        admin_message="A task ended failed with generation_failed.",
    ),
    "api_key_missing": ErrorPolicy(False, NOT_SET_UP, KEY_NOT_ACCEPTED, needs_admin=True),
    "api_key_invalid": ErrorPolicy(False, NOT_SET_UP, KEY_NOT_ACCEPTED, needs_admin=True),
    "api_key_revoked": ErrorPolicy(False, NOT_SET_UP, KEY_NOT_ACCEPTED, needs_admin=True),
    "api_key_expired": ErrorPolicy(False, NOT_SET_UP, KEY_NOT_ACCEPTED, needs_admin=True),
    "api_scope_denied": ErrorPolicy(
        retry=False,
        member_message="The studio is not allowed to do this at Rivya. Please tell an admin; "
        "nothing was charged.",
        admin_message="The Rivya API key lacks a scope (generations:create, generations:read, "
        "credits:read, models:read). Create a key with all scopes.",
        needs_admin=True,
    ),
    "model_unavailable": ErrorPolicy(
        retry=False,
        member_message="This model is not available at Rivya any more. Pick another model and "
        "try again.",
        admin_message="Rivya no longer offers {message} (unavailable or gone from GET "
        "/api/v1/models); the form no longer offers it.",
    ),
    "server_error": ErrorPolicy(
        retry=True,
        rivya_down=True,
        member_message="Rivya kept answering with server errors, so we stopped trying. Its "
        "credits were returned; try again in a few minutes.",
        admin_message="Rivya answered with a server error ({message}).",
    ),
    "timeout": ErrorPolicy(
        retry=True,
        rivya_down=True,
        member_message="Rivya kept taking too long to answer, so we stopped trying. Its credits "
        "were returned; try again in a few minutes.",
        admin_message="Rivya did not answer in time ({message}).",
    ),
    "connection_error": ErrorPolicy(
        retry=True,
        rivya_down=True,
        member_message="We could not reach Rivya, so we stopped trying. Its credits were "
        "returned; try again in a few minutes.",
        admin_message="Could not connect to Rivya ({message}). Check RIVYA_BASE_URL and the "
        "network.",
    ),
    "protocol_error": ErrorPolicy(
        retry=True,
        member_message="Rivya sent answers we could not read, so we stopped trying. Its credits "
        "were returned; try again in a few minutes.",
        admin_message="Rivya sent an answer we could not read ({message}).",
    ),
    # The endings a member chooses: the member's words say it was their choice.
    CANCELLED: ErrorPolicy(
        retry=False,
        member_message="You cancelled this image before it was sent to Rivya. Nothing was "
        "charged, and its credits are back in your budget.",
        admin_message="The member cancelled it before it was sent to Rivya, and its reservation "
        "was released.",
    ),
    STOPPED_WAITING: ErrorPolicy(
        retry=False,
        member_message="You stopped waiting for this image, and its credits are back in your "
        "budget. Rivya had already started it and cannot be asked to stop: if it finishes after "
        "all, the image will appear here and its credits will be charged then.",
        admin_message="The member stopped waiting after it was sent to Rivya, and its "
        "reservation was released. The late check keeps looking for Rivya's result for a day; "
        "if it comes, the release becomes the charge.",
    ),
}
UNKNOWN_ERROR = ErrorPolicy(
    retry=False,
    member_message="Rivya refused this request ({code}). Please tell an admin; nothing was "
    "charged.",
    admin_message="Rivya answered with an error code this app does not know: {code}: {message}",
)

# Read from the table, for database queries that need the codes themselves.
ADMIN_CODES = frozenset(code for code, policy in ERROR_POLICIES.items() if policy.needs_admin)


def policy_for(code: str) -> ErrorPolicy:
    return ERROR_POLICIES.get(code, UNKNOWN_ERROR)
