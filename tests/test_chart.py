"""The server-drawn chart (generations/chart.py): series, scale and its table twin."""

from __future__ import annotations

from datetime import date, timedelta

from generations import chart

DAYS = [date(2026, 3, 1) + timedelta(days=n) for n in range(3)]


def cell(day: int, member: str, charged: int) -> dict[str, object]:
    return {"day": DAYS[day], "member": member, "charged": charged}


def test_it_stacks_each_days_series_from_the_baseline_up():
    drawn = chart.stacked(DAYS, [cell(0, "alice", 6), cell(0, "bob", 4)], "member", "charged")
    first, second = drawn.segments
    assert float(first.y) + float(first.height) == drawn.baseline
    assert abs(float(second.y) + float(second.height) - float(first.y)) < 0.11
    assert [t.label for t in drawn.y_ticks] == ["0", "2", "4", "6", "8", "10"]


def test_it_keeps_the_largest_series_and_puts_the_rest_in_others():
    cells = [cell(1, f"member-{n}", 10 + n) for n in range(9)]
    drawn = chart.stacked(DAYS, cells, "member", "charged")
    names = [s.name for s in drawn.series]
    assert len(names) == len(chart.PALETTE)  # six colours and grey for the others
    assert names[0] == "member-8"
    assert names[-1] == "Others"
    assert drawn.series[-1].total == 10 + 11 + 12  # the three smallest
    assert drawn.rows[0].total == sum(10 + n for n in range(9))


def test_a_period_with_nothing_spent_is_an_empty_chart():
    drawn = chart.stacked(DAYS, [cell(0, "alice", 0)], "member", "charged")
    assert drawn.empty
    assert drawn.rows == []


def test_a_top_is_one_two_or_five_times_a_power_of_ten():
    assert [chart.nice_ceiling(n) for n in (0, 1, 3, 8, 11, 40, 260, 5000)] == [
        1,
        1,
        5,
        10,
        20,
        50,
        500,
        5000,
    ]
