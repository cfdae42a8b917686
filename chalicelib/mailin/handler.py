"""Inbound mail: SES stores the raw message in S3 and notifies an SNS topic, which runs this."""

from __future__ import annotations

import json
import logging
from typing import Any

from chalice.app import Blueprint

log = logging.getLogger(__name__)

bp = Blueprint(__name__)

VERDICTS = ("spf", "dkim", "dmarc", "spam", "virus")


def receipts(event: dict[str, Any]) -> list[Any]:
    """The SES receipt notifications in an SNS event (other records are skipped)."""
    from chalicelib.mailin.service import SesReceipt

    found = []
    for record in event.get("Records", []):
        try:
            notice = json.loads(record["Sns"]["Message"])
            if notice.get("notificationType") != "Received":
                continue
            receipt = notice["receipt"]
            action = receipt["action"]
            found.append(
                SesReceipt(
                    message_id=str(notice["mail"]["messageId"]),
                    recipients=[str(r) for r in receipt.get("recipients", [])],
                    verdicts={
                        name: str((receipt.get(f"{name}Verdict") or {}).get("status", ""))
                        for name in VERDICTS
                    },
                    bucket=str(action.get("bucketName", "")),
                    key=str(action.get("objectKey", "")),
                )
            )
        except (KeyError, TypeError, ValueError):
            log.error("inbound: an SNS record that is not an SES receipt notification")
    return found


# The SNS subscription is declared in infra/resources.yaml (InboundMailSubscription).
@bp.lambda_function(name="inbound_mail")
def inbound_mail(event: dict[str, Any], context: Any) -> dict[str, int]:
    # Imported here, not at module level: the API function never needs them.
    from chalicelib import runtime
    from chalicelib.mailin.service import MAX_INBOUND_BYTES, ingest_reply
    from chalicelib.runtime import get_settings

    outcomes: dict[str, int] = {}
    for receipt in receipts(event):
        body = runtime.s3().get_object(Bucket=receipt.bucket, Key=receipt.key)["Body"]
        # One byte over the limit is enough to know it is too large.
        raw = body.read(MAX_INBOUND_BYTES + 1)
        directory = runtime.directory()
        outcome = ingest_reply(
            raw,
            receipt,
            store=runtime.case_store(),
            settings=get_settings(),
            deployment=directory.deployment,
            now=runtime.now(),
            roster=runtime.roster_store(),
            staff=directory.staff,
        )
        outcomes[outcome.kind] = outcomes.get(outcome.kind, 0) + 1
    log.info("inbound: %s", outcomes)
    return outcomes
