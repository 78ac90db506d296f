"""The history on / with its filters: each parameter, together, through paging and htmx, and
bad values that answer 400 with the message beside the field (never 500)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from generations.models import Favorite, Status
from generations.views import PAGE_SIZE
from tests.rows import batch, generation
from tests.support import page_text

pytestmark = pytest.mark.django_db

HISTORY = {"HX-Request": "true", "HX-Target": "history"}
FILTER_BAR = {**HISTORY, "HX-Trigger": "history-filter"}


def shown(response) -> list[str]:
    assert response.status_code == 200, response.content.decode()[:2000]
    return [g.prompt for g in response.context["generations"]]


def test_it_searches_prompts_in_english(alice, bob, alice_client):
    generation(alice, prompt="a red bicycle against a wall")
    generation(bob, prompt="a blue car", negative_prompt="no bicycles")
    generation(bob, prompt="a harbour")
    response = alice_client.get("/?q=Bicycle")
    assert shown(response) == ["a blue car", "a red bicycle against a wall"]


def test_it_searches_prompts_in_thai(alice, alice_client):
    generation(alice, prompt="ตลาดน้ำยามเช้า ภาพสีน้ำมัน")
    generation(alice, prompt="ช้างเดินในป่าฝน")
    assert shown(alice_client.get("/?q=ยามเช้า")) == ["ตลาดน้ำยามเช้า ภาพสีน้ำมัน"]


def test_it_filters_by_member(alice, bob, alice_client):
    generation(alice, prompt="alice's")
    generation(bob, prompt="bob's")
    assert shown(alice_client.get("/?member=bob")) == ["bob's"]


def test_it_filters_by_model(alice, alice_client):
    generation(alice, prompt="fast", model="google-imagen4-fast")
    generation(alice, prompt="standard")
    assert shown(alice_client.get("/?model=google-imagen4-fast")) == ["fast"]


def test_it_filters_by_ratio(alice, alice_client):
    generation(alice, prompt="tall", aspect_ratio="9:16")
    generation(alice, prompt="square")
    assert shown(alice_client.get("/?ratio=9:16")) == ["tall"]


def test_it_filters_by_status(alice, alice_client):
    generation(alice, Status.PROCESSING, prompt="making")
    generation(alice, Status.FAILED, prompt="failed")
    generation(alice, prompt="done")
    assert shown(alice_client.get("/?status=succeeded")) == ["done"]
    assert shown(alice_client.get("/?status=failed")) == ["failed"]
    assert shown(alice_client.get("/?status=pending")) == ["making"]


def test_it_filters_by_dates(alice, alice_client):
    today = timezone.localdate()
    generation(alice, prompt="last week", created_at=timezone.now() - timedelta(days=7))
    generation(alice, prompt="today")
    week_ago = (today - timedelta(days=7)).isoformat()
    assert shown(alice_client.get(f"/?from={today}")) == ["today"]
    assert shown(alice_client.get(f"/?to={week_ago}")) == ["last week"]
    assert shown(alice_client.get(f"/?from={week_ago}&to={today}")) == ["today", "last week"]


def test_it_filters_by_my_stars(alice, bob, alice_client):
    mine = generation(bob, prompt="starred by me")
    generation(bob, prompt="not starred")
    Favorite.objects.create(user=alice, generation=mine)
    assert shown(alice_client.get("/?favorites=1")) == ["starred by me"]


def test_it_still_shows_only_mine(alice, bob, alice_client):
    generation(alice, prompt="alice's")
    generation(bob, prompt="bob's")
    response = alice_client.get("/?who=mine")
    assert shown(response) == ["alice's"]
    assert "My images" in response.content.decode()


def test_it_combines_the_filters(alice, bob, alice_client):
    today = timezone.localdate().isoformat()
    wanted = generation(bob, prompt="แมว on a red sofa", aspect_ratio="3:4")
    generation(bob, prompt="แมว on a red sofa")
    generation(bob, Status.FAILED, prompt="แมว on a red sofa", aspect_ratio="3:4")
    generation(alice, prompt="แมว on a red sofa", aspect_ratio="3:4")
    Favorite.objects.create(user=alice, generation=wanted)
    query = (
        f"q=sofa+แมว&member=bob&model=google-imagen4&ratio=3:4&status=succeeded"
        f"&from={today}&to={today}&favorites=1"
    )
    assert [g.pk for g in alice_client.get(f"/?{query}").context["generations"]] == [wanted.pk]


def test_it_shows_the_values_back_in_the_filter_bar(alice, bob, alice_client):
    body = page_text(alice_client.get("/?q=red+bike&member=bob&ratio=9:16&favorites=1"))
    assert 'id="history-filter"' in body
    assert 'value="red bike"' in body
    assert '<option value="bob" selected>bob</option>' in body
    assert '<option value="9:16" selected>' in body
    assert 'name="favorites" value="1" id="filter-favorites" checked' in body
    assert "Clear filters" in body


def test_it_shows_a_thai_digit_date_back_as_yyyy_mm_dd(alice_client):
    body = alice_client.get("/?from=๒๐๒๕-๐๓-๐๑").content.decode()
    assert 'value="2025-03-01"' in body


def test_it_offers_no_clear_link_without_filters(alice_client):
    assert "Clear filters" not in alice_client.get("/").content.decode()


def test_it_keeps_the_filters_through_keyset_pages(alice, bob, alice_client):
    rows = [generation(alice, Status.FAILED, prompt=f"tram number {i}") for i in range(30)]
    generation(bob, Status.FAILED, prompt="tram by bob")
    first = alice_client.get("/?q=tram&member=alice")
    last_shown = rows[30 - PAGE_SIZE].pk
    older = f"?who=everyone&amp;q=tram&amp;member=alice&amp;before={last_shown}"
    assert f'href="{older}"' in first.content.decode()

    second = alice_client.get(f"/?who=everyone&q=tram&member=alice&before={last_shown}")
    assert shown(second) == [f"tram number {i}" for i in range(30 - PAGE_SIZE - 1, -1, -1)]
    assert 'href="?who=everyone&amp;q=tram&amp;member=alice" hx-get=' in page_text(second)
    assert ">Older<" not in second.content.decode()


def test_it_answers_the_filter_bar_with_the_history_and_a_clean_url(alice, alice_client):
    generation(alice, prompt="a red tram")
    response = alice_client.get(
        "/?who=everyone&q=tram&member=&model=&ratio=&status=&from=&to=", headers=FILTER_BAR
    )
    assert shown(response) == ["a red tram"]
    assert response.content.decode().lstrip().startswith('<section id="history"')
    assert response.headers["HX-Push-Url"] == "/?who=everyone&q=tram"


def test_it_leaves_the_url_of_a_pager_link_alone(alice, alice_client):
    response = alice_client.get("/?who=mine&before=5", headers=HISTORY)
    assert "HX-Push-Url" not in response.headers


def test_it_costs_the_same_queries_on_every_page(alice, alice_client):
    rows = [generation(alice, Status.FAILED, prompt=f"tram {i}") for i in range(60)]
    query = "q=tram+ra&member=alice&model=google-imagen4&ratio=1:1&status=failed&favorites=1"
    for row in rows:
        Favorite.objects.create(user=alice, generation=row)
    counts = []
    alice_client.get(f"/?{query}", headers=HISTORY)  # warm: what workers kept of Rivya is read
    for before in ("", f"&before={rows[40].pk}", f"&before={rows[10].pk}"):
        with CaptureQueriesContext(connection) as ctx:
            assert alice_client.get(f"/?{query}{before}", headers=HISTORY).status_code == 200
        counts.append(len(ctx.captured_queries))
    assert len(set(counts)) == 1, counts


# -- Bad values: 400 with the message beside the field ----------------------------------------


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("q=" + "a" * 201, "q", "Search for at most 200 characters (you typed 201)."),
        ("q=a+b+c+d+e+f+g+h+i+j+k", "q", "Search for at most 8 words."),
        ("q=ab", "q", "Add a word of at least three letters"),
        ("member=mallory", "member", "No member of the team is called “mallory”."),
        ("model=dall-e", "model", "No image was made with a model called “dall-e”."),
        ("ratio=2:1", "ratio", "Pick one of the shapes in the list."),
        ("status=done", "status", "Pick done, failed or in progress."),
        ("from=31/03/2025", "from", "Enter a date as YYYY-MM-DD, for example 2025-03-31."),
        ("to=2025-02-30", "to", "2025-02-30 is not a day of the calendar."),
        ("from=1970-01-01", "from", "Enter a date between 2000 and 2100."),
        ("from=2568-01-01", "from", "Write the year in the Western calendar: 2568 is 2025."),
        ("from=2025-03-02&to=2025-03-01", "to", "The end date must be on or after the start date."),
        ("favorites=yes", "favorites", "Tick the box, or leave it empty"),
        ("who=all", "who", "Show everyone&#x27;s images or only yours."),
    ],
)
def test_it_answers_400_with_the_message_beside_the_field(
    alice, alice_client, query, field, message
):
    generation(alice, prompt="must not be shown")
    response = alice_client.get(f"/?{query}")
    body = response.content.decode()
    assert response.status_code == 400
    assert f'<p class="field-error" id="filter-{field}_error">{message}' in body
    assert "must not be shown" not in body
    assert 'id="generate-form"' in body  # the page itself still works


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("q=" + "a" * 201, "q", "ค้นหาได้ไม่เกิน 200 ตัวอักษร (ที่พิมพ์มามี 201 ตัวอักษร)"),
        ("q=ab", "q", "ใส่คำที่ยาวอย่างน้อยสามตัวอักษรด้วย"),
        ("q=a%00b", "q", "ข้อความนี้มีอักขระ null"),
        ("member=mallory", "member", "ไม่มีสมาชิกในทีมชื่อ “mallory”"),
        ("model=dall-e", "model", "ไม่มีภาพที่สร้างด้วยโมเดลชื่อ “dall-e”"),
        ("ratio=2:1", "ratio", "เลือกสัดส่วนภาพจากในรายการ"),
        ("status=done", "status", "เลือกสถานะ เสร็จแล้ว ไม่สำเร็จ หรือกำลังสร้าง"),
        ("from=31/03/2025", "from", "ใส่วันที่แบบ ปปปป-ดด-วว (ปี ค.ศ.) เช่น 2025-03-31"),
        ("to=๒๐๒๕-๐๒-๓๐", "to", "ไม่มีวันที่ 2025-02-30 ในปฏิทิน"),
        ("from=1970-01-01", "from", "ใส่วันที่ในช่วงปี ค.ศ. 2000 ถึง 2100"),
        ("from=2568-01-01", "from", "ใช้ปี ค.ศ. นะ: พ.ศ. 2568 ตรงกับ ค.ศ. 2025"),
        ("from=2025-03-02&to=2025-03-01", "to", "วันที่สิ้นสุดต้องไม่อยู่ก่อนวันที่เริ่มต้น"),
        ("favorites=yes", "favorites", "ติ๊กช่องนี้ หรือเว้นว่างไว้เพื่อดูภาพของทุกคน"),
        ("who=all", "who", "เลือกดูภาพของทุกคน หรือเฉพาะภาพของคุณ"),
    ],
)
def test_a_thai_member_reads_the_message_in_thai(alice, alice_thai_client, query, field, message):
    generation(alice, prompt="must not be shown")
    response = alice_thai_client.get(f"/?{query}")
    body = page_text(response)
    assert response.status_code == 400
    assert f'<p class="field-error" id="filter-{field}_error">{message}' in body
    assert "ใช้ตัวกรองบางตัวไม่ได้ ดูเหตุผลได้จากข้อความข้างตัวกรองนั้น" in body
    assert "must not be shown" not in body


def test_a_thai_member_sees_the_filter_bar_in_thai(alice, alice_thai_client):
    generation(alice, prompt="a heron")
    body = page_text(alice_thai_client.get("/?q=heron"))
    bar = body[
        body.index('<form id="history-filter"') : body.index(
            "</form>", body.index("history-filter")
        )
    ]
    assert 'aria-label="ค้นหาภาพ"' in bar
    for label in ("ค้นหาพรอมต์", "สมาชิก", "โมเดล", "สัดส่วนภาพ", "สถานะ", "ตั้งแต่", "ถึง"):
        assert f">{label}</label>" in bar
    assert 'placeholder="คำในพรอมต์ ภาษาไหนก็ได้"' in bar
    for choice in ("ทุกคน", "ทุกโมเดล", "ทุกสัดส่วน", "ทุกสถานะ", "เสร็จแล้ว", "ไม่สำเร็จ", "กำลังสร้าง"):
        assert f">{choice}</option>" in bar
    assert "ที่ฉันติดดาวไว้ </label>" in bar
    assert ">แสดงผล</button>" in bar
    assert ">ล้างตัวกรอง</a>" in bar
    for english in ("Search prompts", "Any ", "Starred by me", ">Show<", "Clear filters"):
        assert english not in bar


def test_it_points_the_wrong_field_at_its_message(alice_client):
    body = alice_client.get("/?status=nope").content.decode()
    assert 'aria-invalid="true" aria-describedby="filter-status_error"' in body


def test_it_answers_an_htmx_request_with_the_bar_and_its_messages(alice_client):
    response = alice_client.get("/?q=x&ratio=7:5", headers=FILTER_BAR)
    body = response.content.decode()
    assert response.status_code == 400
    assert body.lstrip().startswith('<section id="history"')
    assert 'id="filter-q_error"' in body
    assert 'id="filter-ratio_error"' in body
    assert "HX-Push-Url" not in response.headers


@pytest.mark.parametrize(
    "query",
    [
        "q=%00",
        "q=red%00bike",
        "member=%00",
        "model=%00",
        "from=%00",
        "q=%FF%FE",
        "from=2025-13-01",
        "from=0000-00-00",
        "to=99999-01-01",
        "from=%E0%B9%92%E0%B9%95",
        "q=" + "%22" * 50,
        "q=NEAR(a+b)+OR+%22",
        "member=" + "x" * 1000,
        "status=pending&status=failed",
        "favorites=1&favorites=0",
    ],
)
def test_it_never_answers_500(alice_client, query):
    assert alice_client.get(f"/?{query}").status_code in (200, 400)


# -- The same queries however many rows -------------------------------------------------------

DAY = timezone.localdate().isoformat()
ONE_OF_EACH = "q=tram+แมวส้ม&member=alice&model=google-imagen4&ratio=1:1&status=failed"


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("", Status.FAILED),
        ("q=tram", Status.FAILED),
        ("q=แมวส้ม", Status.FAILED),
        ("q=tram+แมวส้ม", Status.FAILED),
        ("q=tram&member=alice", Status.FAILED),
        ("member=alice", Status.FAILED),
        ("model=google-imagen4", Status.FAILED),
        ("ratio=1:1", Status.FAILED),
        ("status=succeeded", Status.SUCCEEDED),
        ("status=failed", Status.FAILED),
        ("status=pending", Status.QUEUED),
        (f"from={DAY}&to={DAY}", Status.FAILED),
        ("favorites=1", Status.FAILED),
        ("who=mine", Status.FAILED),
        (f"{ONE_OF_EACH}&from={DAY}&to={DAY}&favorites=1&who=mine", Status.FAILED),
    ],
)
def test_it_costs_the_same_queries_for_one_row_as_for_thirty(alice, alice_client, query, status):
    counts = []
    for more in (1, 29):
        for _ in range(more):
            row = generation(
                alice, status, prompt="a tram: แมวส้ม", model="google-imagen4", aspect_ratio="1:1"
            )
            Favorite.objects.create(user=alice, generation=row)
        alice_client.get(f"/?{query}")  # warm: what workers kept of Rivya is read
        with CaptureQueriesContext(connection) as ctx:
            response = alice_client.get(f"/?{query}")
        assert len(shown(response)) == min(Favorite.objects.count(), PAGE_SIZE)
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts


def test_it_reads_the_members_once_and_models_not_at_all_without_a_filter(alice, alice_client):
    generation(alice, Status.FAILED)
    alice_client.get("/")
    members = {}
    for query in ("", "member=alice"):
        with CaptureQueriesContext(connection) as ctx:
            shown(alice_client.get(f"/?{query}"))
        sql = [q["sql"] for q in ctx.captured_queries]
        members[query] = [s for s in sql if 'FROM "auth_user"' in s]
        team = [s for s in members[query] if 'ORDER BY "auth_user"."username"' in s]
        assert len(team) == 1, sql
        assert not [s for s in sql if '"generations_generation"."model" =' in s], sql
    assert len(members["member=alice"]) == len(members[""]), members  # no lookup by name


# -- The switch and the empty history ----------------------------------------------------------


def test_it_keeps_the_other_filters_in_the_switch_and_drops_the_cursor(alice, alice_client):
    body = alice_client.get("/?who=everyone&q=tram&status=failed&before=99").content.decode()
    assert 'href="?who=mine&amp;q=tram&amp;status=failed"' in body
    assert 'href="?who=everyone&amp;q=tram&amp;status=failed"' in body
    assert "before=99" not in body.split('class="switch"')[1].split("</nav>")[0]


def empty_words(response) -> str:
    """The words the history shows when it has no card (CSS shows them only then)."""
    return page_text(response).split('<p class="empty muted">')[1].split("</p>")[0].strip()


def test_it_says_when_the_filters_match_nothing_and_offers_to_clear_them(alice, alice_client):
    generation(alice, Status.FAILED, prompt="a bus")
    words = empty_words(alice_client.get("/?who=mine&q=tram"))
    assert words.startswith('No images match these filters. <a href="?who=mine"')
    assert words.endswith(">Clear filters</a>")


def test_it_keeps_the_empty_studio_words_without_a_filter(alice_client):
    words = empty_words(alice_client.get("/"))
    assert words == "No images yet. Write a prompt above to make the first one."


def test_it_lists_a_request_under_each_state_one_of_its_images_is_in(alice, alice_client):
    batch(alice, Status.SUCCEEDED, Status.FAILED, Status.PROCESSING, prompt="three ways")
    generation(alice, prompt="just done")
    assert shown(alice_client.get("/?status=succeeded")) == ["just done", "three ways"]
    assert shown(alice_client.get("/?status=failed")) == ["three ways"]
    assert shown(alice_client.get("/?status=pending")) == ["three ways"]
    assert shown(alice_client.get("/")) == ["just done", "three ways"]  # one card, not three
