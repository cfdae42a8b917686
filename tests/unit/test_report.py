"""Monthly statistics (pure): lifecycle counters, the report built from counters, CSV rows, list cursors."""

from __future__ import annotations

import base64
import csv
import io
import json
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from chalicelib.core import case_admin as cases_admin
from chalicelib.core import report
from chalicelib.core.case import change_tally, lead_bucket
from chalicelib.core.case_admin import CaseFilter, InvalidCursor, decode_cursor, plan
from chalicelib.core.deployment import Label
from chalicelib.core.errors import InvalidAdminInput
from chalicelib.core.receipt import JST
from chalicelib.core.timefmt import iso

# Monday 2026-11-02 10:00 in Japan; Tuesday 11/3 is 文化の日 (a public holiday).
RECEIVED = datetime(2026, 11, 2, 10, 0, tzinfo=JST)


def at(days: float = 0, hours: float = 0) -> str:
    return iso(RECEIVED + timedelta(days=days, hours=hours))


def case(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "receipt_number": "DX-261102-000012",
        "status": "received",
        "created_at": at(),
        "month": "2026-11",
        "category": "unknown",
        "support_types": ["training"],
        "requester_type": "business",
        "municipality": "24201",
        "version": 1,
    }
    data.update(overrides)
    return data


def test_starting_the_hearing_is_the_first_contact_with_its_lead_time() -> None:
    before = case()
    # Wednesday 11/4 10:00: two calendar days, one business day (11/3 is a holiday).
    tally = change_tally(before, {**before, "status": "hearing"}, at(days=2))
    assert tally.stamps == {"first_contact_at": at(days=2)}
    assert tally.counters == {
        "status:received": -1,
        "status:hearing": 1,
        "lead:first_contact:count": 1,
        "lead:first_contact:seconds": 2 * 86400,
        "lead:first_contact:business_days": 1,
        "lead:first_contact:bucket:1": 1,
    }


def test_taking_a_case_is_a_first_contact_and_a_later_hearing_is_not_another() -> None:
    before = case()
    taken = change_tally(before, {**before, "owner": "staff-a@example.jp"}, at(hours=2))
    assert taken.stamps == {"first_contact_at": at(hours=2)}
    assert taken.counters["lead:first_contact:seconds"] == 7200
    assert taken.counters["lead:first_contact:bucket:0"] == 1
    assert "status:received" not in taken.counters  # taking changes no status

    owned = {**before, "owner": "staff-a@example.jp", **taken.stamps}
    hearing = change_tally(owned, {**owned, "status": "hearing"}, at(days=1))
    assert hearing.stamps == {}
    assert not any(name.startswith("lead:") for name in hearing.counters)


def test_an_expert_accepting_is_matched_and_closing_adds_its_outcome_and_lead() -> None:
    matching = case(status="matching", first_contact_at=at(hours=1))
    # Friday 11/6 15:00: 4 days 5 hours; business days 11/4, 11/5, 11/6.
    matched = change_tally(matching, {**matching, "status": "in_progress"}, at(days=4, hours=5))
    assert matched.stamps == {"matched_at": at(days=4, hours=5)}
    assert matched.counters["lead:matched:seconds"] == 4 * 86400 + 5 * 3600
    assert matched.counters["lead:matched:business_days"] == 3
    assert matched.counters["lead:matched:bucket:3-5"] == 1

    progressing = {**matching, "status": "in_progress", **matched.stamps}
    # Tuesday 11/10 10:00: 8 days; business days 11/4, 5, 6, 9, 10.
    closed = change_tally(progressing, {**progressing, "status": "closed"}, at(days=8))
    assert closed.stamps == {"ended_at": at(days=8)}
    assert closed.counters == {
        "status:in_progress": -1,
        "status:closed": 1,
        "outcome:closed": 1,
        "lead:closed:count": 1,
        "lead:closed:seconds": 8 * 86400,
        "lead:closed:business_days": 5,
        "lead:closed:bucket:3-5": 1,
    }


@pytest.mark.parametrize("final", ["referred", "withdrawn", "spam"])
def test_other_outcomes_are_counted_without_a_closing_lead_time(final: str) -> None:
    before = case()
    tally = change_tally(before, {**before, "status": final}, at(hours=1))
    assert tally.counters == {"status:received": -1, f"status:{final}": 1, f"outcome:{final}": 1}
    assert tally.stamps == {"ended_at": at(hours=1)}


def test_recategorisation_moves_the_counts_and_a_note_moves_nothing() -> None:
    before = case(status="hearing")
    tally = change_tally(
        before,
        {**before, "category": "data", "support_types": ["information", "training"]},
        at(days=1),
    )
    assert tally.counters == {
        "category:unknown": -1,
        "category:data": 1,
        "support_type:information": 1,
    }
    assert change_tally(before, dict(before), at(days=1)).counters == {}


@pytest.mark.parametrize(
    ("days", "bucket"),
    [(0, "0"), (1, "1"), (2, "2"), (3, "3-5"), (5, "3-5"), (6, "6-10"), (10, "6-10"), (11, "11+")],
)
def test_business_day_buckets(days: int, bucket: str) -> None:
    assert lead_bucket(days) == bucket


LABELS = {
    "requester_type": {
        "business": Label("事業者", "Business"),
        "resident": Label("県民", "Resident"),
    },
    "category": {"data": Label("データ利活用", "Data")},
}


def test_the_report_lists_known_ids_with_zeros_and_labels_and_averages_from_sums() -> None:
    counters = {
        "cases": 3,
        "requester_type:business": 2,
        "requester_type:retired_kind": 1,
        "category:data": 3,
        "status:received": 1,
        "status:closed": 2,
        "outcome:closed": 2,
        "lead:first_contact:count": 3,
        "lead:first_contact:seconds": 3 * 86400 + 3600,
        "lead:first_contact:business_days": 4,
        "lead:first_contact:bucket:1": 2,
        "lead:first_contact:bucket:2": 1,
    }
    body = report.monthly_report("2026-11", counters, LABELS).body
    assert body["cases"] == 3 and body["month_label"] == "2026年11月"
    rows = body["counts"]["requester_type"]["rows"]
    assert [(r["id"], r["label"], r["count"]) for r in rows] == [
        ("business", "事業者", 2),
        ("resident", "県民", 0),
        ("retired_kind", "retired_kind", 1),  # an id only the counters know stays visible
    ]
    outcome = {r["id"]: r["count"] for r in body["counts"]["outcome"]["rows"]}
    assert outcome == {"closed": 2, "referred": 0, "withdrawn": 0, "spam": 0}
    first = body["lead_times"]["first_contact"]
    assert first["count"] == 3
    assert first["average_days"] == round((3 * 86400 + 3600) / 3 / 86400, 2)
    assert first["average_hours"] == round((3 * 86400 + 3600) / 3 / 3600, 1)
    assert first["average_business_days"] == round(4 / 3, 2)
    assert {h["bucket"]: h["count"] for h in first["histogram"]} == {
        "0": 0,
        "1": 2,
        "2": 1,
        "3-5": 0,
        "6-10": 0,
        "11+": 0,
    }
    closed = body["lead_times"]["closed"]
    assert closed["count"] == 0 and closed["average_days"] is None


def test_a_csv_row_carries_ids_labels_dates_and_leads_never_personal_data() -> None:
    stored = case(
        status="closed",
        category="data",
        name="相談者A",
        email="requester-a@example.com",
        phone="0590000000",
        organization="株式会社サンプル商事",
        message="紙の申請書を減らしたい",
        outcome='=HYPERLINK("http://example.com")',
        owner="staff-a@example.jp",
        sessions=[{"no": 1, "report": "報告本文"}],
        first_contact_at=at(days=2),
        ended_at=at(days=8),
        updated_at=at(days=8),
    )
    row = report.csv_row(stored, LABELS)
    text = ",".join(row)
    for secret in (
        "相談者A",
        "requester-a",
        "0590000000",
        "サンプル商事",
        "紙の申請書",
        "HYPERLINK",
        "staff-a",
        "報告本文",
    ):
        assert secret not in text
    values = dict(zip([column for column, _ in report.CSV_COLUMNS], row, strict=True))
    assert values["category_label"] == "データ利活用"
    assert values["created_at"] == "2026-11-02 10:00"
    assert values["sessions"] == "1"
    assert values["days_to_first_contact"] == "2.00"
    assert values["business_days_to_first_contact"] == "1"
    assert values["days_to_closed"] == "8.00" and values["business_days_to_closed"] == "5"
    assert values["days_to_matched"] == ""
    assert report.csv_header()[0] == "受付番号 (receipt_number)"


def test_a_formula_like_label_is_neutralised_in_the_csv() -> None:
    labels = {"category": {"data": Label("=1+1", "=1+1")}}
    row = report.csv_row(case(category="data"), labels)
    assert "'=1+1" in row
    for disguised in ("＝1+1", " =1+1"):
        labels = {"category": {"data": Label(disguised, disguised)}}
        assert "'" + disguised in report.csv_row(case(category="data"), labels)
    parsed = next(csv.reader(io.StringIO(",".join(row))))
    assert all(not cell.startswith("=") for cell in parsed)


# -- list plans and cursors (core/case_admin.py; pure) -----------------------

TODAY = date(2026, 11, 26)


def test_without_a_status_a_list_walks_months_newest_first_and_is_bounded() -> None:
    default = plan(CaseFilter(), TODAY)
    assert [value for _, value in default.partitions][:2] == ["2026-11", "2026-10"]
    assert len(default.partitions) == cases_admin.DEFAULT_MONTHS
    ranged = plan(CaseFilter(date_from=date(2025, 12, 1), date_to=date(2026, 11, 30)), TODAY)
    assert len(ranged.partitions) == 12
    assert ranged.low == "2025-11-30T15:00:00.000000Z"  # midnight in Japan, stored as UTC
    assert ranged.high == "2026-11-30T15:00:00.000000Z"
    with pytest.raises(InvalidAdminInput):
        plan(CaseFilter(date_from=date(2024, 10, 1), date_to=date(2026, 11, 30)), TODAY)
    with pytest.raises(InvalidAdminInput):
        plan(CaseFilter(date_from=date(2026, 11, 2), date_to=date(2026, 11, 1)), TODAY)
    by_status = plan(CaseFilter(status="hearing"), TODAY)
    assert by_status.partitions == (("status", "hearing"),)
    assert by_status.low is None and by_status.high is None


def test_a_plan_refuses_dates_outside_the_desks_century_naming_the_parameter() -> None:
    """Year 1 and year 9999 overflowed the arithmetic (a 500); they are field errors now."""
    for given, field in (
        (CaseFilter(date_from=date(1, 1, 1)), "from"),
        (CaseFilter(date_to=date(9999, 12, 31)), "to"),
        (CaseFilter(status="received", date_from=date(1, 1, 1)), "from"),
        (CaseFilter(status="received", date_to=date(9999, 12, 31)), "to"),
        (CaseFilter(date_from=date(1999, 12, 31), date_to=date(2000, 1, 31)), "from"),
    ):
        with pytest.raises(InvalidAdminInput) as info:
            plan(given, TODAY)
        assert [(e.field, e.code) for e in info.value.errors] == [(field, "out_of_range")]
        assert info.value.errors[0].message.startswith(f"「{field}」は2000-01-01から2099-12-31まで")
    edges = plan(CaseFilter(status="received", date_to=cases_admin.LATEST_DATE), TODAY)
    assert edges.high == "2099-12-31T15:00:00.000000Z"
    assert plan(CaseFilter(date_from=cases_admin.EARLIEST_DATE), date(2001, 6, 1)).partitions


def _raw(cursor: str) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    )
    return decoded


def _encoded(data: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_a_cursor_round_trips_and_every_tampering_is_refused() -> None:
    query = plan(CaseFilter(), TODAY)
    after = ("2026-11-02T01:00:00.000000Z", "DX-261102-000012")
    cursor = cases_admin.encode_cursor(query.fingerprint, 3, after)
    assert decode_cursor(cursor, query) == (3, after)

    other_query = plan(CaseFilter(status="closed"), TODAY)
    good = _raw(cursor)
    tampered = [
        "not base64 !",
        cursor[:-2],
        "A" * (cases_admin.MAX_CURSOR + 1),
        _encoded([1, 2]),
        _encoded({**good, "i": 99}),
        _encoded({**good, "i": True}),
        _encoded({**good, "q": other_query.fingerprint}),
        _encoded({**good, "a": ["2026-11-02", "DX-261102-000012"]}),
        _encoded({**good, "a": [after[0], "DX-261102-000013"]}),  # check digit wrong
        _encoded({**good, "a": [after[0]]}),
        _encoded({**good, "extra": 1}),
        _encoded({**good, "v": 2}),
        # Well-formed, but before the query's range (DynamoDB would refuse such a start key).
        _encoded({**good, "a": ["2024-01-01T00:00:00.000000Z", after[1]]}),
    ]
    for text in tampered:
        with pytest.raises(InvalidCursor):
            decode_cursor(text, query)
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, other_query)  # a cursor belongs to its query
