"""Business days of a Japanese public office: no weekends, public holidays or the year-end closure (pure).

Public holidays (国民の祝日, 振替休日, 国民の休日) come from `jpholiday`, which
implements the Act on National Holidays by rule and carries the one-off
changes (e.g. the 2020/2021 Olympic moves), so nothing here needs a yearly
table. The year-end closure (年末年始, 12/29-1/3) is a closure of public
offices, not a public holiday, so it is added here.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import jpholiday

from chalicelib.core.receipt import JST

# 12/29-12/31 and 1/1-1/3 (行政機関の休日に関する法律 第1条).
YEAR_END_CLOSURE = frozenset({(12, 29), (12, 30), (12, 31), (1, 1), (1, 2), (1, 3)})


def jst_date(moment: datetime) -> date:
    """The calendar day in Japan of an aware moment."""
    return moment.astimezone(JST).date()


def is_business_day(day: date) -> bool:
    if day.weekday() >= 5:
        return False
    if (day.month, day.day) in YEAR_END_CLOSURE:
        return False
    return not jpholiday.is_holiday(day)


def business_days_between(start: date, end: date) -> int:
    """Business days after `start` up to and including `end` (0 when end <= start).

    A case updated on a Friday and looked at on the next Monday has been idle
    one business day; one updated and looked at the same day, none.
    """
    count = 0
    day = start
    while day < end:
        day += timedelta(days=1)
        if is_business_day(day):
            count += 1
    return count


def add_business_days(day: date, n: int) -> date:
    """The n-th business day after `day` (n >= 0; n == 0 gives `day` itself)."""
    if n < 0:
        raise ValueError("n must not be negative")
    while n > 0:
        day += timedelta(days=1)
        if is_business_day(day):
            n -= 1
    return day


def first_business_day(year: int, month: int) -> date:
    """The first business day of a month (e.g. 2027-01-04 after the closure)."""
    day = date(year, month, 1)
    while not is_business_day(day):
        day += timedelta(days=1)
    return day


def previous_month(day: date) -> str:
    """The month before `day`'s month, as YYYY-MM (the statistics month format)."""
    last = day.replace(day=1) - timedelta(days=1)
    return f"{last.year:04d}-{last.month:02d}"
