"""``{% reuse_actions generation %}``: the controls that make an image again or end it early
(``generations/_reuse_actions.html``), for a card's menu and the detail page.

Which controls a member sees is decided here, once: "Reuse settings", "Same settings, new seed"
and "Copy prompt" for anyone's image; "Retry" for their own failed one; "Cancel" for their own
that was never sent to Rivya, "Stop waiting" for their own unfinished one that was. For a request
of several images (``generation`` is its lead): retry when every image failed; cancel while one
is not sent yet, then stop waiting for the others. The view
checks the same things again (a page may be out of date). ``page="detail"`` draws plain forms
that come back to the page; on a card (the default) htmx swaps the card, or puts a retried
image's new card at the top of ``#history-list``.
"""

from __future__ import annotations

import uuid
from typing import Any

from django import template

from generations import lifecycle
from generations.models import Generation

register = template.Library()


@register.inclusion_tag("generations/_reuse_actions.html", takes_context=True)
def reuse_actions(
    context: template.Context, generation: Generation, page: str = "card"
) -> dict[str, Any]:
    request = context.get("request")
    user = context.get("user")
    mine = user is not None and generation.user_id == user.pk
    unfinished = [g for g in generation.batch.members if not g.is_finished]
    unsent = any(lifecycle.never_sent(g) for g in unfinished)
    return {
        "generation": generation,
        "on_card": page != "detail",
        "may_retry": mine and generation.batch.all_failed,
        "may_cancel": mine and unsent,
        "may_stop": mine and bool(unfinished) and not unsent,
        # New each time the button is drawn: a double click makes one new generation.
        "retry_token": uuid.uuid4(),
        "next": request.get_full_path() if request is not None else "",
    }
