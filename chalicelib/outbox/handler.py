"""Event handlers that send the outbox: the table's stream, and a sweep on a schedule."""

from __future__ import annotations

import logging
from typing import Any

from chalice.app import Blueprint, Rate

log = logging.getLogger(__name__)

bp = Blueprint(__name__)


def _new_messages(event: dict[str, Any]) -> list[dict[str, Any]]:
    """The outgoing messages a stream batch inserted (other records are ignored)."""
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
        DynamoDBRecordEventName,
        DynamoDBStreamEvent,
    )

    from chalicelib.storage.dynamo import plain

    found = []
    for record in DynamoDBStreamEvent(event).records if "Records" in event else ():
        if record.event_name is not DynamoDBRecordEventName.INSERT or record.dynamodb is None:
            continue
        # Powertools decodes the image as boto3 does (numbers as Decimal); the desk's are whole.
        image = plain(record.dynamodb.new_image)
        if image.get("kind") == "message" and image.get("state") == "PENDING":
            found.append(image)
    return found


# The stream trigger is declared in infra/resources.yaml (OutboxStreamMapping):
# Chalice's own DynamoDB-stream decorator needs the stream ARN at import time.
@bp.lambda_function(name="outbox_stream")
def outbox_stream(event: dict[str, Any], context: Any) -> dict[str, int]:
    # Imported here, not at module level: the API function never needs the
    # renderer, and Jinja2 would lengthen its cold start.
    from chalicelib import runtime
    from chalicelib.outbox.service import send

    outcomes: dict[str, int] = {}
    desk = runtime.desk()
    for message in _new_messages(event):
        for outcome in send(
            message, outbox=runtime.outbox_store(), mailer=runtime.mailer(), desk=desk
        ):
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    log.info("outbox stream: %s", outcomes)
    return outcomes


@bp.schedule(Rate(1, unit=Rate.MINUTES), name="outbox_sweep")
def outbox_sweep(event: Any) -> dict[str, int]:
    """Retries after throttling, stragglers the stream missed, claims that outlived their lease."""
    return sweep_once()


def sweep_once() -> dict[str, int]:
    from chalicelib import runtime
    from chalicelib.outbox.service import drain

    report = drain(outbox=runtime.outbox_store(), mailer=runtime.mailer(), desk=runtime.desk())
    counts = {
        "sent": report.sent,
        "retried": report.retried,
        "failed": report.failed,
        "unknown": report.unknown,
    }
    log.info("outbox sweep: %s", counts)
    return counts
