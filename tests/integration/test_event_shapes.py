"""The job handlers read Lambda's events through Powertools' data classes: what they skip, they skip as before."""

from __future__ import annotations

from typing import Any

from chalicelib.mailin.handler import inbound_mail
from chalicelib.outbox.handler import outbox_stream
from chalicelib.outbox.ses_events import ses_events
from chalicelib.storage.dynamo import to_item


def test_events_without_records_change_nothing(aws: dict[str, Any]) -> None:
    assert inbound_mail({}, None) == {}
    assert ses_events({}, None) == {}
    assert outbox_stream({}, None) == {}


def stream_record(event_name: str, image: dict[str, Any] | None) -> dict[str, Any]:
    """A DynamoDB stream record as Lambda delivers it."""
    dynamodb: dict[str, Any] = {
        "ApproximateCreationDateTime": 1795689000,
        "Keys": {"pk": {"S": "CASE#R-1"}, "sk": {"S": "MSG#m-1"}},
        "SequenceNumber": "100000000000000000001",
        "SizeBytes": 120,
        "StreamViewType": "NEW_IMAGE",
    }
    if image is not None:
        dynamodb["NewImage"] = to_item(image)
    return {
        "eventID": "e-1",
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "ap-northeast-1",
        "dynamodb": dynamodb,
        "eventSourceARN": "arn:aws:dynamodb:ap-northeast-1:123456789012:table/dx-desk-local/stream/2026-11-26T00:00:00.000",
    }


def test_the_stream_handler_sends_only_inserted_pending_messages(aws: dict[str, Any]) -> None:
    pending = {"kind": "message", "state": "PENDING", "message_id": "m-1", "attempts": 0}
    records = [
        stream_record("MODIFY", pending),
        stream_record("REMOVE", None),
        stream_record("INSERT", {**pending, "state": "SENT"}),
        stream_record("INSERT", {"kind": "case", "state": "PENDING"}),
        stream_record("INSERT", None),
    ]
    assert outbox_stream({"Records": records}, None) == {}
