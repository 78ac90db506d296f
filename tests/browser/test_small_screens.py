"""At 320 px wide no page scrolls sideways (issue 13), for a member and an admin, in English and
Thai: the widest content each page has (a request of three images, a board, the usage tables)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from generations.models import Board, BoardItem, MemberPreference, Status
from tests.rows import batch

pytestmark = [pytest.mark.browser]


@pytest.fixture
def content(alice, bob):
    request = batch(alice, Status.SUCCEEDED, Status.SUCCEEDED, Status.SUCCEEDED)
    board = Board.objects.create(name="A board with a rather long name for a phone", maker=alice)
    BoardItem.objects.create(board=board, generation=request[0], added_by=alice)
    return {"detail": f"/generations/{request[0].pk}/", "board": f"/boards/{board.pk}/"}


@pytest.mark.parametrize("language", ["en", "th"])
@pytest.mark.parametrize("who", ["alice", "charlie"])  # a member, and an admin
def test_no_page_scrolls_sideways_at_320_px(content, live_server, new_page, language, who, request):
    user = request.getfixturevalue(who)
    MemberPreference.objects.update_or_create(user=user, defaults={"language": language})
    page = new_page(user)
    page.set_viewport_size({"width": 320, "height": 700})
    paths = ["/", content["detail"], "/boards/", content["board"], "/usage/me/"]
    if user.is_staff:
        paths.append("/usage/")
    for path in paths:
        page.goto(f"{live_server.url}{path}")
        expect(page.locator("html")).to_have_attribute("lang", language)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 320, f"{path} is {width} px wide in {language}"
