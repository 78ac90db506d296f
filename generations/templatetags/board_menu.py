"""``{% board_menu generation %}``: the "Add to board" menu (``generations/_board_menu.html``)
for one image, wherever a card or a detail page is drawn, without each view gathering the boards.

The list of boards is read once per request and kept on the request, so a page of 24 cards costs
one query, not 24; so are its buttons (``_board_buttons.html``), drawn once and put in every
card's menu, so that a team with many boards does not pay for each board on each card.
``{% board_menu generation membership=True %}`` (the detail page) also reads which boards the
image is on (one more query), so those offer "Remove from" instead of "Add to".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django import template
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from generations import boards
from generations.models import Board, Generation

register = template.Library()

CACHE_ATTRIBUTE = "_board_menu_boards"
BUTTONS_ATTRIBUTE = "_board_menu_buttons"
T = TypeVar("T")


def once_per_request(request: HttpRequest | None, attribute: str, make: Callable[[], T]) -> T:
    """``make()``, made at most once per request and kept on it (without a request, each time)."""
    if request is None:
        return make()
    if not hasattr(request, attribute):
        setattr(request, attribute, make())
    kept: T = getattr(request, attribute)
    return kept


def boards_of_request(request: HttpRequest | None) -> list[Board]:
    """Every board, read at most once per request (a board made during the request is not
    offered until the next one, which is soon enough)."""
    return once_per_request(request, CACHE_ATTRIBUTE, boards.all_boards)


@register.inclusion_tag("generations/_board_menu.html", takes_context=True)
def board_menu(
    context: template.Context, generation: Generation, membership: bool = False
) -> dict[str, Any]:
    request = context.get("request")
    menu: dict[str, Any] = {
        "generation": generation,
        "boards": boards_of_request(request),
        "request": request,
    }
    if membership:
        menu["on_board_ids"] = boards.boards_holding(generation)
    else:
        menu["board_buttons"] = buttons_of_request(request, menu["boards"])
    return menu


def buttons_of_request(request: HttpRequest | None, every_board: list[Board]) -> SafeString:
    """Every board as an "Add to" button, drawn at most once per request (in the request's
    language: a request has one)."""
    return once_per_request(
        request,
        BUTTONS_ATTRIBUTE,
        lambda: render_to_string("generations/_board_buttons.html", {"boards": every_board}),
    )
