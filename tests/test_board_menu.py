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


def test_it_offers_every_board_by_name_as_a_form_that_works_without_javascript(alice, bob):
    first = Board.objects.create(name="logos", maker=alice)
    second = Board.objects.create(name="Autumn", maker=bob)
    row = generation(bob)
    html = page_text(draw("{% board_menu g %}", alice, g=row))
    assert html.index("Add to Autumn") < html.index("Add to logos")
    for board in (first, second):
        assert f'action="/boards/{board.pk}/add/" hx-post="/boards/{board.pk}/add/"' in html
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


def test_with_membership_it_offers_to_remove_from_the_boards_it_is_on(alice):
    on, off = Board.objects.create(name="On it"), Board.objects.create(name="Not on it")
    row = generation(alice)
    BoardItem.objects.create(board=on, generation=row)
    html = draw("{% board_menu g membership=True %}", alice, g=row)
    assert f'action="/boards/{on.pk}/remove/"' in html
    assert "Remove from On it" in html
    assert "Add to Not on it" in html
    assert f'action="/boards/{off.pk}/add/"' in html


def test_it_says_when_there_are_no_boards(alice):
    html = draw("{% board_menu g %}", alice, g=generation(alice))
    assert "There are no boards yet." in html
    assert "New board" in html
