"""Scheduled mail contents (pure): stable ids per period, desk mail in its own partition, ids not labels."""

from __future__ import annotations

from datetime import date

from chalicelib.core.deskmail import desk_receipt_number
from chalicelib.scheduled import mail as digest
from chalicelib.storage import keys

CASE = {
    "receipt_number": "DX-261120-123450",
    "status": "received",
    "requester_type": "business",
    "municipality": "24201",
    "category": "data",
    "created_at": "2026-11-20T01:00:00.000000Z",
    "updated_at": "2026-11-20T01:00:00.000000Z",
}
STAFF = ("staff-a@example.jp", "staff-b@example.jp")


def test_message_ids_are_stable_per_period_and_recipient_and_hide_the_address() -> None:
    one = digest.scheduled_message_id("digest", "2026-11-27", "Staff-A@example.jp")
    assert one == digest.scheduled_message_id("digest", "2026-11-27", "staff-a@example.jp ")
    assert one != digest.scheduled_message_id("digest", "2026-11-30", "staff-a@example.jp")
    assert "@" not in one and "staff" not in one


def test_desk_mail_lives_in_its_own_partition_and_case_mail_under_the_case() -> None:
    receipt = desk_receipt_number("digest", "2026-11-27")
    assert receipt == "DESK-DIGEST-2026-11-27"
    assert keys.message_key(receipt, "m1") == {"pk": "DESK#DIGEST-2026-11-27", "sk": "MSG#m1"}
    assert keys.message_key("DX-261120-123450", "m1")["pk"] == "CASE#DX-261120-123450"
    assert keys.event_key(receipt, "t", "e")["pk"] == "DESK#DIGEST-2026-11-27"


def test_reminders_only_after_the_limit_and_to_the_owner_when_there_is_one() -> None:
    thursday, friday = date(2026, 11, 26), date(2026, 11, 27)
    assert digest.reminder_messages(CASE, today=thursday, idle_limit=3, staff=STAFF) == []
    to_all = digest.reminder_messages(CASE, today=friday, idle_limit=3, staff=STAFF)
    assert [m.to for m in to_all] == [(STAFF[0],), (STAFF[1],)]
    assert all(m.context["actions"] == ["take"] for m in to_all)
    owned = {**CASE, "owner": "staff-b@example.jp"}
    (only,) = digest.reminder_messages(owned, today=friday, idle_limit=3, staff=STAFF)
    assert only.to == ("staff-b@example.jp",) and only.context["actions"] == []


def test_summary_breaks_counters_down_by_kind_largest_first() -> None:
    context = digest.summary_context(
        "2026-11",
        {
            "cases": 3,
            "requester_type:resident": 1,
            "requester_type:business": 2,
            "status:received": 3,
            "preferred_format:online": 3,
        },
    )
    assert context["month_label"] == "2026年11月" and context["total"] == 3
    assert context["breakdown"]["requester_type"] == [
        {"id": "business", "count": 2},
        {"id": "resident", "count": 1},
    ]
    assert set(context["breakdown"]) == set(digest.SUMMARY_KINDS)
    assert context["breakdown"]["channel"] == []
