"""Use cases: the daily digest, reminders for idle cases and the monthly summary, through the outbox.

Each runs on business days only and is idempotent for its period: message
ids come from the day (or month) and the recipient, and the store writes a
message only if its id is new, so a retried or repeated job sends nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol

from chalicelib.core import monthly as reports
from chalicelib.core import survey as surveys
from chalicelib.core.calendar import (
    first_business_day,
    is_business_day,
    jst_date,
    previous_month,
)
from chalicelib.core.case import OutgoingMessage, Status
from chalicelib.core.ports import Desk
from chalicelib.core.receipt import JST
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


class SurveyQueue(Protocol):
    def get_case(
        self, receipt_number: str, now_epoch: int | None = None
    ) -> dict[str, Any] | None: ...

    def pending_surveys(self, ended_before: str, now_epoch: int) -> list[dict[str, Any]]: ...

    def due_followups(self, low: str, high: str, now_epoch: int) -> list[dict[str, Any]]: ...

    def dequeue(
        self,
        survey: dict[str, Any],
        *,
        queue: str,
        messages: list[OutgoingMessage],
        at: str,
        mail_expires_at: int,
        counters: dict[str, int] | None = None,
    ) -> bool: ...


def _day_start(day: date) -> str:
    """The stored timestamp of 00:00 Japan time on `day`."""
    return iso(datetime.combine(day, time(0), tzinfo=JST))


def _askable(case: dict[str, Any] | None, statuses: frozenset[Status]) -> bool:
    """A requester who can still be asked: the case is live, not erased, ended as surveyed."""
    return bool(
        case
        and case.get("email")
        and not case.get("anonymised_at")
        and str(case.get("status")) in statuses
    )


def survey_reminders(store: SurveyQueue, desk: Desk) -> JobReport:
    """One reminder of an unanswered survey, SURVEY_REMINDER_BUSINESS_DAYS business days after
    the case ended (business days only). Each survey leaves the queue with its reminder in
    one write, so a repeated run sends nothing twice; an erased or withdrawn case leaves it
    without a mail."""
    settings, now = desk.settings, desk.now
    today = jst_date(now)
    if not is_business_day(today):
        return JobReport(due=False)
    cutoff = surveys.reminder_cutoff(today, settings.survey_reminder_business_days)
    now_epoch = int(now.timestamp())
    reminded = enqueued = 0
    for survey in store.pending_surveys(_day_start(cutoff + timedelta(days=1)), now_epoch):
        case = store.get_case(str(survey["receipt_number"]), now_epoch)
        messages = (
            surveys.reminder_messages(case)
            if case is not None and _askable(case, surveys.SURVEYED)
            else []
        )
        if store.dequeue(
            survey,
            queue="reminder",
            messages=messages,
            at=iso(now),
            mail_expires_at=_expires_at(settings, now),
        ):
            reminded += bool(messages)
            enqueued += len(messages)
    return JobReport(due=True, cases=reminded, enqueued=enqueued)


def followups(store: SurveyQueue, desk: Desk) -> JobReport:
    """The one follow-up mail FOLLOWUP_AFTER_MONTHS after 完了 (off with FOLLOWUP_ENABLED=false):
    for cases closed on the due day or up to FOLLOWUP_GRACE_DAYS before it (a missed run
    catches up; nobody closed long ago is mailed when the setting is switched on)."""
    settings, now = desk.settings, desk.now
    today = jst_date(now)
    if not settings.followup_enabled or not is_business_day(today):
        return JobReport(due=False)
    first, last = surveys.followup_window(today, settings.followup_after_months)
    now_epoch = int(now.timestamp())
    sent = enqueued = 0
    for survey in store.due_followups(
        _day_start(first), _day_start(last + timedelta(days=1)), now_epoch
    ):
        case = store.get_case(str(survey["receipt_number"]), now_epoch)
        askable = case is not None and _askable(case, surveys.FOLLOWED_UP)
        messages = surveys.followup_messages(case) if case is not None and askable else []
        if store.dequeue(
            survey,
            queue="followup",
            messages=messages,
            at=iso(now),
            mail_expires_at=_expires_at(settings, now),
            counters={"followup:sent": 1} if messages else None,
        ):
            sent += bool(messages)
            enqueued += len(messages)
    return JobReport(due=True, cases=sent, enqueued=enqueued)
