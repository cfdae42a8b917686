"""Faults injected where AWS raises them: DynamoDB and SES errors travel the real botocore path.

The errors are raised inside moto's backend, so botocore parses them off the
wire and applies its own retries before the desk's code sees them (a
Stubber would skip both). Related tests elsewhere: SES throttled three
times then OK, a crash inside the SES call and SES read timeouts
(tests/integration/test_outbox.py); DynamoDB throttling through a Stubber
(tests/app/test_intake_routes.py).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from moto.dynamodb.exceptions import (
    ERROR_TYPE_PREFIX,
    DynamodbException,
    TransactionCanceledException,
)
from moto.dynamodb.models import DynamoDBBackend

from chalicelib import runtime
from chalicelib.intake import service as intake_service
from chalicelib.outbox import service as outbox_service
from chalicelib.outbox.handler import outbox_stream
from chalicelib.runtime import get_settings
from tests.conftest import valid_payload

JSON = {"Content-Type": "application/json"}


def dynamodb_tries() -> int:
    """HTTP tries botocore makes per DynamoDB call (chalicelib/runtime.py: standard mode)."""
    retries = runtime.dynamodb().meta.config.retries
    # `max_attempts` counts the retries only; `total_max_attempts` the first try too.
    return int(retries.get("total_max_attempts") or retries["max_attempts"] + 1)


@pytest.fixture(autouse=True)
def no_retry_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore retries as configured, without sleeping between the tries."""
    from botocore.retries.standard import ExponentialBackoff

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)
    monkeypatch.setattr(intake_service.time, "sleep", lambda seconds: None)


def all_items(aws: dict[str, Any]) -> list[dict[str, Any]]:
    # A test-only Scan proving what is (not) in the table; request paths never scan.
    return list(aws["dynamodb"].scan(TableName=aws["env"]["TABLE_NAME"])["Items"])


def post(client: Any, payload: dict[str, Any]) -> Any:
    return client.http.post("/consultations", headers=JSON, body=json.dumps(payload))


def throttled(code: str, status: int = 400) -> Callable[[list[Any]], Exception]:
    def make(transact_items: list[Any]) -> Exception:
        error = DynamodbException(ERROR_TYPE_PREFIX + code, f"{code} (injected)")
        error.code = status
        return error

    return make


def cancelled_by_throttling(transact_items: list[Any]) -> Exception:
    """TransactWriteItems refused because one item's partition or index was throttled."""
    reasons: list[Any] = [(None, None, None)] * len(transact_items)
    reasons[-1] = ("ThrottlingError", "Throughput exceeds the current capacity (injected)", None)
    return TransactionCanceledException(reasons)


@pytest.fixture
def fail_transactions(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """`fail_transactions(make_error, times)`: the next `times` TransactWriteItems raise."""
    real = DynamoDBBackend.transact_write_items
    state: dict[str, Any] = {"left": 0, "make": None, "calls": 0}

    def transact_write_items(self: Any, transact_items: list[Any]) -> Any:
        state["calls"] += 1
        if state["left"] > 0:
            state["left"] -= 1
            raise state["make"](transact_items)
        return real(self, transact_items)

    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", transact_write_items)

    def arm(make_error: Callable[[list[Any]], Exception], times: int) -> dict[str, Any]:
        state.update(left=times, make=make_error, calls=0)
        return state

    yield arm


THROTTLES = {
    # code → (error, retried by botocore as well as by the service)
    "ProvisionedThroughputExceededException": (
        throttled("ProvisionedThroughputExceededException"),
        True,
    ),
    "ThrottlingException": (throttled("ThrottlingException"), True),
    "RequestLimitExceeded": (throttled("RequestLimitExceeded"), True),
    "InternalServerError (HTTP 500)": (throttled("InternalServerError", 500), True),
    # botocore does not retry a cancelled transaction; the service does.
    "TransactionCanceled: ThrottlingError": (cancelled_by_throttling, False),
}


@pytest.mark.parametrize("fault", list(THROTTLES))
def test_throttled_intake_answers_503_json_writes_nothing_and_a_resend_is_a_new_case(
    client: Any, aws: dict[str, Any], mailbox: Any, fail_transactions: Any, fault: str
) -> None:
    make_error, botocore_retries = THROTTLES[fault]
    state = fail_transactions(make_error, times=100)
    busy = post(client, valid_payload())

    assert busy.status_code == 503
    assert busy.headers["Content-Type"].startswith("application/json")
    assert busy.headers["Retry-After"] == "60"
    assert busy.json_body["error"] == "busy"
    assert "入力内容は失われていません" in busy.json_body["message"]
    assert busy.json_body["message_en"]
    # Retried (botocore's tries inside each of the service's attempts), then given up.
    tries = intake_service.MAX_ATTEMPTS * (dynamodb_tries() if botocore_retries else 1)
    assert state["calls"] == tries
    # Nothing half-written: no case, mail, idempotency record, counter or rate window.
    assert all_items(aws) == []

    state["left"] = 0  # DynamoDB recovers
    again = post(client, valid_payload())
    assert again.status_code == 201
    # A leftover idempotency record would have made this a replay of a case that does not exist.
    assert "Idempotent-Replayed" not in again.headers
    receipt = again.json_body["receipt_number"]
    assert runtime.case_store().get_case(receipt) is not None
    from chalicelib.outbox.handler import sweep_once

    assert sweep_once()["sent"] == 3
    assert Counter(m["To"] for m in mailbox()) == Counter(
        ["requester-a@example.com", "staff-a@dx-desk.example.jp", "staff-b@dx-desk.example.jp"]
    )


def test_throttled_twice_then_ok_stores_one_case_without_the_client_noticing(
    client: Any, aws: dict[str, Any], fail_transactions: Any
) -> None:
    state = fail_transactions(throttled("ProvisionedThroughputExceededException"), times=2)
    response = post(client, valid_payload())
    assert response.status_code == 201
    assert state["calls"] == 3  # two refusals absorbed by botocore's retries, then the write
    kinds = Counter(item["kind"]["S"] for item in all_items(aws))
    # The reply and the fan-out of the staff notices (the outbox addresses them when sending).
    assert kinds["case"] == 1 and kinds["message"] == 2


def test_an_intake_write_whose_answer_is_lost_is_not_stored_twice_on_resend(
    client: Any, aws: dict[str, Any], mailbox: Any
) -> None:
    """DynamoDB committed, the answer never arrived (a read timeout after the write)."""
    from botocore.exceptions import ReadTimeoutError

    def lose_the_answer_once(**_: Any) -> None:
        runtime.dynamodb().meta.events.unregister(
            "after-call.dynamodb.TransactWriteItems", unique_id="lose-answer"
        )
        raise ReadTimeoutError(endpoint_url="https://dynamodb")

    runtime.dynamodb().meta.events.register(
        "after-call.dynamodb.TransactWriteItems", lose_the_answer_once, unique_id="lose-answer"
    )
    lost = post(client, valid_payload())
    # A timeout is "busy" to the store; the intake's own retry then meets the write that
    # did happen (same content within the replay window) and answers its receipt number.
    assert lost.status_code == 201
    (stored,) = [i for i in all_items(aws) if i["kind"]["S"] == "case"]
    assert lost.json_body["receipt_number"] == stored["receipt_number"]["S"]

    resent = post(client, valid_payload())
    assert resent.status_code == 201
    assert resent.headers.get("Idempotent-Replayed") == "true"
    assert resent.json_body["receipt_number"] == stored["receipt_number"]["S"]
    assert [i for i in all_items(aws) if i["kind"]["S"] == "case"] == [stored]
    from chalicelib.outbox.handler import sweep_once

    sweep_once()
    assert len(mailbox()) == 3


# --- the outbox: SES accepted, then the mark-sent write failed --------------------------------


def stream_records(aws: dict[str, Any]) -> list[dict[str, Any]]:
    import boto3

    table = aws["env"]["TABLE_NAME"]
    arn = aws["dynamodb"].describe_table(TableName=table)["Table"]["LatestStreamArn"]
    streams = boto3.client("dynamodbstreams")
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records += streams.get_records(ShardIterator=iterator)["Records"]
    return records


def drain_at(later: timedelta) -> outbox_service.DrainReport:
    return outbox_service.drain(
        outbox=runtime.outbox_store(),
        mailer=runtime.mailer(),
        jitter=lambda: 1.0,
        desk=runtime.desk().at(runtime.now() + later),
    )


def test_mark_sent_failing_after_ses_accepted_never_sends_twice(
    aws: dict[str, Any], mailbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    receipt = intake_service.submit_consultation(
        valid_payload(),
        store=runtime.case_store(),
        channel="api",
        desk=runtime.desk(),
    ).receipt_number
    records = stream_records(aws)

    real_update = DynamoDBBackend.update_item
    outage = {"on": True, "refused": 0}

    def update_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        # The SENDING → SENT write (mark_sent) is the one that sets sent_at.
        if outage["on"] and "sent_at" in str(kwargs.get("update_expression", "")):
            outage["refused"] += 1
            error = DynamodbException(ERROR_TYPE_PREFIX + "InternalServerError", "injected")
            error.code = 500
            raise error
        return real_update(self, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "update_item", update_item)

    # The stream invocation sends the first mail; recording it fails (after botocore's
    # retries), so the invocation fails and Lambda will retry the whole batch.
    with pytest.raises(ClientError) as info:
        outbox_stream({"Records": records}, None)
    assert info.value.response["Error"]["Code"] == "InternalServerError"
    assert outage["refused"] == dynamodb_tries()
    assert len(mailbox()) == 1
    outage["on"] = False

    # Lambda's retry of the same batch: the message whose claim is still held is skipped.
    # (The staff fan-out in the batch becomes the two staff notices, sent then.)
    assert outbox_stream({"Records": records}, None) == {"skipped": 1, "expanded": 1, "sent": 2}
    # The one-minute sweep inside the five-minute lease leaves it alone ...
    assert drain_at(timedelta(minutes=1)).outcomes == []
    # ... and after the lease marks it UNKNOWN for staff, never resending it.
    report = drain_at(timedelta(minutes=6))
    assert (report.unknown, report.sent) == (1, 0)
    for later in (timedelta(hours=1), timedelta(days=1)):
        assert drain_at(later).outcomes == []

    recipients = Counter(m["To"] for m in mailbox())
    assert recipients == Counter(
        ["requester-a@example.com", "staff-a@dx-desk.example.jp", "staff-b@dx-desk.example.jp"]
    )
    items = runtime.case_store().case_items(receipt)
    states = sorted(i["state"] for i in items if i["kind"] == "message")
    assert states == ["SENT", "SENT", "UNKNOWN"]
    (event,) = [i for i in items if i["kind"] == "event"]
    assert event["type"] == "mail_unknown" and event["error"] == "lease_expired"


def test_a_staff_mail_with_no_link_to_offer_is_sent_not_retried_forever(
    client: Any, mailbox: Any
) -> None:
    """Matching with no suitable expert (here: an empty roster) still tells the staff member."""
    from chalicelib.core.actiontoken import link_for
    from chalicelib.core.lifecycle import Action
    from chalicelib.outbox.handler import sweep_once

    receipt = post(client, valid_payload()).json_body["receipt_number"]
    staff = "staff-a@dx-desk.example.jp"
    for action in (Action.START_HEARING, Action.START_MATCHING):
        url = link_for(
            get_settings(),
            action=action,
            receipt_number=receipt,
            recipient=staff,
            now=runtime.now(),
        )
        path = "/actions/" + url.rsplit("/", 1)[1]
        pressed = client.http.post(
            path, headers={"Content-Type": "application/x-www-form-urlencoded"}, body=""
        )
        assert pressed.status_code == 200
    assert sweep_once() == {"sent": 4, "retried": 0, "failed": 0, "unknown": 0}
    (matching,) = [m for m in mailbox() if "専門家の候補" in str(m["Subject"])]
    assert matching["To"] == staff
    plain = matching.get_body(("plain",))
    assert plain is not None
    assert "条件に合う専門家が見つかりませんでした" in plain.get_content()
    messages = [i for i in runtime.case_store().case_items(receipt) if i["kind"] == "message"]
    assert {m["state"] for m in messages} == {"SENT"}
