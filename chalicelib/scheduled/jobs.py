"""Use cases: the daily digest, reminders for idle cases and the monthly summary, through the outbox.

Each runs on business days only and is idempotent for its period: message
ids come from the day (or month) and the recipient, and the store writes a
message only if its id is new, so a retried or repeated job sends nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib.core import monthly as reports
from chalicelib.core.calendar import (
    first_business_day,
    is_business_day,
    jst_date,
    previous_month,
)
from chalicelib.core.case import OutgoingMessage
from chalicelib.core.ports import Desk
from chalicelib.core.settings import Settings
from chalicelib.core.timefmt import iso
from chalicelib.scheduled import mail as digest


class ScheduledMailStore(Protocol):
    def open_cases(self, now_epoch: int | None = None) -> list[dict[str, Any]]: ...

    def held_cases(self, now_epoch: int | None = None) -> list[dict[str, Any]]: ...

    def enqueue(
        self, messages: list[OutgoingMessage], receipt_number: str, now: str, expires_at: int
    ) -> int: ...

    def month_counters(self, month: str) -> dict[str, int]: ...


@dataclass(frozen=True)
class JobReport:
    due: bool  # False: not a business day (or not yet the summary's day)
    cases: int = 0  # cases the mail is about
    enqueued: int = 0  # messages newly put in the outbox (0 on a repeated run)


def _expires_at(settings: Settings, now: datetime) -> int:
    return int((now + timedelta(days=settings.mail_retention_days)).timestamp())


def daily_digest(
    store: ScheduledMailStore,
    desk: Desk,
) -> JobReport:
    """One digest of the open cases per desk address (the staff who are notified), on business days,
    with the cases kept as suspected spam listed apart for release or discard."""
    settings, now, staff = desk.settings, desk.now, desk.staff
    today = jst_date(now)
    if not is_business_day(today):
        return JobReport(due=False)
    cases = store.open_cases(int(now.timestamp()))
    receipt, messages = digest.digest_messages(
        cases,
        today=today,
        idle_limit=settings.reminder_idle_business_days,
        staff=staff.notify_to,
        held=store.held_cases(int(now.timestamp())),
        actors=frozenset(address.lower() for address in staff.act_by_email),
    )
    enqueued = store.enqueue(messages, receipt, iso(now), _expires_at(settings, now))
    return JobReport(due=True, cases=len(cases), enqueued=enqueued)


def idle_reminders(
    store: ScheduledMailStore,
    desk: Desk,
) -> JobReport:
    """A reminder for each open case idle longer than REMINDER_IDLE_BUSINESS_DAYS, once a business day."""
    settings, now, staff = desk.settings, desk.now, desk.staff
    today = jst_date(now)
    if not is_business_day(today):
        return JobReport(due=False)
    stalled = 0
    enqueued = 0
    notify_to = staff.notify_to
    for case in store.open_cases(int(now.timestamp())):
        messages = digest.reminder_messages(
            case,
            today=today,
            idle_limit=settings.reminder_idle_business_days,
            staff=notify_to,
        )
        if not messages:
            continue
        stalled += 1
        # Under the case itself: the reminder threads with the case's other mail.
        enqueued += store.enqueue(
            messages, case["receipt_number"], iso(now), _expires_at(settings, now)
        )
    return JobReport(due=True, cases=stalled, enqueued=enqueued)


def monthly_summary(
    store: ScheduledMailStore,
    desk: Desk,
) -> JobReport:
    """Last month's numbers to DESK_MANAGER_TO, from the first business day of the month on.

    Due on every business day from then, and idempotent per month: a job that
    failed on the first business day catches up on the next run.
    """
    settings, now, staff = desk.settings, desk.now, desk.staff
    today = jst_date(now)
    if not is_business_day(today) or today < first_business_day(today.year, today.month):
        return JobReport(due=False)
    month = previous_month(today)
    # The same report the API answers (/admin/reports/monthly/<month>): one read, one function.
    report = reports.monthly_report(store, month)
    counters = {name: value for name, value in report.counters.items() if value}
    to = settings.desk_manager_to
    if to == settings.staff_notify_to:
        # No manager of its own (DESK_MANAGER_TO unset or the same list): the desk as it is now.
        to = staff.notify_to
    receipt, messages = digest.summary_messages(month, counters, to=to)
    enqueued = store.enqueue(messages, receipt, iso(now), _expires_at(settings, now))
    return JobReport(due=True, cases=report.total, enqueued=enqueued)
