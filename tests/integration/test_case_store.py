"""Case storage under moto: one transaction, conditions that hold, nothing half-written."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from chalicelib import runtime
from chalicelib.core.case import (
    IdempotencyClaim,
    RateWindow,
    counter_increments,
    intake_messages,
    new_case,
)
from chalicelib.core.consultation import parse_consultation
from chalicelib.core.errors import (
    DuplicateSubmission,
    IdempotencyKeyReused,
    RateLimited,
    ReceiptNumberTaken,
)
from chalicelib.runtime import get_deployment, get_settings
from tests.conftest import NOW, valid_payload


def all_items(aws: dict[str, Any]) -> list[dict[str, Any]]:
    # A test may scan to prove what was (not) written; request paths never do.
    return aws["dynamodb"].scan(TableName=aws["env"]["TABLE_NAME"])["Items"]


def write(
    receipt: str = "DX-261126-000010",
    *,
    claims: list[IdempotencyClaim] | None = None,
    rate: RateWindow | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    consultation = parse_consultation(valid_payload(**overrides), get_deployment())
    case = new_case(
        consultation,
        receipt_number=receipt,
        now=NOW,
        channel="api",
        privacy_notice_version="2026-04",
        raw_name=None,
        retention_days=30,
    )
    runtime.case_store().create_case(
        case,
        intake_messages(case, staff_notify_to=get_settings().staff_notify_to),
        claims=claims or [],
        counters=counter_increments(case),
        rate=rate,
        now_epoch=int(NOW.timestamp()),
        mail_expires_at=int((NOW + timedelta(days=30)).timestamp()),
    )
    return case


def claim(
    fingerprint: str = "f1", expires_in: int = 600, kind: str = "payload"
) -> IdempotencyClaim:
    return IdempotencyClaim(
        kind=kind,
        digest="d1",
        fingerprint=fingerprint,
        expires_at=int(NOW.timestamp()) + expires_in,
    )


def test_case_messages_claim_and_counters_are_written_together(aws: dict[str, Any]) -> None:
    write(claims=[claim()])
    items = runtime.case_store().case_items("DX-261126-000010")
    kinds = sorted(item["kind"] for item in items)
    assert kinds == ["case", "message", "message", "message"]
    case = next(item for item in items if item["kind"] == "case")
    assert case["gsi1pk"] == "STATUS#received"
    assert case["gsi2pk"] == "MONTH#2026-11"
    assert case["version"] == 1
    messages = [item for item in items if item["kind"] == "message"]
    assert {m["state"] for m in messages} == {"PENDING"}
    assert {m["gsi2pk"] for m in messages} == {"OUTBOX"}
    counters = runtime.case_store().month_counters("2026-11")
    assert counters["cases"] == 1
    assert counters["requester_type:business"] == 1
    assert counters["support_type:training"] == 1
    assert counters["support_type:consultation"] == 1


def test_a_receipt_number_is_never_reused(aws: dict[str, Any]) -> None:
    write()
    before = len(all_items(aws))
    with pytest.raises(ReceiptNumberTaken):
        write(email="someone-else@example.com")
    assert len(all_items(aws)) == before


def test_a_repeated_submission_returns_the_first_receipt_and_writes_nothing(
    aws: dict[str, Any],
) -> None:
    write(claims=[claim()])
    before = all_items(aws)
    with pytest.raises(DuplicateSubmission) as info:
        write("DX-261126-000028", claims=[claim()])
    assert info.value.receipt_number == "DX-261126-000010"
    assert all_items(aws) == before
    assert runtime.case_store().month_counters("2026-11")["cases"] == 1


def test_an_idempotency_key_reused_for_other_content_is_refused(aws: dict[str, Any]) -> None:
    write(claims=[claim("f1", kind="key")])
    with pytest.raises(IdempotencyKeyReused):
        write("DX-261126-000028", claims=[claim("f2", kind="key")])


def test_an_expired_idempotency_record_no_longer_blocks(aws: dict[str, Any]) -> None:
    # TTL deletes lazily (moto never does): the condition itself must ignore expired records.
    write(claims=[claim(expires_in=-1)])
    write("DX-261126-000028", claims=[claim()])
    assert runtime.case_store().get_case("DX-261126-000028") is not None


def test_rate_window_caps_submissions_per_client(aws: dict[str, Any]) -> None:
    window = RateWindow(
        client_digest="c1", hour="2026112610", limit=2, expires_at=int(NOW.timestamp()) + 7200
    )
    write("DX-261126-000010", rate=window)
    write("DX-261126-000028", rate=window, email="b@example.com")
    with pytest.raises(RateLimited):
        write("DX-261126-000036", rate=window, email="c@example.com")
    assert runtime.case_store().get_case("DX-261126-000036") is None


def test_counters_are_sharded_but_sum_exactly(aws: dict[str, Any]) -> None:
    for i in range(12):
        write(f"DX-261126-{i:05d}0", email=f"r{i}@example.com")
    counters = runtime.case_store().month_counters("2026-11")
    assert counters["cases"] == 12
    assert counters["municipality:24201"] == 12


def test_reads_ignore_expired_items(aws: dict[str, Any]) -> None:
    case = write()
    after_expiry = int(case["expires_at"]) + 1
    assert runtime.case_store().get_case("DX-261126-000010", now_epoch=after_expiry) is None
    assert runtime.case_store().case_items("DX-261126-000010", now_epoch=after_expiry) == []
    assert runtime.case_store().get_case("DX-261126-000010", now_epoch=after_expiry - 2) is not None
