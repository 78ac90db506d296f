"""The history's filter (generations/gallery.py): what each parameter accepts and refuses, and
which rows it selects, on the database the tests run on (SQLite's FTS5 index, or PostgreSQL's
trigram index)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.db import connection
from django.http import QueryDict
from django.utils import timezone

from generations import gallery, search_index
from generations.models import Favorite, Generation, Status
from generations.views import visible_generations
from tests.rows import generation

pytestmark = pytest.mark.django_db


def form(query: str) -> gallery.HistoryFilter:
    return gallery.HistoryFilter(QueryDict(query))


def errors(query: str) -> dict[str, list[str]]:
    f = form(query)
    assert not f.is_valid()
    return {name: [str(m) for m in messages] for name, messages in f.errors.items()}


def found(user, query: str) -> list[str]:
    """The prompts the filter selects for ``user``, newest first."""
    history = gallery.find(QueryDict(query), user, visible_generations())
    assert history.valid, history.form.errors
    return [g.prompt for g in history.page(None, 100)]


# -- The form: every parameter, good and bad ---------------------------------------------------


def test_it_accepts_no_parameters_at_all():
    assert form("").is_valid()


def test_it_joins_the_words_of_a_search_with_single_spaces():
    f = form("q=%20red%09%20bicycle%0A")
    assert f.is_valid()
    assert f.cleaned_data["q"] == "red bicycle"


def test_it_refuses_a_search_longer_than_its_limit():
    assert "Search for at most 200 characters (you typed 201)." in errors("q=" + "a" * 201)["q"]


def test_it_refuses_more_than_eight_words():
    assert errors("q=" + "+".join(["word"] * 9))["q"] == ["Search for at most 8 words."]


def test_it_refuses_a_search_of_short_words_only():
    message = "Add a word of at least three letters: shorter words only narrow a search."
    assert errors("q=a+of")["q"] == [message]
    assert errors("q=คน")["q"] == [message]


def test_it_accepts_short_words_beside_a_longer_one():
    assert form("q=cat+on+a").is_valid()


def test_it_accepts_a_thai_word():
    f = form("q=แมวส้ม")
    assert f.is_valid()
    assert f.cleaned_data["q"] == "แมวส้ม"


@pytest.mark.parametrize("field", ["q", "member", "model"])
def test_it_refuses_a_null_character_in_its_own_words(field):
    message = "This has a null character in it, which no prompt or name can hold. Remove it."
    assert errors(f"{field}=red%00bicycle")[field] == [message]


def test_it_knows_a_member_by_username(alice):
    f = form("member=alice")
    assert f.is_valid()
    assert f.cleaned_data["member"] == alice


def test_it_refuses_a_member_who_is_not_in_the_team(alice):
    assert errors("member=mallory")["member"] == ["No member of the team is called “mallory”."]


def test_it_accepts_every_documented_model():
    for model in ("google-imagen4", "google-imagen4-fast", "google-imagen4-ultra"):
        assert form(f"model={model}").is_valid(), model


def test_it_accepts_an_older_model_still_in_the_history(alice):
    generation(alice, model="google-imagen4-preview")
    assert form("model=google-imagen4-preview").is_valid()


def test_it_refuses_a_model_nobody_used():
    message = "No image was made with a model called “dall-e-3”."
    assert errors("model=dall-e-3")["model"] == [message]


def test_it_refuses_a_model_name_too_long_to_be_one():
    assert "model" in errors("model=" + "x" * 65)


def test_it_accepts_every_ratio_and_refuses_others():
    for ratio in ("1:1", "16:9", "9:16", "3:4", "4:3"):
        assert form(f"ratio={ratio}").is_valid(), ratio
    assert errors("ratio=2:1")["ratio"] == ["Pick one of the shapes in the list."]


def test_it_accepts_the_three_statuses_and_refuses_others():
    for status in ("succeeded", "failed", "pending"):
        assert form(f"status={status}").is_valid(), status
    assert errors("status=queued")["status"] == ["Pick done, failed or in progress."]


def test_it_reads_dates():
    f = form("from=2025-03-01&to=2025-03-31")
    assert f.is_valid()
    assert (f.cleaned_data["from"], f.cleaned_data["to"]) == (date(2025, 3, 1), date(2025, 3, 31))


def test_it_reads_dates_in_thai_digits():
    f = form("from=๒๐๒๕-๐๓-๐๑")
    assert f.is_valid()
    assert f.cleaned_data["from"] == date(2025, 3, 1)


@pytest.mark.parametrize("text", ["yesterday", "2025/03/01", "01-03-2025", "2025-3-1", "20250301"])
def test_it_refuses_a_date_not_written_yyyy_mm_dd(text):
    assert errors(f"from={text}")["from"] == ["Enter a date as YYYY-MM-DD, for example 2025-03-31."]


def test_it_refuses_a_day_that_does_not_exist():
    assert errors("to=2025-02-30")["to"] == ["2025-02-30 is not a day of the calendar."]


def test_it_refuses_a_year_out_of_range():
    assert errors("from=1999-12-31")["from"] == ["Enter a date between 2000 and 2100."]
    assert errors("to=9999-01-01")["to"] == ["Enter a date between 2000 and 2100."]


def test_it_explains_a_buddhist_era_year():
    message = "Write the year in the Western calendar: 2568 is 2025."
    assert errors("from=๒๕๖๘-๐๓-๐๑")["from"] == [message]


def test_it_refuses_an_end_before_the_start():
    message = "The end date must be on or after the start date."
    assert errors("from=2025-03-31&to=2025-03-01")["to"] == [message]


def test_it_accepts_a_single_day():
    assert form("from=2025-03-01&to=2025-03-01").is_valid()


def test_it_takes_favorites_as_1_only():
    assert form("favorites=1").is_valid()
    assert "favorites" in errors("favorites=yes")


def test_it_takes_who_as_mine_or_everyone_only():
    assert form("who=mine").is_valid()
    assert form("who=everyone").is_valid()
    assert errors("who=theirs")["who"] == ["Show everyone's images or only yours."]


def test_it_reports_every_bad_value_at_once():
    assert set(errors("status=x&ratio=y&from=z")) == {"status", "ratio", "from"}


# -- The rows each parameter selects -----------------------------------------------------------


def test_it_finds_every_word_in_any_order_and_case(alice):
    generation(alice, prompt="A red Bicycle by a wall")
    generation(alice, prompt="A red car")
    assert found(alice, "q=bicycle+RED") == ["A red Bicycle by a wall"]


def test_it_finds_a_word_inside_another(alice):
    generation(alice, prompt="lighthouses at night")
    assert found(alice, "q=ghthou") == ["lighthouses at night"]


def test_it_finds_words_in_the_negative_prompt(alice):
    generation(alice, prompt="a harbour", negative_prompt="no watermark")
    generation(alice, prompt="a harbour")
    assert found(alice, "q=watermark") == ["a harbour"]


def test_it_finds_one_word_in_the_prompt_and_another_in_the_negative_prompt(alice):
    generation(alice, prompt="a harbour at dusk", negative_prompt="no boats")
    assert found(alice, "q=dusk+boats") == ["a harbour at dusk"]


def test_it_finds_thai_words_inside_a_sentence_without_spaces(alice):
    generation(alice, prompt="แมวส้มนอนบนโซฟาแสงยามเช้า")
    generation(alice, prompt="ช้างเดินในป่าฝน")
    assert found(alice, "q=โซฟา") == ["แมวส้มนอนบนโซฟาแสงยามเช้า"]
    assert found(alice, "q=แมว+ยามเช้า") == ["แมวส้มนอนบนโซฟาแสงยามเช้า"]
    assert found(alice, "q=แมว+ป่าฝน") == []


def test_it_folds_case_beyond_ascii(alice):
    generation(alice, prompt="CAFÉ ÉCLAIR")
    assert found(alice, "q=éclair") == ["CAFÉ ÉCLAIR"]


def test_it_narrows_with_a_short_word(alice):
    generation(alice, prompt="a cat on a mat")
    generation(alice, prompt="a cat in a hat")
    assert found(alice, "q=cat+on") == ["a cat on a mat"]


def test_it_narrows_with_a_short_thai_word(alice):
    generation(alice, prompt="คนขับรถตุ๊กตุ๊ก")
    generation(alice, prompt="รถตุ๊กตุ๊กว่าง")
    assert found(alice, "q=ตุ๊กตุ๊ก+คน") == ["คนขับรถตุ๊กตุ๊ก"]


@pytest.mark.parametrize(
    "q",
    ['"', '"red', 'red"', "bicycle*", "red OR bicycle", "NEAR(red", "^red", "prompt:red",
     "red AND", "NOT red", "(red)", "100%", "under_score", "back\\slash", "{red}", "'red'"],
)  # fmt: skip
def test_it_takes_operators_and_wildcards_as_plain_text(alice, q):
    generation(alice, prompt="a red bicycle")
    history = gallery.find(QueryDict(f"q={q}".replace("%", "%25")), alice, visible_generations())
    if not history.valid:
        assert "q" in history.form.errors
        return
    prompts = [g.prompt for g in history.page(None, 100)]
    words = history.form.cleaned_data["q"].split()
    every_word_there = all(w.lower() in "a red bicycle" for w in words)
    assert prompts == (["a red bicycle"] if every_word_there else [])


def test_it_matches_percent_and_underscore_literally(alice):
    generation(alice, prompt="sale 100% off")
    generation(alice, prompt="sale 1000 off")
    generation(alice, prompt="snake_case")
    generation(alice, prompt="snakeXcase")
    assert found(alice, "q=100%25") == ["sale 100% off"]
    assert found(alice, "q=e_c") == ["snake_case"]


def test_it_finds_a_quote_inside_a_word(alice):
    generation(alice, prompt='the "best" view')
    generation(alice, prompt="the best view")
    assert found(alice, 'q="best"') == ['the "best" view']


def test_it_finds_a_prompt_after_it_was_edited(alice):
    row = generation(alice, prompt="a green tram")
    Generation.objects.filter(pk=row.pk).update(prompt="a yellow tram")
    assert found(alice, "q=green") == []
    assert found(alice, "q=yellow") == ["a yellow tram"]


def test_it_filters_by_member(alice, bob):
    generation(alice, prompt="alice's")
    generation(bob, prompt="bob's")
    assert found(alice, "member=bob") == ["bob's"]


def test_it_filters_by_model_ratio_and_status(alice):
    generation(alice, prompt="fast wide", model="google-imagen4-fast", aspect_ratio="16:9")
    generation(alice, prompt="ultra tall", model="google-imagen4-ultra", aspect_ratio="9:16")
    generation(alice, Status.FAILED, prompt="failed tall", aspect_ratio="9:16")
    assert found(alice, "model=google-imagen4-fast") == ["fast wide"]
    assert found(alice, "ratio=9:16") == ["failed tall", "ultra tall"]
    assert found(alice, "status=failed") == ["failed tall"]
    assert found(alice, "status=succeeded&ratio=9:16") == ["ultra tall"]


def test_it_counts_every_unfinished_status_as_pending(alice):
    for status in (Status.QUEUED, Status.SENDING, Status.PROCESSING, Status.DOWNLOADING):
        generation(alice, status, prompt=status.value)
    generation(alice, prompt="done")
    generation(alice, Status.FAILED, prompt="failed")
    assert found(alice, "status=pending") == ["downloading", "processing", "sending", "queued"]


def test_it_filters_by_dates_from_start_to_end_of_day(alice):
    today = timezone.localdate()
    midnight = gallery.day_start(today)
    generation(alice, prompt="two days ago", created_at=midnight - timedelta(days=2))
    generation(alice, prompt="yesterday late", created_at=midnight - timedelta(seconds=1))
    generation(alice, prompt="today early", created_at=midnight)
    yesterday = (today - timedelta(days=1)).isoformat()
    assert found(alice, f"from={yesterday}&to={yesterday}") == ["yesterday late"]
    assert found(alice, f"from={yesterday}") == ["today early", "yesterday late"]
    assert found(alice, f"to={yesterday}") == ["yesterday late", "two days ago"]


def test_it_shows_only_my_stars(alice, bob):
    mine = generation(bob, prompt="starred by alice")
    theirs = generation(bob, prompt="starred by bob")
    generation(bob, prompt="nobody's")
    Favorite.objects.create(user=alice, generation=mine)
    Favorite.objects.create(user=bob, generation=theirs)
    assert found(alice, "favorites=1") == ["starred by alice"]


def test_it_marks_the_rows_i_starred(alice, bob):
    starred = generation(bob, prompt="starred")
    generation(bob, prompt="not starred")
    Favorite.objects.create(user=alice, generation=starred)
    Favorite.objects.create(user=bob, generation=Generation.objects.get(prompt="not starred"))
    history = gallery.find(QueryDict(""), alice, visible_generations())
    rows: Any = history.rows()  # annotated with ``starred``, which the type does not say
    assert dict(rows.values_list("prompt", "starred")) == {
        "starred": True,
        "not starred": False,
    }


def test_it_combines_every_filter(alice, bob):
    day = timezone.localdate() - timedelta(days=3)
    when = gallery.day_start(day) + timedelta(hours=12)
    fields: dict[str, Any] = {
        "model": "google-imagen4-ultra",
        "aspect_ratio": "4:3",
        "created_at": when,
    }
    wanted = generation(alice, prompt="แมว on a red sofa", **fields)
    generation(alice, prompt="แมว on a blue sofa", **fields)
    generation(bob, prompt="แมว on a red sofa", **fields)
    Favorite.objects.create(user=alice, generation=wanted)
    query = (
        f"q=red+แมว+on&member=alice&model=google-imagen4-ultra&ratio=4:3&status=succeeded"
        f"&from={day}&to={day}&favorites=1&who=mine"
    )
    assert found(alice, query) == ["แมว on a red sofa"]


@pytest.mark.parametrize(
    ("others", "few", "plan"),
    [
        ("", gallery.FEW_ROWS, search_index.Plan.INDEX_ORDER),
        ("&status=pending", gallery.FEW_ROWS, search_index.Plan.FILTER_ORDER),
        ("&status=pending", 1, search_index.Plan.INDEX_ORDER),
        ("&member=alice", gallery.FEW_ROWS, search_index.Plan.FILTER_ORDER),
        ("&member=alice", 1, search_index.Plan.INDEX_ORDER),
        ("&who=mine", gallery.FEW_ROWS, search_index.Plan.FILTER_ORDER),
        ("&who=mine", 1, search_index.Plan.INDEX_ORDER),
    ],
)
def test_it_finds_the_same_rows_whichever_way_it_reads_the_index(
    alice, bob, monkeypatch, others, few, plan
):
    monkeypatch.setattr(gallery, "FEW_ROWS", few)
    generation(alice, Status.QUEUED, prompt="a tram in the rain")
    generation(alice, Status.QUEUED, prompt="a bus in the rain")
    generation(bob, Status.QUEUED, prompt="bob's tram")
    generation(alice, prompt="a finished tram")
    history = gallery.find(QueryDict(f"q=tram{others}"), alice, visible_generations())
    if connection.vendor == "sqlite":
        assert history.search_plan(None) is plan
    expected = {
        "": ["a finished tram", "bob's tram", "a tram in the rain"],
        "&status=pending": ["bob's tram", "a tram in the rain"],
        "&member=alice": ["a finished tram", "a tram in the rain"],
        "&who=mine": ["a finished tram", "a tram in the rain"],
    }
    assert [g.prompt for g in history.page(None, 10)] == expected[others]
    rows = history.page(None, 10)
    assert [g.prompt for g in history.page(rows[0].pk, 10)] == expected[others][1:]


def test_it_never_shows_a_deleted_generation(alice):
    generation(alice, prompt="deleted bicycle", deleted_at=timezone.now())
    assert found(alice, "q=bicycle") == []


def test_it_pages_a_search_with_a_keyset(alice):
    rows = [generation(alice, Status.FAILED, prompt=f"tram {i}") for i in range(5)]
    generation(alice, Status.FAILED, prompt="bus")
    history = gallery.find(QueryDict("q=tram"), alice, visible_generations())
    first = history.page(None, 3)
    assert [g.pk for g in first] == [rows[4].pk, rows[3].pk, rows[2].pk]
    assert [g.pk for g in history.page(first[-1].pk, 3)] == [rows[1].pk, rows[0].pk]


def test_it_selects_nothing_when_a_value_is_wrong(alice):
    generation(alice, prompt="anything")
    history = gallery.find(QueryDict("status=nope"), alice, visible_generations())
    assert history.page(None, 10) == []


# -- Links ---------------------------------------------------------------------------------


def test_it_writes_a_link_with_only_the_valid_values_in_a_fixed_order(alice):
    query = "favorites=1&to=2025-03-31&q=red++bike&member=alice&model=&who=mine&from=๒๐๒๕-๐๓-๐๑"
    history = gallery.find(QueryDict(query), alice, visible_generations())
    assert history.query() == (
        "who=mine&q=red+bike&member=alice&from=2025-03-01&to=2025-03-31&favorites=1"
    )
    assert history.query(who="everyone").startswith("who=everyone&q=red+bike")


def test_it_keeps_who_alone_in_a_link_when_a_value_is_wrong(alice):
    history = gallery.find(QueryDict("who=mine&status=nope"), alice, visible_generations())
    assert history.query() == "who=mine"


# -- The index ---------------------------------------------------------------------------------


def test_it_quotes_a_word_for_fts5():
    assert search_index.fts_phrase('say "hi"') == '"say ""hi"""'


def test_it_escapes_like_wildcards():
    assert search_index.like_pattern("100%_\\") == "%100\\%\\_\\\\%"


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's triggers")
def test_it_puts_back_triggers_a_table_rebuild_dropped(alice):
    generation(alice, prompt="before the rebuild")
    with connection.cursor() as cursor:  # what Django's table rebuild does to them
        for name in search_index.SQLITE_TRIGGERS:
            cursor.execute(f"DROP TRIGGER {name}")
    generation(alice, prompt="made while the triggers were gone")
    assert found(alice, "q=gone") == []
    assert search_index.ensure_triggers() is True
    assert found(alice, "q=gone") == ["made while the triggers were gone"]
    generation(alice, prompt="made after it was put back")
    assert found(alice, "q=after") == ["made after it was put back"]
    assert search_index.ensure_triggers() is False


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner")
def test_it_searches_through_the_trigram_index_on_postgresql(alice):
    generation(alice, prompt="a red bicycle")
    rows = Generation.objects.filter(search_index.words_match(["bicycle", "แมว"], "postgresql"))
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a tiny table would be read whole
        plan = rows.order_by().explain()
    assert "Bitmap Index Scan on generation_search_trgm" in plan


def test_it_checks_the_dates_on_each_starred_row(alice):
    """With stars, the dates are checked row by row rather than as a list (SQLite's plan)."""
    today = timezone.localdate()
    for days, prompt in ((0, "starred today"), (10, "starred ten days ago")):
        row = generation(alice, prompt=prompt, created_at=timezone.now() - timedelta(days=days))
        Favorite.objects.create(user=alice, generation=row)
    generation(alice, prompt="not starred")
    week_ago = today - timedelta(days=7)
    assert found(alice, f"favorites=1&from={week_ago}") == ["starred today"]
    assert found(alice, f"favorites=1&to={week_ago}") == ["starred ten days ago"]
