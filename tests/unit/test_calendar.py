"""Business days in Japan: weekends, public holidays and the year-end closure are not counted."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from chalicelib.core.calendar import (
    add_business_days,
    business_days_between,
    first_business_day,
    is_business_day,
    jst_date,
    previous_month,
)


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2026, 11, 3), "文化の日"),
        (date(2026, 11, 23), "勤労感謝の日 (a Monday)"),
        (date(2027, 1, 11), "成人の日 (second Monday of January)"),
        (date(2026, 5, 6), "振替休日 for 憲法記念日 on a Sunday"),
        (date(2026, 9, 22), "国民の休日 between 敬老の日 and 秋分の日"),
        (date(2027, 2, 11), "建国記念の日"),
    ],
)
def test_public_holidays_are_not_business_days(day: date, name: str) -> None:
    assert day.weekday() < 5, name
    assert not is_business_day(day), name


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 12, 29),
        date(2026, 12, 30),
        date(2026, 12, 31),
        date(2027, 1, 1),
        date(2027, 1, 2),
    ],
)
def test_the_year_end_closure_is_not_business_days(day: date) -> None:
    assert not is_business_day(day)


def test_closure_ends_with_january_third_even_on_a_weekday() -> None:
    # 2029-01-03 is a Wednesday and no public holiday: closed all the same.
    assert date(2029, 1, 3).weekday() == 2
    assert not is_business_day(date(2029, 1, 3))
    assert is_business_day(date(2029, 1, 4))


def test_weekends_are_not_and_ordinary_weekdays_are_business_days() -> None:
    assert not is_business_day(date(2026, 11, 28))  # Saturday
    assert not is_business_day(date(2026, 11, 29))  # Sunday
    assert is_business_day(date(2026, 11, 26))  # Thursday
    assert is_business_day(date(2026, 12, 28))  # the last day before the closure


def test_business_days_between_counts_the_days_after_start_up_to_end() -> None:
    assert business_days_between(date(2026, 11, 26), date(2026, 11, 26)) == 0
    assert business_days_between(date(2026, 11, 26), date(2026, 11, 27)) == 1
    # Friday → Tuesday over a weekend and 勤労感謝の日 (Monday 11/23): one business day.
    assert business_days_between(date(2026, 11, 20), date(2026, 11, 24)) == 1
    assert business_days_between(date(2026, 11, 20), date(2026, 11, 27)) == 4
    # Across the closure: 12/28 (Mon) → 1/4 (Mon) is one business day.
    assert business_days_between(date(2026, 12, 28), date(2027, 1, 4)) == 1
    assert business_days_between(date(2026, 11, 27), date(2026, 11, 20)) == 0


def test_add_business_days_skips_holidays_and_the_closure() -> None:
    assert add_business_days(date(2026, 11, 20), 0) == date(2026, 11, 20)
    assert add_business_days(date(2026, 11, 20), 1) == date(2026, 11, 24)
    assert add_business_days(date(2026, 10, 30), 1) == date(2026, 11, 2)
    assert add_business_days(date(2026, 11, 2), 1) == date(2026, 11, 4)  # 11/3 文化の日
    assert add_business_days(date(2026, 12, 25), 2) == date(2027, 1, 4)
    assert add_business_days(date(2027, 1, 8), 1) == date(2027, 1, 12)  # 1/11 成人の日
    with pytest.raises(ValueError):
        add_business_days(date(2026, 11, 20), -1)


def test_add_and_between_agree() -> None:
    start = date(2026, 11, 1)
    for n in range(0, 60):
        assert business_days_between(start, add_business_days(start, n)) == n


def test_first_business_day_of_a_month() -> None:
    assert first_business_day(2026, 12) == date(2026, 12, 1)
    assert first_business_day(2027, 1) == date(2027, 1, 4)  # after the closure
    assert first_business_day(2026, 11) == date(2026, 11, 2)  # 11/1 is a Sunday
    assert first_business_day(2027, 5) == date(2027, 5, 6)  # after Golden Week


def test_the_day_is_the_day_in_japan() -> None:
    # 23:00 UTC on the 25th is 08:00 on the 26th in Japan (when the job runs).
    assert jst_date(datetime(2026, 11, 25, 23, 0, tzinfo=UTC)) == date(2026, 11, 26)


def test_previous_month() -> None:
    assert previous_month(date(2026, 12, 1)) == "2026-11"
    assert previous_month(date(2027, 1, 4)) == "2026-12"
