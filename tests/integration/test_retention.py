"""Retention: every kind of item the desk writes has a class and a future expiry; reads ignore expired items."""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest

from chalicelib import runtime
from chalicelib.core import retention
from chalicelib.core.actiontoken import link_for
from chalicelib.core.lifecycle import Action
from chalicelib.core.roster import Expert
from chalicelib.core.timefmt import iso
from chalicelib.intake.service import submit_consultation
from chalicelib.links.service import act_by_link
from chalicelib.mailin.service import SesReceipt, ingest_reply
from chalicelib.outbox import service as outbox
from chalicelib.outbox.ses_events import ses_events
from chalicelib.runtime import get_deployment, get_settings
from chalicelib.scheduled import jobs as digest
from chalicelib.storage.addresses import AddressStore
from chalicelib.storage.dynamo import from_item
from chalicelib.storage.roster import RosterStore
from tests.conftest import NOW, valid_payload

DAY = 86_400
STAFF_A = "staff-a@dx-desk.example.jp"

# Item kind → the retention class it must carry.
EXPECTED_CLASS = {
    "case": retention.CASE,
    "event": retention.CASE,
    "message": retention.MAIL,
    "inbound": retention.MAIL,
    "ses_event": retention.MAIL,
    "idempotency": retention.IDEMPOTENCY,
    "rate_limit": retention.RATE_LIMIT,
    "link_use": retention.LINK,
    "counter": retention.STATISTICS,
    "expert": retention.REFERENCE,
    "address": retention.DELIVERABILITY,
    "requester_case": retention.CASE,
    "admin_token": retention.ACCESS,
    "audit": retention.AUDIT,
    "staff": retention.REFERENCE,
    "taxonomy": retention.REFERENCE,
    "survey": retention.CASE,
}


def submit(**overrides: Any) -> str:
    return submit_consultation(
        valid_payload(**overrides),
        store=runtime.case_store(),
        channel="api",
        idempotency_key="retention-test-1",
        client_id="203.0.113.7",
        desk=runtime.desk().at(NOW),
    ).receipt_number


def drain(at: timedelta = timedelta(0)) -> outbox.DrainReport:
    return outbox.drain(
        outbox=runtime.outbox_store(),
        mailer=runtime.mailer(),
        jitter=lambda: 1.0,
        desk=runtime.desk().at(NOW + at),
    )


def expert(expert_id: str, *, active: bool = True) -> Expert:
    return Expert.model_validate(
        {
            "expert_id": expert_id,
            "kind": "advisor",
            "display_name": f"アドバイザー{expert_id}",
            "categories": ["data"],
            "support_types": ["consultation"],
            "online_ok": True,
            "contact_emails": [f"{expert_id}@example.com"],
            "capacity": 3,
            "active": active,
        }
    )


def bounce(message: dict[str, Any]) -> dict[str, Any]:
    notice = {
        "eventType": "Bounce",
        "mail": {
            "messageId": message["ses_message_id"],
            "destination": message["to"],
            "tags": {
                "receipt_number": [message["receipt_number"]],
                "message_id": [message["message_id"]],
                "template": [message["template"]],
            },
        },
        "bounce": {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [{"emailAddress": a} for a in message["to"]],
            "timestamp": "2026-11-26T10:31:00.000Z",
            "feedbackId": "fb-retention-1",
        },
    }
    return {"Records": [{"Sns": {"Message": json.dumps(notice)}}]}


def every_item(aws: dict[str, Any]) -> list[dict[str, Any]]:
    """The whole table (a test may scan; the application never does)."""
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": aws["env"]["TABLE_NAME"]}
    while True:
        page = aws["dynamodb"].scan(**kwargs)
        items += [from_item(item) for item in page["Items"]]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def write_one_of_everything(aws: dict[str, Any]) -> str:
    """Every kind of item, each written by the code that writes it in production."""
    settings = get_settings()
    receipt = submit()  # case, mail, idempotency records, counter shard, rate window
    drain()  # mail sent
    # A staff member takes the case by link: a timeline event and the used link.
    token = link_for(
        settings, action=Action.TAKE, receipt_number=receipt, recipient=STAFF_A, now=NOW
    )
    act_by_link(
        token.rpartition("/")[2],
        note="",
        store=runtime.case_store(),
        roster=runtime.roster_store(),
        desk=dataclasses.replace(runtime.desk(), settings=settings).at(NOW),
    )
    # An inbound message that fails SES's verdicts: quarantined and recorded.
    spoofed = EmailMessage()
    spoofed["From"] = "someone@example.com"
    spoofed["To"] = "desk@dx-desk.example.jp"
    spoofed["Subject"] = "Re: test"
    spoofed.set_content("取下げ")
    ingest_reply(
        spoofed.as_bytes(),
        SesReceipt(message_id="ses-in-1", recipients=[], verdicts={"spam": "FAIL"}),
        store=runtime.case_store(),
        roster=runtime.roster_store(),
        desk=dataclasses.replace(runtime.desk(), settings=settings).at(NOW),
    )
    # The roster: one active, one inactive expert.
    runtime.roster_store().put(expert("advisor-r1"))
    runtime.roster_store().put(expert("advisor-r2", active=False))
    # The acknowledgement bounces: address mark, SES event record, 配信不能 event, staff notices.
    ack = next(
        i
        for i in runtime.case_store().case_items(receipt)
        if i["kind"] == "message" and i["template"] == "intake_ack"
    )
    assert ses_events(bounce(ack), None) == {"undeliverable": 1}
    # Desk-wide scheduled mail.
    assert (
        digest.daily_digest(
            runtime.case_store(),
            desk=dataclasses.replace(runtime.desk(), settings=settings).at(NOW),
        ).enqueued
        > 0
    )
    # Admin data: a token (digest only), a staff member, the taxonomy, each with its audit record.
    from chalicelib.admin.access import SYSTEM, bootstrap_token
    from chalicelib.core import directory
    from chalicelib.core.staff import StaffMember

    bootstrap_token(
        runtime.admin_store(),
        "retention-test-token-0123456789",
        role="staff",
        actor="職員R",
        now=NOW,
        audit_expires=int(NOW.timestamp()) + settings.audit_retention_days * DAY,
    )
    directory.save_staff(
        runtime.admin_store(),
        SYSTEM,
        StaffMember(staff_id="staff-r", display_name="職員R", email="staff-r@dx-desk.example.jp"),
        create=True,
        now=NOW,
        settings=settings,
    )
    taxonomy = directory.current_taxonomy(runtime.admin_store(), get_deployment(), NOW)
    relabelled = taxonomy.model_copy(
        update={
            "categories": [
                entry.model_copy(update={"en": entry.en + " (edited)"})
                for entry in taxonomy.categories
            ]
        }
    )
    directory.save_taxonomy(
        runtime.admin_store(),
        SYSTEM,
        relabelled,
        deployment=get_deployment(),
        now=NOW,
        settings=settings,
    )
    # The case ends as 完了: its survey record (core/survey.py) and the closing mail.
    for action in (Action.START_HEARING, Action.CLOSE):
        act_by_link(
            link_for(
                settings, action=action, receipt_number=receipt, recipient=STAFF_A, now=NOW
            ).rpartition("/")[2],
            note="",
            store=runtime.case_store(),
            roster=runtime.roster_store(),
            desk=dataclasses.replace(runtime.desk(), settings=settings).at(NOW),
        )
    return receipt


def test_every_item_written_has_a_retention_class_and_a_future_expiry(
    aws: dict[str, Any],
) -> None:
    write_one_of_everything(aws)
    items = every_item(aws)
    kinds = {item["kind"] for item in items}
    assert set(EXPECTED_CLASS) <= kinds, set(EXPECTED_CLASS) - kinds
    # Everything here is written at NOW (experts at the wall clock, which is later).
    now = int(NOW.timestamp())
    for item in items:
        where = f"{item['kind']} {item['pk']} {item['sk']}"
        assert item.get("retention_class") in retention.CLASSES, where
        assert EXPECTED_CLASS.get(item["kind"], item["retention_class"]) == item["retention_class"]
        assert isinstance(item.get("expires_at"), int), where
        assert item["expires_at"] > now, where


def test_periods_follow_the_settings(aws: dict[str, Any]) -> None:
    write_one_of_everything(aws)
    settings = get_settings()
    items = every_item(aws)
    start = int(NOW.timestamp())

    def expiry(kind: str, **match: Any) -> int:
        found = [
            i for i in items if i["kind"] == kind and all(i.get(k) == v for k, v in match.items())
        ]
        assert found, kind
        return int(found[0]["expires_at"])

    assert expiry("case") == start + settings.case_retention_days * DAY
    assert expiry("event", type="mail_undeliverable") == expiry("case")
    assert expiry("message", template="intake_ack") == start + settings.mail_retention_days * DAY
    assert expiry("counter") == start + settings.statistics_retention_days * DAY
    # The SES event handler and the roster run on the wall clock.
    wall = int(time.time())
    assert abs(expiry("address") - wall - settings.undeliverable_retention_days * DAY) < 60
    # Experts: from the last edit, active ones for the reference period, inactive ones
    # for as long as a case may name them.
    active = expiry("expert", expert_id="advisor-r1") - wall
    inactive = expiry("expert", expert_id="advisor-r2") - wall
    assert abs(active - settings.reference_retention_days * DAY) < 60
    assert abs(inactive - settings.case_retention_days * DAY) < 60
    assert expiry("audit") == start + settings.audit_retention_days * DAY
    assert expiry("taxonomy") == start + settings.reference_retention_days * DAY
    token = next(i for i in items if i["kind"] == "admin_token")
    assert token["expires_at"] == token["valid_until"] + 365 * DAY


def test_retention_periods_are_configuration(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STATISTICS_RETENTION_DAYS", "100")
    monkeypatch.setenv("UNDELIVERABLE_RETENTION_DAYS", "30")
    policy = get_settings().retention()
    assert policy.statistics_days == 100 and policy.undeliverable_days == 30
    # Stores built without settings use the settings' defaults.
    monkeypatch.delenv("STATISTICS_RETENTION_DAYS")
    monkeypatch.delenv("UNDELIVERABLE_RETENTION_DAYS")
    assert get_settings().retention() == retention.RetentionPolicy()


def test_reads_ignore_expired_items(aws: dict[str, Any]) -> None:
    receipt = submit()
    store = runtime.case_store()
    case = store.get_case(receipt, int(NOW.timestamp()))
    assert case is not None
    after = int(case["expires_at"]) + 1
    # DynamoDB's TTL may take days to delete: the reads already treat the case as gone.
    assert store.get_case(receipt, after) is None
    assert store.case_items(receipt, after) == []
    assert receipt not in {c["receipt_number"] for c in store.open_cases(after)}
    month = case["month"]
    assert store.month_counters(month)["cases"] == 1
    assert store.month_counters(month, int(NOW.timestamp()) + 3651 * DAY) == {}
    # Mail past its expiry is never sent.
    assert drain(at=timedelta(days=get_settings().mail_retention_days + 1)).sent == 0


def test_expired_experts_and_address_marks_are_ignored(aws: dict[str, Any]) -> None:
    table = aws["env"]["TABLE_NAME"]
    lapsed = retention.RetentionPolicy(reference_days=-1, undeliverable_days=-1)
    roster = RosterStore(runtime.dynamodb(), table, lapsed)
    roster.put(expert("advisor-x1"))
    assert roster.get("advisor-x1") is None
    assert roster.list_all() == [] and roster.list_active() == []
    runtime.roster_store().put(expert("advisor-x2"))
    assert [e.expert_id for e in roster.list_all()] == ["advisor-x2"]

    addresses = AddressStore(runtime.dynamodb(), table, lapsed)
    assert addresses.record_event(
        "lapsed-1",
        at=iso(NOW),
        now_epoch=int(NOW.timestamp()),
        kind="bounce",
        receipt_number="",
        marks=[{"address": "requester-a@example.com", "reason": "bounce"}],
        timeline=None,
        notices=[],
    )
    assert addresses.undeliverable(["requester-a@example.com"], int(NOW.timestamp())) == set()
    submit()
    assert drain().sent == 3  # a lapsed mark stops nothing
