"""The transactional outbox under moto: every mail once, retries, failures told, no duplicates."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from chalicelib import runtime
from chalicelib.core.timefmt import iso
from chalicelib.intake.service import submit_consultation
from chalicelib.outbox import service as outbox_service
from chalicelib.outbox.handler import outbox_stream
from chalicelib.storage.mailer import SesMailer, email_tags
from tests.conftest import NOW, valid_payload


class Crash(BaseException):
    """Stands for the process dying (Lambda timeout, out of memory) at a chosen point."""


class FlakySes:
    """Wraps the real (moto) SES client: fails the first calls as told, then passes through."""

    def __init__(
        self, real: Any, failures: list[BaseException], crash_after_send: bool = False
    ) -> None:
        self.real = real
        self.failures = list(failures)
        self.crash_after_send = crash_after_send
        self.calls = 0

    def send_email(self, **kwargs: Any) -> Any:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        response = self.real.send_email(**kwargs)
        if self.crash_after_send:
            self.crash_after_send = False
            raise Crash()
        return response


def ses_error(code: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "SendEmail",
    )


def submit(**overrides: Any) -> str:
    result = submit_consultation(
        valid_payload(**overrides),
        store=runtime.case_store(),
        channel="api",
        desk=runtime.desk().at(NOW),
    )
    return result.receipt_number


def drain(mailer: Any = None, at: timedelta = timedelta(0)) -> outbox_service.DrainReport:
    return outbox_service.drain(
        outbox=runtime.outbox_store(),
        mailer=mailer or runtime.mailer(),
        jitter=lambda: 1.0,
        desk=runtime.desk().at(NOW + at),
    )


def messages_of(receipt: str) -> list[dict[str, Any]]:
    return [item for item in runtime.case_store().case_items(receipt) if item["kind"] == "message"]


def events_of(receipt: str) -> list[dict[str, Any]]:
    return [item for item in runtime.case_store().case_items(receipt) if item["kind"] == "event"]


NOTICE = "mail_undeliverable_staff"
REQUESTER = "requester-a@example.com"
STAFF_A = "staff-a@dx-desk.example.jp"
STAFF_B = "staff-b@dx-desk.example.jp"


def mark_undeliverable(*addresses: str) -> None:
    """What a permanent bounce leaves behind (outbox/deliverability.py writes it the same way)."""
    assert runtime.address_store().record_event(
        "test-bounce:" + ",".join(addresses),
        at=iso(NOW),
        now_epoch=int(NOW.timestamp()),
        kind="bounce",
        receipt_number="",
        marks=[{"address": address, "reason": "bounce"} for address in addresses],
        timeline=None,
        notices=[],
    )


def test_drain_sends_each_mail_once_and_forgets_the_personal_data(
    aws: dict[str, Any], mailbox: Any
) -> None:
    receipt = submit()
    assert mailbox() == []  # nothing is sent on the request path
    report = drain()
    assert report.sent == 3
    assert sorted(m["To"] for m in mailbox()) == [
        "requester-a@example.com",
        "staff-a@dx-desk.example.jp",
        "staff-b@dx-desk.example.jp",
    ]
    assert all(receipt in m["Subject"] for m in mailbox())
    for message in messages_of(receipt):
        assert message["state"] == "SENT"
        assert "context" not in message  # the rendering copy of the case is dropped
        assert "gsi2pk" not in message  # out of the outbox index
    assert drain(at=timedelta(hours=1)).sent == 0
    assert len(mailbox()) == 3


def test_throttled_three_times_then_ok_sends_exactly_one_mail(
    aws: dict[str, Any], mailbox: Any
) -> None:
    receipt = submit(requester_type="resident", organization=None)
    flaky = FlakySes(runtime.sesv2(), [ses_error("TooManyRequestsException", 429)] * 3)
    mailer = SesMailer(flaky)
    # SES throttles the account, not one message: the three mails share the three refusals.
    elapsed = timedelta(0)
    for _ in range(10):
        drain(mailer, at=elapsed)
        elapsed += timedelta(hours=2)
    assert flaky.calls == 6  # three throttled, then one success for each of the three mails
    assert sorted(m["To"] for m in mailbox()) == [
        "requester-a@example.com",
        "staff-a@dx-desk.example.jp",
        "staff-b@dx-desk.example.jp",
    ]
    messages = messages_of(receipt)
    assert {m["state"] for m in messages} == {"SENT"}
    assert sum(m["attempts"] for m in messages) == 6


def test_backoff_waits_before_the_next_try(aws: dict[str, Any], mailbox: Any) -> None:
    receipt = submit()
    flaky = FlakySes(runtime.sesv2(), [ses_error("TooManyRequestsException", 429)] * 2)
    report = drain(SesMailer(flaky))
    assert report.retried == 2 and report.sent == 1
    assert drain(SesMailer(flaky), at=timedelta(seconds=5)).sent == 0  # not due yet
    assert drain(SesMailer(flaky), at=timedelta(seconds=31)).sent == 2
    assert len(mailbox()) == 3
    assert all(m["state"] == "SENT" for m in messages_of(receipt))


def test_ses_rejects_a_mail_it_is_recorded_and_staff_are_told(
    aws: dict[str, Any], mailbox: Any
) -> None:
    receipt = submit(requester_type="resident", organization=None)
    flaky = FlakySes(runtime.sesv2(), [ses_error("MessageRejected")])
    report = drain(SesMailer(flaky))
    assert report.failed == 1 and report.sent == 2
    failed = [m for m in messages_of(receipt) if m["state"] == "FAILED"]
    assert len(failed) == 1
    assert failed[0]["last_error"] == "MessageRejected"
    (event,) = events_of(receipt)
    assert event["type"] == "mail_failed"
    assert event["message_id"] == failed[0]["message_id"]
    # The desk is told, in the same write: one notice per desk address, threaded with the case.
    notices = [m for m in messages_of(receipt) if m["template"] == NOTICE]
    assert sorted(m["to"][0] for m in notices) == [STAFF_A, STAFF_B]
    assert drain(at=timedelta(minutes=1)).sent == 2
    told = [m for m in mailbox() if str(m["Subject"]).startswith("【配信不能】")]
    assert sorted(m["To"] for m in told) == [STAFF_A, STAFF_B]
    for message in told:
        assert receipt in str(message["Subject"])
        text = message.get_body(("plain",)).get_content()
        assert "送信を拒否しました" in text and "MessageRejected" in text
    assert drain(at=timedelta(days=1)).sent == 0  # the rejected mail is never retried
    assert len(mailbox()) == 4


def test_mail_to_an_undeliverable_address_fails_at_once_and_staff_are_told(
    aws: dict[str, Any], mailbox: Any
) -> None:
    mark_undeliverable("Requester-A@Example.com")
    receipt = submit()
    flaky = FlakySes(runtime.sesv2(), [])
    report = drain(SesMailer(flaky))
    assert report.failed == 1 and report.sent == 2
    assert flaky.calls == 2  # SES never saw the undeliverable address
    (failed,) = [m for m in messages_of(receipt) if m["state"] == "FAILED"]
    assert failed["template"] == "intake_ack" and failed["last_error"] == "undeliverable"
    (event,) = events_of(receipt)
    assert event["type"] == "mail_failed" and event["error"] == "undeliverable"
    assert event["recipients"] == [REQUESTER]
    assert drain(at=timedelta(minutes=1)).sent == 2
    assert REQUESTER not in [m["To"] for m in mailbox()]
    notice = next(m for m in mailbox() if str(m["Subject"]).startswith("【配信不能】"))
    assert "以前に配信不能" in notice.get_body(("plain",)).get_content()
    assert drain(at=timedelta(days=2)).sent == 0  # no retry loop
    assert len(mailbox()) == 4


def test_notices_skip_undeliverable_staff_and_a_failing_notice_causes_no_other(
    aws: dict[str, Any], mailbox: Any
) -> None:
    mark_undeliverable(REQUESTER, STAFF_A)
    receipt = submit()
    assert drain().failed == 2  # the acknowledgement and staff A's notification
    notices = [m for m in messages_of(receipt) if m["template"] == NOTICE]
    assert [m["to"] for m in notices] == [[STAFF_B], [STAFF_B]]
    # Staff B's mailbox goes too before the notices leave: they fail, and nothing follows.
    mark_undeliverable(STAFF_B)
    report = drain(at=timedelta(minutes=1))
    assert report.failed == 2 and report.sent == 0
    assert len([m for m in messages_of(receipt) if m["template"] == NOTICE]) == 2
    assert drain(at=timedelta(days=1)).sent == 0
    assert [m["To"] for m in mailbox()] == [STAFF_B]  # only staff B's notification went out


def test_crash_after_send_before_mark_sent_never_sends_twice(
    aws: dict[str, Any], mailbox: Any
) -> None:
    receipt = submit()
    flaky = FlakySes(runtime.sesv2(), [], crash_after_send=True)
    with pytest.raises(Crash):
        drain(SesMailer(flaky))
    assert len(mailbox()) == 1
    # While the lease holds nobody touches it; after it, it is marked, not resent.
    drain(at=timedelta(minutes=1))
    report = drain(at=timedelta(minutes=10))
    assert report.unknown == 1
    states = sorted(m["state"] for m in messages_of(receipt))
    assert states == ["SENT", "SENT", "UNKNOWN"]
    assert len(mailbox()) == 3  # the crashed one once, the others once each
    assert [e["type"] for e in events_of(receipt)] == ["mail_unknown"]


def test_a_read_timeout_is_not_retried_because_ses_may_have_sent(
    aws: dict[str, Any], mailbox: Any
) -> None:
    receipt = submit()
    flaky = FlakySes(runtime.sesv2(), [ReadTimeoutError(endpoint_url="https://email")])
    report = drain(SesMailer(flaky))
    assert report.unknown == 1 and report.sent == 2
    assert drain(at=timedelta(days=1)).sent == 0
    assert sorted(m["state"] for m in messages_of(receipt)) == ["SENT", "SENT", "UNKNOWN"]


def test_parallel_senders_send_each_mail_exactly_once(aws: dict[str, Any], mailbox: Any) -> None:
    for i in range(5):
        submit(email=f"requester-{i}@example.com")
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def sender() -> None:
        try:
            barrier.wait()
            drain()
        except BaseException as exc:  # a test thread must report, not swallow
            errors.append(exc)

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    recipients = [m["To"] for m in mailbox()]
    assert len(recipients) == 15
    assert (
        len([r for r in recipients if r.startswith("requester-")])
        == len({r for r in recipients if r.startswith("requester-")})
        == 5
    )


def test_stream_records_drive_the_sender(aws: dict[str, Any], mailbox: Any) -> None:
    import boto3

    table = aws["env"]["TABLE_NAME"]
    stream_arn = aws["dynamodb"].describe_table(TableName=table)["Table"]["LatestStreamArn"]
    streams = boto3.client("dynamodbstreams")
    receipt = submit()
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records += streams.get_records(ShardIterator=iterator)["Records"]
    assert len(records) >= 4  # case, the reply, the staff fan-out, counter (and more)
    outcomes = outbox_stream({"Records": records}, None)
    # The fan-out became one notice per staff address, sent in the same invocation.
    assert outcomes == {"expanded": 1, "sent": 3}
    assert all(receipt in m["Subject"] for m in mailbox())
    # The same batch delivered again (Lambda retries) sends nothing more.
    assert outbox_stream({"Records": records}, None) == {"skipped": 2}
    assert len(mailbox()) == 3


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        ("TooManyRequestsException", 429, "TransientSendError"),
        ("LimitExceededException", 400, "TransientSendError"),
        ("InternalFailure", 500, "TransientSendError"),
        ("MessageRejected", 400, "PermanentSendError"),
        ("MailFromDomainNotVerifiedException", 400, "PermanentSendError"),
        ("AccountSuspendedException", 400, "PermanentSendError"),
    ],
)
def test_ses_errors_are_translated_at_the_adapter(
    aws: dict[str, Any], code: str, status: int, kind: str
) -> None:
    from botocore.stub import Stubber

    client = runtime.sesv2()
    with Stubber(client) as stub:
        stub.add_client_error("send_email", service_error_code=code, http_status_code=status)
        with pytest.raises(Exception) as info:
            SesMailer(client).send(
                b"raw",
                sender="desk@dx-desk.example.jp",
                to=["a@example.com"],
                tags={"message_id": "t"},
            )
    assert type(info.value).__name__ == kind


def test_a_missing_setting_keeps_the_mail_waiting_instead_of_losing_it(
    aws: dict[str, Any], mailbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    receipt = submit()
    # Staff mail carries signed links, and so does the reply (the requester's own page).
    monkeypatch.setenv("LINK_SIGNING_KEYS", "")
    report = drain()
    assert report.sent == 0 and report.retried == 3
    assert [m["state"] for m in messages_of(receipt)] == ["PENDING"] * 3
    assert mailbox() == []
    monkeypatch.setenv("LINK_SIGNING_KEYS", aws["env"]["LINK_SIGNING_KEYS"])
    assert drain(at=timedelta(hours=1)).sent == 3
    assert len(mailbox()) == 3


def test_a_broken_template_keeps_the_mail_waiting(
    aws: dict[str, Any], mailbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.core import case as case_rules

    original = case_rules.intake_fanout_messages

    def with_unknown_template(*args: Any, **kwargs: Any) -> Any:
        messages = original(*args, **kwargs)
        return [
            case_rules.OutgoingMessage(template="no_such_template", to=m.to, context=m.context)
            for m in messages[:1]
        ] + messages[1:]

    monkeypatch.setattr(case_rules, "intake_fanout_messages", with_unknown_template)
    receipt = submit()
    report = drain()
    assert report.retried == 1 and report.sent == 2
    waiting = [m for m in messages_of(receipt) if m["state"] == "PENDING"]
    assert len(waiting) == 1 and waiting[0]["last_error"] == "RenderError"


def test_tag_values_are_reduced_to_what_ses_accepts() -> None:
    assert email_tags({"receipt_number": "DX-261126-482175", "message_id": "a.b@c d"}) == [
        {"Name": "receipt_number", "Value": "DX-261126-482175"},
        {"Name": "message_id", "Value": "a_b_c_d"},
    ]
    assert email_tags({"template": ""}) == [{"Name": "template", "Value": "_"}]
    assert len(email_tags({"message_id": "x" * 300})[0]["Value"]) == 256
