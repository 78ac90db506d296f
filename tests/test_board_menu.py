"""The "Add to board" menu as a card or the detail page draws it: ``{% board_menu generation %}``
(generations/templatetags/board_menu.py) over ``generations/_board_menu.html``."""

from __future__ import annotations

import pytest
from django.template import RequestContext, Template
from django.test import RequestFactory

from generations.models import Board, BoardItem
from tests.rows import generation
from tests.support import page_text

pytestmark = pytest.mark.django_db


def draw(source: str, user, **context) -> str:
    request = RequestFactory().get("/generations/7/?who=mine")
    request.user = user
    return Template("{% load board_menu %}" + source).render(RequestContext(request, context))


def test_it_offers_every_board_by_name_as_a_button_that_works_without_javascript(alice, bob):
    first = Board.objects.create(name="logos", maker=alice)
    second = Board.objects.create(name="Autumn", maker=bob)
    row = generation(bob)
    html = page_text(draw("{% board_menu g %}", alice, g=row))
    assert html.index("Add to Autumn") < html.index("Add to logos")
    for board in (first, second):
        assert f'formaction="/boards/{board.pk}/add/" hx-post="/boards/{board.pk}/add/"' in html
    assert f'<input type="hidden" name="generation" value="{row.pk}">' in html
    assert '<input type="hidden" name="next" value="/generations/7/?who=mine">' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert f'hx-target="#board-menu-{row.pk}"' in html
    assert 'href="/boards/#new-board">New board</a>' in html


def test_it_reads_the_boards_once_for_a_whole_page_of_cards(alice, django_assert_num_queries):
    Board.objects.create(name="Logos", maker=alice)
    rows = [generation(alice) for _ in range(3)]
    with django_assert_num_queries(1):
        html = draw("{% for g in rows %}{% board_menu g %}{% endfor %}", alice, rows=rows)
    assert html.count("Add to Logos") == 3


def test_a_page_of_cards_draws_the_board_buttons_once(alice, monkeypatch):
    """A team with many boards pays for them once per page, not once per card."""
    from django.template import loader as template_loader

    from generations.templatetags import board_menu

    for name in ("Logos", "Autumn", "Canals"):
        Board.objects.create(name=name, maker=alice)
    drawn: list[str] = []
    real = template_loader.render_to_string

    def counted(name: str, *args: object, **kwargs: object) -> str:
        drawn.append(name)
        return real(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(board_menu, "render_to_string", counted)
    rows = [generation(alice) for _ in range(4)]
    html = draw("{% for g in rows %}{% board_menu g %}{% endfor %}", alice, rows=rows)
    assert len(drawn) == 1
    assert html.count("Add to Canals") == 4
    for row in rows:  # each card's own form still names its own image
        assert f'<input type="hidden" name="generation" value="{row.pk}">' in html


def test_with_membership_it_offers_to_remove_from_the_boards_it_is_on(alice):
    on, off = Board.objects.create(name="On it"), Board.objects.create(name="Not on it")
    row = generation(alice)
    BoardItem.objects.create(board=on, generation=row)
    html = draw("{% board_menu g membership=True %}", alice, g=row)
    assert f'formaction="/boards/{on.pk}/remove/"' in html
    assert "Remove from On it" in html
    assert "Add to Not on it" in html
    assert f'formaction="/boards/{off.pk}/add/"' in html


def test_it_says_when_there_are_no_boards(alice):
    html = draw("{% board_menu g %}", alice, g=generation(alice))
    assert "There are no boards yet." in html
    assert "New board" in html
