"""On a small screen no page scrolls sideways and no text is cut off (issue 13), for a member and
an admin, in English and Thai, with the widest content each page has (a request of three images,
a board, the usage tables). Two small screens: a phone 320 px wide, and a laptop's 1280 by 800
window zoomed to 200 %, which is a CSS viewport of 640 by 400 at two device pixels to a CSS pixel
(WCAG's reflow and resize-text checks)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from generations.models import Board, BoardItem, MemberPreference, Status
from tests.rows import batch

pytestmark = [pytest.mark.browser]

SCREENS = {
    "320px": {"width": 320, "height": 700, "scale": 1},
    "zoom200": {"width": 640, "height": 400, "scale": 2},
}

# Text laid out beyond the box of an ancestor that clips it (overflow hidden or clip): words a
# person cannot read. Boxes hidden on purpose (.visually-hidden) and text not drawn (a closed
# <details>, display: none) are left out; each finding names the box and the start of the text.
CLIPPED_TEXT = """() => {
  const found = [];
  const clips = (value) => value === "hidden" || value === "clip";
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
    + (typeof el.className === "string" && el.className.trim()
      ? "." + el.className.trim().split(/\\s+/).join(".") : "");
  for (const el of document.querySelectorAll("body *")) {
    const style = getComputedStyle(el);
    const clipsX = clips(style.overflowX), clipsY = clips(style.overflowY);
    if (!(clipsX || clipsY) || el.closest(".visually-hidden")) continue;
    if (!el.getClientRects().length) continue;
    const box = el.getBoundingClientRect();
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!node.textContent.trim() || !node.parentElement.checkVisibility()) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      const out = [...range.getClientRects()].some((r) => r.width > 0 && (
        (clipsX && (r.left < box.left - 1 || r.right > box.right + 1)) ||
        (clipsY && (r.top < box.top - 1 || r.bottom > box.bottom + 1))));
      if (out) {
        found.push(name(el) + ": " + node.textContent.trim().slice(0, 40));
        break;
      }
    }
  }
  return found;
}"""


@pytest.fixture
def content(alice, bob):
    request = batch(alice, Status.SUCCEEDED, Status.SUCCEEDED, Status.SUCCEEDED)
    board = Board.objects.create(name="A board with a rather long name for a phone", maker=alice)
    BoardItem.objects.create(board=board, generation=request[0], added_by=alice)
    return {"detail": f"/generations/{request[0].pk}/", "board": f"/boards/{board.pk}/"}


@pytest.mark.parametrize("screen", SCREENS)
@pytest.mark.parametrize("language", ["en", "th"])
@pytest.mark.parametrize("who", ["alice", "charlie"])  # a member, and an admin
def test_no_page_scrolls_sideways_or_cuts_text_off(
    content, live_server, new_page, screen, language, who, request
):
    user = request.getfixturevalue(who)
    MemberPreference.objects.update_or_create(user=user, defaults={"language": language})
    size = SCREENS[screen]
    page = new_page(user, device_scale_factor=size["scale"])
    page.set_viewport_size({"width": size["width"], "height": size["height"]})
    paths = ["/", content["detail"], "/boards/", content["board"], "/usage/me/"]
    if user.is_staff:
        paths.append("/usage/")
    for path in paths:
        page.goto(f"{live_server.url}{path}")
        expect(page.locator("html")).to_have_attribute("lang", language)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= size["width"], f"{path} is {width} px wide in {language} ({screen})"
        clipped = page.evaluate(CLIPPED_TEXT)
        assert clipped == [], f"{path} cuts text off in {language} ({screen}): {clipped}"
        page.evaluate("document.querySelectorAll('details').forEach((d) => { d.open = true; })")
        clipped = page.evaluate(CLIPPED_TEXT)
        assert clipped == [], f"{path} opened cuts text off in {language} ({screen}): {clipped}"
