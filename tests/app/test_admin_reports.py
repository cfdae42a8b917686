"""/admin/reports: the month's report matches the cases submitted, with no Scan on a request path.

The scenario submits cases through POST /consultations at known times (the
app's clock, runtime.now, is moved by the test), acts on them through the admin
action route, and computes every expected figure from what it did. Business
days are the test's own oracle, written next to each step (11/3 文化の日 and
11/23 勤労感謝の日 are public holidays in November 2026).
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import boto3
import pytest

from chalicelib import runtime
from chalicelib.core.case import OutgoingMessage
from chalicelib.core.receipt import JST
from chalicelib.scheduled import jobs as digest
from chalicelib.scheduled import mail as digest_rules
from infra.local.demo_roster import seed
from tests.app.test_admin_cases import STAFF_A, Clock
from tests.conftest import valid_payload

MONTH = "2026-11"
ACTION_STATUS = {
    "start_hearing": "hearing",
    "start_matching": "matching",
    "expert_accepted": "in_progress",
    "close": "closed",
    "refer": "referred",
    "withdraw": "withdrawn",
    "mark_spam": "spam",
}
OUTCOMES = ("closed", "referred", "withdrawn", "spam")


def jst(day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=JST)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The app's clock (runtime.now), moved by the scenario."""
    found = Clock(jst(1))
    monkeypatch.setattr(runtime, "now", found)
    return found


@pytest.fixture
def roster(aws: dict[str, Any]) -> None:
    seed(boto3.client("dynamodb"), aws["env"]["TABLE_NAME"])


@dataclass
class Planned:
    submitted: datetime
    fields: dict[str, Any]
    steps: list[tuple[datetime, str, dict[str, Any]]] = field(default_factory=list)
    # The oracle: business days from receipt to each milestone the case reaches.
    business_days: dict[str, int] = field(default_factory=dict)
    receipt: str = ""


def scenario() -> list[Planned]:
    return [
        Planned(
            jst(2),
            {"requester_type": "business", "category": "workstyle", "municipality": "24201"},
            [
                (jst(4), "start_hearing", {}),
                (jst(5), "start_matching", {}),
                (jst(5, 11), "ask_expert", {"expert_id": "advisor-d"}),
                (jst(6, 15), "expert_accepted", {"expert_id": "advisor-d"}),
                (jst(10), "close", {"outcome": "研修を実施"}),
            ],
            # 11/3 is a holiday: 11/4 → 1; 11/4-6 → 3; 11/4, 5, 6, 9, 10 → 5.
            {"first_contact": 1, "matched": 3, "closed": 5},
        ),
        Planned(
            jst(2, 14),
            {
                "requester_type": "resident",
                "organization": None,
                "category": "data",
                "municipality": "24202",
                "support_types": ["information"],
                "preferred_format": "visit",
            },
            [
                (jst(2, 16), "take", {"owner": STAFF_A}),
                (jst(9, 9), "refer", {"outcome": "よろず支援拠点"}),
            ],
            {"first_contact": 0},
        ),
        Planned(
            jst(5, 9, 30),
            {
                "requester_type": "municipality",
                "organization": "サンプル町役場",
                "category": "talent",
                "municipality": "24203",
                "support_types": ["training"],
                "preferred_format": "either",
            },
            [
                (jst(9, 9, 30), "start_hearing", {}),
                (jst(13, 17, 30), "close", {}),
            ],
            # Thursday → Monday: 11/6, 11/9; to Friday 11/13: 11/6, 9, 10, 11, 12, 13.
            {"first_contact": 2, "closed": 6},
        ),
        Planned(
            jst(6),
            {"category": "unknown", "support_types": ["consultation"]},
            [(jst(6, 11), "mark_spam", {})],
        ),
        Planned(
            jst(10),
            {
                "requester_type": "other",
                "organization": "NPO法人サンプル",
                "category": "mindset",
                "municipality": "outside",
                "support_types": ["training", "information"],
            },
            [(jst(11), "withdraw", {})],
        ),
        Planned(
            jst(12),
            {
                "requester_type": "prefecture",
                "organization": "サンプル県庁DX推進課",
                "category": "technology",
                "support_types": ["consultation"],
            },
        ),
        Planned(
            jst(16),
            {
                "category": "workstyle",
                "municipality": "24207",
                "support_types": ["information", "consultation"],
                "preferred_format": "either",
            },
            [
                (jst(16, 10, 30), "take", {"owner": STAFF_A}),
                (jst(17), "start_hearing", {}),
            ],
            {"first_contact": 0},
        ),
        Planned(
            jst(20),
            {
                "requester_type": "resident",
                "organization": None,
                "category": "talent",
                "municipality": "24202",
                "support_types": ["training"],
            },
            # Friday → Tuesday: Saturday, Sunday and 11/23 (Monday, a holiday) do not count.
            [(jst(24), "start_hearing", {})],
            {"first_contact": 1},
        ),
    ]


def personal(index: int) -> dict[str, str]:
    """What only this requester typed: none of it may reach a report or the CSV."""
    return {
        "name": f"相談者{index}号",
        "email": f"requester-{index}@example.com",
        "phone": f"059-111-{index:04d}",
        "message": f"相談内容の本文（{index}件目）です。",
    }


def run_scenario(client: Any, headers: dict[str, str], clock: Clock) -> list[Planned]:
    planned = scenario()
    for index, case in enumerate(planned):
        clock.set(case.submitted)
        payload = valid_payload(**{**case.fields, **personal(index)})
        if payload.get("organization") is None:
            payload.pop("organization")
        response = client.http.post(
            "/consultations",
            headers={"Content-Type": "application/json"},
            body=json.dumps(payload),
        )
        assert response.status_code == 201, response.body
        case.receipt = response.json_body["receipt_number"]
    # Act in time order across cases, as the desk would.
    versions = {case.receipt: 1 for case in planned}
    steps = sorted(
        (when, case.receipt, action, body) for case in planned for when, action, body in case.steps
    )
    for when, receipt, action, body in steps:
        clock.set(when)
        response = client.http.post(
            f"/admin/cases/{receipt}/actions/{action}",
            headers=headers,
            body=json.dumps({"version": versions[receipt], **body}),
        )
        assert response.status_code == 200, (action, response.body)
        versions[receipt] = response.json_body["case"]["version"]
    return planned


def expected_counts(planned: list[Planned]) -> dict[str, Counter[str]]:
    counts: dict[str, Counter[str]] = {
        name: Counter()
        for name in (
            "requester_type",
            "category",
            "support_type",
            "municipality",
            "preferred_format",
            "channel",
            "outcome",
            "status",
        )
    }
    for case in planned:
        payload = valid_payload(**case.fields)
        counts["requester_type"][payload["requester_type"]] += 1
        counts["category"][payload["category"]] += 1
        counts["municipality"][payload["municipality"]] += 1
        counts["preferred_format"][payload["preferred_format"]] += 1
        counts["channel"]["api"] += 1
        for kind in payload["support_types"]:
            counts["support_type"][kind] += 1
        status = "received"
        for _, action, _ in case.steps:
            status = ACTION_STATUS.get(action, status)
        counts["status"][status] += 1
        if status in OUTCOMES:
            counts["outcome"][status] += 1
    return counts


def expected_leads(planned: list[Planned]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for name, actions in (
        ("first_contact", ("take", "start_hearing")),
        ("matched", ("expert_accepted",)),
        ("closed", ("close",)),
    ):
        seconds: list[int] = []
        business: list[int] = []
        for case in planned:
            reached = [when for when, action, _ in case.steps if action in actions]
            if reached:
                seconds.append(int((reached[0] - case.submitted).total_seconds()))
                business.append(case.business_days[name])
        buckets: Counter[str] = Counter()
        for days in business:
            buckets[
                "0"
                if days == 0
                else "1"
                if days == 1
                else "2"
                if days == 2
                else "3-5"
                if days <= 5
                else "6-10"
                if days <= 10
                else "11+"
            ] += 1
        count = len(seconds)
        found[name] = {
            "count": count,
            "total_seconds": sum(seconds),
            "total_business_days": sum(business),
            "average_days": round(sum(seconds) / count / 86400, 2) if count else None,
            "average_hours": round(sum(seconds) / count / 3600, 1) if count else None,
            "average_business_days": round(sum(business) / count, 2) if count else None,
            "histogram": dict(buckets),
        }
    return found


class Operations:
    """The DynamoDB calls a request makes: (operation, partition key value or index)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        values = params.get("ExpressionAttributeValues") or {}
        key = params.get("Key") or {}
        target = (values.get(":pk") or key.get("pk") or {}).get("S", "")
        self.calls.append((model.name, f"{params.get('IndexName', 'table')}:{target}"))

    def __enter__(self) -> Operations:
        runtime.dynamodb().meta.events.register("before-parameter-build.dynamodb.*", self)
        return self

    def __exit__(self, *_: Any) -> None:
        runtime.dynamodb().meta.events.unregister("before-parameter-build.dynamodb.*", self)


def test_the_months_report_matches_the_cases_submitted_with_no_scan(
    client: Any,
    staff_headers: dict[str, str],
    clock: Clock,
    roster: None,
) -> None:
    planned = run_scenario(client, staff_headers, clock)
    clock.set(jst(26))

    with Operations() as ops:
        response = client.http.get(f"/admin/reports/monthly/{MONTH}", headers=staff_headers)
    assert response.status_code == 200, response.body
    assert response.headers["Cache-Control"] == "no-store"
    assert not any(op == "Scan" for op, _ in ops.calls)
    # The figures come from the month's counter shards: one Query, no case is read (the
    # survey's figures by expert read the named experts' display names, nothing else).
    reads = [
        (op, target)
        for op, target in ops.calls
        if not target.startswith(("table:TOKEN#", "table:REFERENCE"))
    ]
    assert reads[0] == ("Query", f"table:STATS#{MONTH}")
    assert all(op == "GetItem" and target.startswith("table:EXPERT#") for op, target in reads[1:])

    report = response.json_body
    assert report["month"] == MONTH and report["month_label"] == "2026年11月"
    assert report["cases"] == len(planned) == 8
    expected = expected_counts(planned)
    for dimension, counter in expected.items():
        rows = report["counts"][dimension]["rows"]
        got = {row["id"]: row["count"] for row in rows if row["count"]}
        assert got == dict(counter), dimension
        assert all(row["label"] and row["label_en"] for row in rows)
    labels = {row["id"]: row["label"] for row in report["counts"]["category"]["rows"]}
    assert labels["workstyle"] == "働き方・コミュニケーション"
    outcome_labels = {row["id"]: row["label"] for row in report["counts"]["outcome"]["rows"]}
    assert outcome_labels == {
        "closed": "完了",
        "referred": "他機関紹介",
        "withdrawn": "取下げ",
        "spam": "スパム",
    }

    for name, figures in expected_leads(planned).items():
        lead = report["lead_times"][name]
        for key in (
            "count",
            "total_seconds",
            "total_business_days",
            "average_days",
            "average_hours",
            "average_business_days",
        ):
            assert lead[key] == figures[key], (name, key)
        histogram = {row["bucket"]: row["count"] for row in lead["histogram"] if row["count"]}
        assert histogram == figures["histogram"], name
    assert report["lead_times"]["matched"]["count"] == 1  # only the first case found its expert

    text = json.dumps(report, ensure_ascii=False)
    for index in range(len(planned)):
        for value in personal(index).values():
            assert value not in text


def test_the_months_csv_has_every_case_and_no_personal_data(
    client: Any,
    staff_headers: dict[str, str],
    clock: Clock,
    roster: None,
) -> None:
    planned = run_scenario(client, staff_headers, clock)
    with Operations() as ops:
        response = client.http.get(
            f"/admin/reports/monthly/{MONTH}/cases.csv", headers=staff_headers
        )
    assert response.status_code == 200, response.body
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="dx-desk-cases-{MONTH}.csv"'
    )
    assert response.headers["Cache-Control"] == "no-store"
    assert {op for op, _ in ops.calls} <= {"Query", "GetItem"}
    assert ("Query", f"gsi2:MONTH#{MONTH}") in ops.calls

    raw: bytes = response.body
    assert raw.startswith("\ufeff".encode())
    text = raw.decode("utf-8").removeprefix("\ufeff")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header, body = rows[0], rows[1:]
    assert header[0] == "受付番号 (receipt_number)"
    assert "完了までの営業日数 (business_days_to_closed)" in header
    assert len(body) == len(planned) == 8
    column = {name.rsplit("(", 1)[1].rstrip(")"): i for i, name in enumerate(header)}
    assert [row[column["receipt_number"]] for row in body] == [case.receipt for case in planned]

    for index, case in enumerate(planned):
        for value in (*personal(index).values(), "059111"):
            assert value not in text
        if case.fields.get("organization"):
            assert str(case.fields["organization"]) not in text
    assert "サンプル商事" not in text  # the default organisation of the other cases
    assert "研修を実施" not in text and "よろず支援拠点" not in text  # free-text outcomes

    first = body[0]
    assert first[column["status_label"]] == "完了"
    assert first[column["created_at"]] == "2026-11-02 10:00"
    assert first[column["support_types"]] == "training consultation"
    assert first[column["expert_id"]] == "advisor-d"
    assert first[column["business_days_to_matched"]] == "3"
    # The CSV's lead times add up to the report's figures.
    report = client.http.get(f"/admin/reports/monthly/{MONTH}", headers=staff_headers).json_body
    for name in ("first_contact", "matched", "closed"):
        cells = [row[column[f"business_days_to_{name}"]] for row in body]
        assert sum(int(c) for c in cells if c) == report["lead_times"][name]["total_business_days"]
        assert sum(1 for c in cells if c) == report["lead_times"][name]["count"]


class CapturingStore:
    """The case store for the monthly job, keeping what it would send."""

    def __init__(self) -> None:
        self.inner = runtime.case_store()
        self.messages: list[OutgoingMessage] = []

    def open_cases(self, now_epoch: int | None = None) -> list[dict[str, Any]]:
        return self.inner.open_cases(now_epoch)

    def month_counters(self, month: str) -> dict[str, int]:
        return self.inner.month_counters(month)

    def enqueue(
        self, messages: list[OutgoingMessage], receipt_number: str, now: str, expires_at: int
    ) -> int:
        self.messages.extend(messages)
        return len(messages)


def test_the_monthly_mail_and_the_api_agree(
    client: Any,
    staff_headers: dict[str, str],
    clock: Clock,
    roster: None,
) -> None:
    run_scenario(client, staff_headers, clock)
    report = client.http.get(f"/admin/reports/monthly/{MONTH}", headers=staff_headers).json_body
    store = CapturingStore()
    # Tuesday 12/1 is the first business day of December.
    job = digest.monthly_summary(
        store,
        desk=runtime.desk().at(datetime(2026, 12, 1, 9, tzinfo=JST)),
    )
    assert job.due and job.cases == report["cases"]
    context = store.messages[0].context
    assert context["total"] == report["cases"]
    for kind in digest_rules.SUMMARY_KINDS:
        mailed = {row["id"]: row["count"] for row in context["breakdown"][kind]}
        answered = {r["id"]: r["count"] for r in report["counts"][kind]["rows"] if r["count"]}
        assert mailed == answered, kind
    mailed_leads = {
        lead["title"]: (lead["count"], lead["business_days"]) for lead in context["leads"]
    }
    for name, title in digest_rules.SUMMARY_LEADS:
        lead = report["lead_times"][name]
        if lead["count"]:
            expected = (lead["count"], f"{lead['average_business_days']:.1f}")
            assert mailed_leads[title] == expected, name
    assert mailed_leads, "the scenario reaches every milestone"


@pytest.mark.parametrize("month", ["2026-13", "26-11", "2026-1", "latest"])
def test_a_malformed_month_is_422(client: Any, staff_headers: dict[str, str], month: str) -> None:
    for path in (f"/admin/reports/monthly/{month}", f"/admin/reports/monthly/{month}/cases.csv"):
        response = client.http.get(path, headers=staff_headers)
        assert response.status_code == 422, path
        assert response.json_body["errors"][0]["field"] == "month"


def test_a_month_without_cases_reports_zeros(client: Any, staff_headers: dict[str, str]) -> None:
    report = client.http.get("/admin/reports/monthly/2020-01", headers=staff_headers).json_body
    assert report["cases"] == 0
    assert all(row["count"] == 0 for row in report["counts"]["category"]["rows"])
    assert report["lead_times"]["closed"]["average_days"] is None
    csv_text = client.http.get("/admin/reports/monthly/2020-01/cases.csv", headers=staff_headers)
    assert csv_text.body.decode("utf-8").count("\r\n") == 1  # the header only
