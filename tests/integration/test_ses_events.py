"""SES sending events under moto: bounces and complaints mark addresses, record 配信不能, tell staff once."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from chalicelib import runtime
from chalicelib.intake.service import submit_consultation
from chalicelib.outbox import service as outbox_service
from chalicelib.outbox.ses_events import ses_events
from chalicelib.runtime import get_settings
from chalicelib.storage import keys
from chalicelib.storage.dynamo import from_item, to_item
from chalicelib.storage.mailer import SesMailer
from tests.conftest import NOW, valid_payload

REQUESTER = "requester-a@example.com"
STAFF_A = "staff-a@dx-desk.example.jp"
STAFF_B = "staff-b@dx-desk.example.jp"
NOTICE = "mail_undeliverable_staff"


class RecordingSes:
    """The real (moto) SES client, remembering what each send asked for by SES message id."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.sent: dict[str, dict[str, Any]] = {}

    def send_email(self, **kwargs: Any) -> Any:
        response = self.real.send_email(**kwargs)
        self.sent[response["MessageId"]] = kwargs
        return response


@pytest.fixture
def ses(aws: dict[str, Any]) -> RecordingSes:
    return RecordingSes(runtime.sesv2())


def submit(**overrides: Any) -> str:
    return submit_consultation(
        valid_payload(**overrides),
        store=runtime.case_store(),
        channel="api",
        desk=runtime.desk().at(NOW),
    ).receipt_number


def drain(ses: RecordingSes, at: timedelta = timedelta(0)) -> outbox_service.DrainReport:
    return outbox_service.drain(
        outbox=runtime.outbox_store(),
        mailer=SesMailer(ses, "dx-desk-events"),
        jitter=lambda: 1.0,
        desk=runtime.desk().at(NOW + at),
    )


def items(receipt: str) -> list[dict[str, Any]]:
    return runtime.case_store().case_items(receipt)


def messages(receipt: str, template: str | None = None) -> list[dict[str, Any]]:
    return [
        i
        for i in items(receipt)
        if i["kind"] == "message" and (template is None or i["template"] == template)
    ]


def events(receipt: str) -> list[dict[str, Any]]:
    return [i for i in items(receipt) if i["kind"] == "event"]


def sent_message(receipt: str, template: str, to: str | None = None) -> dict[str, Any]:
    return next(
        m
        for m in messages(receipt, template)
        if m["state"] == "SENT" and (to is None or m["to"] == [to])
    )


def notification(
    ses: RecordingSes,
    message: dict[str, Any],
    kind: str,
    *,
    bounce_type: str = "Permanent",
    feedback_id: str = "0100019-feedback-1",
) -> dict[str, Any]:
    """The SNS record SES publishes about `message`, with the tags the desk sent it with."""
    request = ses.sent[message["ses_message_id"]]
    tags = {tag["Name"]: [tag["Value"]] for tag in request["EmailTags"]}
    recipients = list(request["Destination"]["ToAddresses"])
    notice: dict[str, Any] = {
        "eventType": kind,
        "mail": {
            "timestamp": "2026-11-26T10:30:05.000Z",
            "source": "desk@dx-desk.example.jp",
            "messageId": message["ses_message_id"],
            "destination": recipients,
            "tags": {"ses:configuration-set": [request["ConfigurationSetName"]], **tags},
        },
    }
    if kind == "Bounce":
        notice["bounce"] = {
            "bounceType": bounce_type,
            "bounceSubType": "General",
            "bouncedRecipients": [
                {"emailAddress": r, "action": "failed", "status": "5.1.1"} for r in recipients
            ],
            "timestamp": "2026-11-26T10:31:00.000Z",
            "feedbackId": feedback_id,
        }
    elif kind == "Complaint":
        notice["complaint"] = {
            "complainedRecipients": [{"emailAddress": r} for r in recipients],
            "complaintFeedbackType": "abuse",
            "timestamp": "2026-11-26T10:40:00.000Z",
            "feedbackId": feedback_id,
        }
    elif kind == "Delivery":
        notice["delivery"] = {"timestamp": "2026-11-26T10:30:07.000Z", "recipients": recipients}
    return {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": json.dumps(notice)}}]}


def address_mark(address: str) -> dict[str, Any] | None:
    response = runtime.dynamodb().get_item(
        TableName=get_settings().table_name, Key=to_item(keys.address_key(address))
    )
    return from_item(response["Item"]) if "Item" in response else None


def test_outgoing_mail_is_tagged_with_its_case_and_message(ses: RecordingSes, mailbox: Any) -> None:
    receipt = submit()
    assert drain(ses).sent == 3  # moto accepts the tags and the configuration set
    ack = sent_message(receipt, "intake_ack")
    request = ses.sent[ack["ses_message_id"]]
    assert request["ConfigurationSetName"] == "dx-desk-events"
    assert {t["Name"]: t["Value"] for t in request["EmailTags"]} == {
        "receipt_number": receipt,
        "message_id": ack["message_id"],
        "template": "intake_ack",
    }


def test_permanent_bounce_marks_the_address_records_it_and_tells_staff(
    ses: RecordingSes, mailbox: Any
) -> None:
    receipt = submit()
    drain(ses)
    ack = sent_message(receipt, "intake_ack")
    assert ses_events(notification(ses, ack, "Bounce"), None) == {"undeliverable": 1}

    mark = address_mark(REQUESTER)
    assert mark is not None
    assert mark["reason"] == "bounce" and mark["retention_class"] == "deliverability"
    assert mark["expires_at"] > NOW.timestamp() + 300 * 86400
    # The address is named only by its digest: never in a key, never as a value.
    assert mark["pk"] == "ADDRESS#" + keys.address_digest(REQUESTER)
    assert REQUESTER not in json.dumps(mark)

    (event,) = events(receipt)
    assert event["type"] == "mail_undeliverable" and event["label"] == "配信不能"
    assert event["recipients"] == [REQUESTER] and event["message_id"] == ack["message_id"]

    assert drain(ses, at=timedelta(hours=1)).sent == 2
    notices = sorted(mailbox()[3:], key=lambda m: str(m["To"]))
    assert [m["To"] for m in notices] == [STAFF_A, STAFF_B]
    for notice in notices:
        assert str(notice["Subject"]).startswith(f"【配信不能】{receipt} 受付の自動返信")
        text = notice.get_body(("plain",)).get_content()
        assert REQUESTER in text and "059-000-0000" in text  # the phone, to call instead
        assert "365日間" in text and "(English)" in text


def test_the_same_notification_delivered_twice_acts_once(ses: RecordingSes, mailbox: Any) -> None:
    receipt = submit()
    drain(ses)
    record = notification(ses, sent_message(receipt, "intake_ack"), "Bounce")
    assert ses_events(record, None) == {"undeliverable": 1}
    assert ses_events(record, None) == {"duplicate": 1}
    assert len(events(receipt)) == 1
    assert len(messages(receipt, NOTICE)) == 2
    drain(ses, at=timedelta(hours=1))
    assert len(mailbox()) == 3 + 2


def test_a_transient_bounce_is_only_recorded_on_the_timeline(
    ses: RecordingSes, mailbox: Any
) -> None:
    receipt = submit()
    drain(ses)
    record = notification(
        ses, sent_message(receipt, "intake_ack"), "Bounce", bounce_type="Transient"
    )
    assert ses_events(record, None) == {"recorded": 1}
    (event,) = events(receipt)
    assert event["type"] == "mail_bounce_transient" and event["detail"] == "Transient/General"
    assert address_mark(REQUESTER) is None
    assert messages(receipt, NOTICE) == []


def test_a_complaint_marks_the_address_and_tells_staff(ses: RecordingSes, mailbox: Any) -> None:
    receipt = submit()
    drain(ses)
    record = notification(ses, sent_message(receipt, "intake_ack"), "Complaint")
    assert ses_events(record, None) == {"undeliverable": 1}
    mark = address_mark(REQUESTER)
    assert mark is not None and mark["reason"] == "complaint"
    assert [e["reason"] for e in events(receipt)] == ["complaint"]
    notices = messages(receipt, NOTICE)
    assert sorted(n["to"][0] for n in notices) == [STAFF_A, STAFF_B]
    assert {n["context"]["failure"]["reason"] for n in notices} == {"complaint"}


def test_a_delivery_is_noted_on_the_outgoing_mail(ses: RecordingSes, mailbox: Any) -> None:
    receipt = submit()
    drain(ses)
    ack = sent_message(receipt, "intake_ack")
    assert ses_events(notification(ses, ack, "Delivery"), None) == {"delivered": 1}
    assert sent_message(receipt, "intake_ack")["delivered_at"] == "2026-11-26T10:30:07.000000Z"
    assert events(receipt) == []


def test_a_bouncing_staff_address_is_left_out_and_a_bounced_notice_tells_nobody(
    ses: RecordingSes, mailbox: Any
) -> None:
    receipt = submit()
    drain(ses)
    staff_a_mail = sent_message(receipt, "intake_staff", STAFF_A)
    assert ses_events(notification(ses, staff_a_mail, "Bounce"), None) == {"undeliverable": 1}
    # Staff A's mailbox is gone: only staff B is told.
    (notice,) = messages(receipt, NOTICE)
    assert notice["to"] == [STAFF_B]
    drain(ses, at=timedelta(hours=1))
    # The notice itself bounces: the address is marked, and no notice about a notice follows.
    bounced = sent_message(receipt, NOTICE, STAFF_B)
    record = notification(ses, bounced, "Bounce", feedback_id="0100019-feedback-2")
    assert ses_events(record, None) == {"undeliverable": 1}
    assert address_mark(STAFF_B) is not None
    assert len(messages(receipt, NOTICE)) == 1
    assert sorted(e["template"] for e in events(receipt)) == ["intake_staff", NOTICE]
    assert drain(ses, at=timedelta(hours=2)).sent == 0


def test_a_bounce_naming_no_case_still_marks_the_address(aws: dict[str, Any]) -> None:
    notice = {
        "eventType": "Bounce",
        "mail": {"messageId": "ses-untagged-1", "destination": ["someone@example.com"]},
        "bounce": {
            "bounceType": "Permanent",
            "bounceSubType": "NoEmail",
            "bouncedRecipients": [{"emailAddress": "someone@example.com"}],
            "feedbackId": "fb-untagged-1",
        },
    }
    record = {"Records": [{"Sns": {"Message": json.dumps(notice)}}]}
    assert ses_events(record, None) == {"undeliverable": 1}
    assert address_mark("Someone@Example.com") is not None  # case-insensitive


def test_unreadable_and_foreign_notifications_change_nothing(aws: dict[str, Any]) -> None:
    received = {"notificationType": "Received", "mail": {"messageId": "m1"}, "receipt": {}}
    records = {
        "Records": [
            {"Sns": {"Message": "not json"}},
            {"Sns": {"Message": json.dumps(received)}},
            {"no": "sns"},
        ]
    }
    assert ses_events(records, None) == {"unreadable": 1, "ignored": 1}


def test_notices_go_to_the_stored_staff_list_not_the_fallback(
    ses: RecordingSes, mailbox: Any
) -> None:
    """Once admins keep the staff list, bounce notices follow it (STAFF_NOTIFY_TO is a fallback)."""
    from chalicelib.admin.access import SYSTEM
    from chalicelib.core import directory
    from chalicelib.core.staff import StaffMember

    desk_c = "staff-c@dx-desk.example.jp"
    directory.save_staff(
        runtime.admin_store(),
        SYSTEM,
        StaffMember(staff_id="staff-c", display_name="職員C", email=desk_c),
        create=True,
        now=runtime.now(),
        settings=get_settings(),
    )
    runtime.forget_directory()
    receipt = submit()
    drain(ses)
    ack = sent_message(receipt, "intake_ack")
    assert ses_events(notification(ses, ack, "Bounce"), None) == {"undeliverable": 1}
    drain(ses, at=timedelta(hours=1))
    notices = [m for m in mailbox() if str(m["Subject"]).startswith("【配信不能】")]
    assert [m["To"] for m in notices] == [desk_c]
