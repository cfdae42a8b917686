"""Scheduled mail under moto: the daily digest, idle reminders and the monthly summary, each once."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest

from chalicelib import runtime
from chalicelib.core.timefmt import iso
from chalicelib.intake.service import submit_consultation
from chalicelib.outbox import service as outbox_service
from chalicelib.runtime import get_deployment, get_settings
from chalicelib.scheduled import jobs as digest
from chalicelib.scheduled.handler import run_daily
from tests.conftest import valid_payload

STAFF_A = "staff-a@dx-desk.example.jp"
STAFF_B = "staff-b@dx-desk.example.jp"


def jst(year: int, month: int, day: int, hour: int = 8) -> datetime:
    """A moment given in Japan time (as the desk reads the calendar), stored in UTC."""
    return datetime(year, month, day, hour, tzinfo=UTC) - timedelta(hours=9)


# Friday 2026-11-20, 10:00 in Japan. Monday 11/23 is 勤労感謝の日.
SUBMITTED = jst(2026, 11, 20, 10)


def submit(at: datetime = SUBMITTED, **overrides: Any) -> str:
    overrides.setdefault("email", f"requester-{uuid.uuid4().hex[:8]}@example.com")
    result = submit_consultation(
        valid_payload(**overrides),
        store=runtime.case_store(),
        channel="api",
        desk=runtime.desk().at(at),
    )
    return result.receipt_number


def change(receipt: str, at: datetime, **changes: Any) -> None:
    """Move a case as a staff action would (updated_at becomes `at`)."""
    store = runtime.case_store()
    case = store.get_case(receipt, int(at.timestamp()))
    assert case is not None
    store.apply_change(
        case,
        changes=changes,
        event={
            "at": iso(at),
            "event_id": uuid.uuid4().hex[:12],
            "type": "action",
            "actor": STAFF_A,
        },
        messages=[],
        link_use=None,
        mail_expires_at=int((at + timedelta(days=30)).timestamp()),
    )


def drain(now: datetime) -> outbox_service.DrainReport:
    return outbox_service.drain(
        outbox=runtime.outbox_store(),
        mailer=runtime.mailer(),
        jitter=lambda: 1.0,
        desk=runtime.desk().at(now),
    )


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def new_mail(mailbox: Any, before: int) -> list[EmailMessage]:
    return list(mailbox()[before:])


def test_digest_lists_open_cases_by_status_with_business_day_ages(
    aws: dict[str, Any], mailbox: Any
) -> None:
    waiting = submit()
    heard = submit(requester_type="resident", organization=None, municipality="24202")
    withdrawn = submit(category="data")
    change(heard, jst(2026, 11, 24, 15), status="hearing", owner=STAFF_A)
    change(withdrawn, jst(2026, 11, 24, 16), status="withdrawn")
    drain(jst(2026, 11, 25))
    before = len(mailbox())

    friday = jst(2026, 11, 27)  # 08:00 in Japan, when the schedule fires
    report = digest.daily_digest(
        runtime.case_store(),
        desk=runtime.desk().at(friday),
    )
    assert (report.due, report.cases, report.enqueued) == (True, 2, 2)
    assert drain(friday).sent == 2
    mails = new_mail(mailbox, before)
    assert sorted(m["To"] for m in mails) == [STAFF_A, STAFF_B]
    for mail in mails:
        assert "未完了案件 2件" in mail["Subject"]
        assert "2026年11月27日（金）" in mail["Subject"]
        assert mail["References"] == "<DESK-DIGEST-2026-11-27@dx-desk.example.jp>"
        text = text_of(mail)
        assert withdrawn not in text
        received_part, _, rest = text.partition("■ ヒアリング（1件）")
        assert "■ 受付（1件）" in received_part and waiting in received_part
        assert heard in rest and heard not in received_part
        # Submitted Friday 11/20; 11/21-23 are the weekend and 勤労感謝の日: 24, 25, 26, 27.
        assert "担当：未定　受付から4営業日　最終更新から4営業日　★停滞" in received_part
        assert f"担当：{STAFF_A}　受付から4営業日　最終更新から3営業日\n" in rest
        assert "事業者・津市・働き方・コミュニケーション" in received_part
        assert "県民・県民グループ・四日市市" in rest
        assert f"<strong>{heard}</strong>" in html_of(mail) and "<table" not in html_of(mail)
        assert "社内の紙の申請書" not in text  # no free text from the requester

    # The message lives under the desk's own partition and was sent once.
    sent = runtime.outbox_store().get(
        "DESK-DIGEST-2026-11-27",
        digest.digest.scheduled_message_id("digest", "2026-11-27", STAFF_A),
    )
    assert sent is not None and sent["state"] == "SENT" and sent["pk"] == "DESK#DIGEST-2026-11-27"


def test_digest_is_sent_once_a_day_and_not_on_holidays_or_weekends(
    aws: dict[str, Any], mailbox: Any
) -> None:
    submit()
    drain(SUBMITTED)
    before = len(mailbox())
    store, settings = runtime.case_store(), get_settings()

    holiday = jst(2026, 11, 23)  # 勤労感謝の日 (a Monday)
    assert digest.daily_digest(
        store,
        desk=dataclasses.replace(runtime.desk(), settings=settings).at(holiday),
    ) == digest.JobReport(due=False)
    assert (
        digest.daily_digest(
            store,
            desk=dataclasses.replace(runtime.desk(), settings=settings).at(jst(2026, 11, 21)),
        ).due
        is False
    )  # Saturday
    assert (
        digest.daily_digest(
            store,
            desk=dataclasses.replace(runtime.desk(), settings=settings).at(jst(2026, 12, 30)),
        ).due
        is False
    )  # closure

    tuesday = jst(2026, 11, 24)
    assert (
        digest.daily_digest(
            store,
            desk=dataclasses.replace(runtime.desk(), settings=settings).at(tuesday),
        ).enqueued
        == 2
    )
    assert (
        digest.daily_digest(
            store,
            desk=dataclasses.replace(runtime.desk(), settings=settings).at(
                tuesday + timedelta(hours=3)
            ),
        ).enqueued
        == 0
    )
    drain(tuesday + timedelta(hours=3))
    assert (
        digest.daily_digest(
            store,
            desk=dataclasses.replace(runtime.desk(), settings=settings).at(
                tuesday + timedelta(hours=5)
            ),
        ).enqueued
        == 0
    )
    assert drain(tuesday + timedelta(hours=6)).sent == 0
    assert len(new_mail(mailbox, before)) == 2
    # The next business day is a new digest.
    assert (
        digest.daily_digest(
            store,
            desk=dataclasses.replace(runtime.desk(), settings=settings).at(jst(2026, 11, 25)),
        ).enqueued
        == 2
    )


def test_reminders_wait_for_business_days_not_calendar_days(
    aws: dict[str, Any], mailbox: Any
) -> None:
    unowned = submit()
    owned = submit(category="data")
    fresh = submit(category="talent")
    change(owned, SUBMITTED + timedelta(hours=2), owner=STAFF_B)
    change(fresh, jst(2026, 11, 26, 9), status="hearing")
    drain(jst(2026, 11, 26, 10))
    before = len(mailbox())
    store, settings = runtime.case_store(), get_settings()
    assert settings.reminder_idle_business_days == 3

    # Six calendar days after Friday, but only three business days (24, 25, 26): not yet.
    thursday = jst(2026, 11, 26)
    assert (
        digest.idle_reminders(
            store,
            desk=dataclasses.replace(runtime.desk(), settings=settings).at(thursday),
        ).enqueued
        == 0
    )

    friday = jst(2026, 11, 27)
    report = digest.idle_reminders(
        store,
        desk=dataclasses.replace(runtime.desk(), settings=settings).at(friday),
    )
    assert (report.due, report.cases, report.enqueued) == (True, 2, 3)
    assert drain(friday).sent == 3
    mails = new_mail(mailbox, before)
    by_case = {
        receipt: [m for m in mails if receipt in m["Subject"]] for receipt in (unowned, owned)
    }
    assert sorted(m["To"] for m in by_case[unowned]) == [STAFF_A, STAFF_B]
    assert [m["To"] for m in by_case[owned]] == [STAFF_B]
    assert not [m for m in mails if fresh in m["Subject"]]
    # Threaded with the case's own mail; the unowned case offers "take" to each recipient.
    assert all(m["References"] == f"<{unowned}@dx-desk.example.jp>" for m in by_case[unowned])
    assert all("担当する" in text_of(m) and "/actions/" in text_of(m) for m in by_case[unowned])
    assert "/actions/" not in text_of(by_case[owned][0])
    assert "最終更新から4営業日" in by_case[owned][0]["Subject"]

    # Once per business day: again the same day nothing, the weekend nothing, Monday again.
    assert (
        digest.idle_reminders(
            store,
            desk=dataclasses.replace(runtime.desk(), settings=settings).at(
                friday + timedelta(hours=4)
            ),
        ).enqueued
        == 0
    )
    assert (
        digest.idle_reminders(
            store,
            desk=dataclasses.replace(runtime.desk(), settings=settings).at(jst(2026, 11, 28)),
        ).due
        is False
    )
    assert drain(friday + timedelta(hours=5)).sent == 0
    assert (
        digest.idle_reminders(
            store,
            desk=dataclasses.replace(runtime.desk(), settings=settings).at(jst(2026, 11, 30)),
        ).enqueued
        == 3
    )

    # Acting on a case stops its reminders.
    change(owned, jst(2026, 11, 30, 10), status="hearing")
    assert (
        digest.idle_reminders(
            store,
            desk=dataclasses.replace(runtime.desk(), settings=settings).at(jst(2026, 12, 1)),
        ).enqueued
        == 2
    )


def test_reminder_threshold_is_configurable(
    aws: dict[str, Any], mailbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    submit()
    monkeypatch.setenv("REMINDER_IDLE_BUSINESS_DAYS", "1")
    settings = get_settings()
    store = runtime.case_store()
    assert (
        digest.idle_reminders(
            store,
            desk=dataclasses.replace(runtime.desk(), settings=settings).at(jst(2026, 11, 24)),
        ).enqueued
        == 0
    )  # 1 day
    assert (
        digest.idle_reminders(
            store,
            desk=dataclasses.replace(runtime.desk(), settings=settings).at(jst(2026, 11, 25)),
        ).enqueued
        == 2
    )  # 2 days


def test_monthly_summary_numbers_match_the_cases_submitted(
    aws: dict[str, Any], mailbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    submit(at=jst(2026, 10, 30, 12))  # October: not in November's numbers
    submit()
    submit(requester_type="resident", organization=None, municipality="24202")
    submit(requester_type="municipality", support_types=["training"], category="data")
    drain(jst(2026, 11, 30))
    before = len(mailbox())
    monkeypatch.setenv("DESK_MANAGER_TO", "manager@pref.example.jp")
    store, settings = runtime.case_store(), get_settings()

    # Tuesday 12/1 is the first business day of December.
    assert (
        digest.monthly_summary(
            store,
            desk=dataclasses.replace(runtime.desk(), settings=settings).at(jst(2026, 11, 30)),
        ).cases
        == 1
    )  # October's
    first = jst(2026, 12, 1)
    report = digest.monthly_summary(
        store,
        desk=dataclasses.replace(runtime.desk(), settings=settings).at(first),
    )
    assert (report.due, report.cases, report.enqueued) == (True, 3, 1)
    assert drain(first).sent == 1 + 1  # and the October summary enqueued just above
    mails = [m for m in new_mail(mailbox, before) if "2026年11月" in m["Subject"]]
    assert len(mails) == 1
    mail = mails[0]
    assert mail["To"] == "manager@pref.example.jp"
    assert mail["Subject"] == "【DX相談窓口】2026年11月の相談件数 3件"
    text = text_of(mail)
    for line in (
        "■ 受付件数：3 件",
        "・事業者：1 件",
        "・県民・県民グループ：1 件",
        "・市町：1 件",
        "・働き方・コミュニケーション：2 件",
        "・データ利活用：1 件",
        "・人材育成（セミナー・研修）：3 件",
        "・課題解決のための相談：2 件",
        "・津市：2 件",
        "・四日市市：1 件",
        "・API：3 件",
    ):
        assert line in text, line
    assert "相談者A" not in text and "requester-" not in text

    # Idempotent per month: the following business days send nothing more.
    assert (
        digest.monthly_summary(
            store,
            desk=dataclasses.replace(runtime.desk(), settings=settings).at(
                first + timedelta(hours=2)
            ),
        ).enqueued
        == 0
    )
    assert (
        digest.monthly_summary(
            store,
            desk=dataclasses.replace(runtime.desk(), settings=settings).at(jst(2026, 12, 2)),
        ).enqueued
        == 0
    )
    assert drain(jst(2026, 12, 2)).sent == 0


def test_summary_goes_to_the_desk_when_no_manager_is_named(aws: dict[str, Any]) -> None:
    submit()
    report = digest.monthly_summary(
        runtime.case_store(),
        desk=runtime.desk().at(jst(2026, 12, 1)),
    )
    assert report.enqueued == 2  # staff-a and staff-b


def test_first_business_day_of_january_comes_after_the_closure(aws: dict[str, Any]) -> None:
    store, settings = runtime.case_store(), get_settings()
    assert (
        digest.monthly_summary(
            store,
            desk=dataclasses.replace(runtime.desk(), settings=settings).at(jst(2027, 1, 1)),
        ).due
        is False
    )
    assert (
        digest.monthly_summary(
            store,
            desk=dataclasses.replace(runtime.desk(), settings=settings).at(jst(2027, 1, 4)),
        ).due
        is True
    )


def test_run_daily_runs_every_job_and_is_safe_to_repeat(aws: dict[str, Any], mailbox: Any) -> None:
    submit()
    drain(SUBMITTED)
    before = len(mailbox())
    first = jst(2026, 12, 1)
    counts = run_daily(runtime.desk().at(first))
    assert counts["digest_enqueued"] == 2
    assert counts["reminders_cases"] == 1 and counts["reminders_enqueued"] == 2
    assert counts["summary_due"] == 1 and counts["summary_enqueued"] == 2
    again = run_daily(runtime.desk().at(first + timedelta(minutes=30)))
    assert again["digest_enqueued"] == again["reminders_enqueued"] == again["summary_enqueued"] == 0
    assert drain(first + timedelta(hours=1)).sent == 6
    assert len(new_mail(mailbox, before)) == 6


def test_mail_about_a_case_in_progress_says_how_many_consultations_remain(
    aws: dict[str, Any],
) -> None:
    from chalicelib.outbox.render import render
    from chalicelib.runtime import get_settings
    from chalicelib.scheduled.mail import case_row

    row = case_row(
        {
            "receipt_number": "DX-261126-000010",
            "status": "in_progress",
            "created_at": "2026-11-02T01:00:00.000000Z",
            "updated_at": "2026-11-10T01:00:00.000000Z",
            "requester_type": "business",
            "municipality": "24201",
            "category": "data",
            "owner": "staff-a@dx-desk.example.jp",
            "sessions": [{"no": 1}, {"no": 2}],
        },
        date(2026, 11, 26),
        3,
    )
    rendered = render(
        "idle_reminder",
        {"case": row, "recipient": "staff-a@dx-desk.example.jp", "idle_limit": 3},
        settings=get_settings(),
        deployment=get_deployment(),
    )
    assert "2回済み（残り1回）" in rendered.text
