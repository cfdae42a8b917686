"""Scheduled mail: every morning the digest, reminders for idle cases, and the monthly summary when due."""

from __future__ import annotations

import logging
from typing import Any

from chalice.app import Blueprint, Cron

from chalicelib.core.ports import Desk

log = logging.getLogger(__name__)

bp = Blueprint(__name__)


# 23:00 UTC is 08:00 in Japan: the mail is waiting when the desk opens.
@bp.schedule(Cron(0, 23, "*", "*", "?", "*"), name="daily_mail")
def daily_mail(event: Any) -> dict[str, int]:
    return run_daily_now()


def run_daily_now() -> dict[str, int]:
    """The daily mail as the schedule runs it, at this moment (also the dev mailbox's button)."""
    from chalicelib import runtime

    return run_daily(runtime.desk())


def run_daily(desk: Desk) -> dict[str, int]:
    """Enqueue today's scheduled mail (the outbox sends it); safe to run again the same day."""
    # Imported here, not at module level: the API function shares this
    # package and never needs the holiday calendar (see outbox/handler.py).
    from chalicelib import runtime
    from chalicelib.scheduled import jobs as digest

    store = runtime.case_store()
    counts: dict[str, int] = {}
    for name, job in (
        ("digest", digest.daily_digest),
        ("reminders", digest.idle_reminders),
        ("summary", digest.monthly_summary),
    ):
        report = job(store, desk)
        counts[f"{name}_due"] = int(report.due)
        counts[f"{name}_cases"] = report.cases
        counts[f"{name}_enqueued"] = report.enqueued
    # The satisfaction survey's one reminder and the follow-up (core/survey.py).
    survey_store = runtime.survey_store()
    for name, survey_job in (
        ("survey_reminders", digest.survey_reminders),
        ("followups", digest.followups),
    ):
        report = survey_job(survey_store, desk)
        counts[f"{name}_due"] = int(report.due)
        counts[f"{name}_cases"] = report.cases
        counts[f"{name}_enqueued"] = report.enqueued
    log.info("daily mail: %s", counts)
    return counts
