"""Inbound mail: SES stores the raw message in S3 and notifies an SNS topic, which runs this."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.ses_event import SESReceipt

log = logging.getLogger(__name__)

bp = Blueprint(__name__)

VERDICTS = ("spf", "dkim", "dmarc", "spam", "virus")


def receipts(event: dict[str, Any]) -> list[Any]:
    """The SES receipt notifications in an SNS event (other records are skipped)."""
    from aws_lambda_powertools.utilities.data_classes import SNSEvent
    from aws_lambda_powertools.utilities.data_classes.ses_event import SESMessage

    from chalicelib.mailin.service import SesReceipt

    found = []
    for record in SNSEvent(event).records if "Records" in event else ():
        try:
            notice = json.loads(record.sns.message)
            if notice.get("notificationType") != "Received":
                continue
            # The notification carries the same mail and receipt objects as
            # SES's own Lambda event (SESEvent's records).
            ses = SESMessage(notice)
            receipt = ses.receipt
            action = receipt.action
            found.append(
                SesReceipt(
                    message_id=str(ses.mail.message_id),
                    recipients=[
                        str(r) for r in (receipt.recipients if "recipients" in receipt else [])
                    ],
                    verdicts={name: _status(receipt, name) for name in VERDICTS},
                    # The S3 action's fields (SESReceiptAction names those of the Lambda action).
                    bucket=str(action.get("bucketName", "")),
                    key=str(action.get("objectKey", "")),
                )
            )
        except (KeyError, TypeError, ValueError):
            log.error("inbound: an SNS record that is not an SES receipt notification")
    return found


def _status(receipt: SESReceipt, name: str) -> str:
    """The status of one of SES's verdicts (`spf` → receipt.spf_verdict); "" if SES left it out."""
    try:
        return str(getattr(receipt, f"{name}_verdict").status)
    except (KeyError, TypeError):
        return ""


# The SNS subscription is declared in infra/resources.yaml (InboundMailSubscription).
@bp.lambda_function(name="inbound_mail")
def inbound_mail(event: dict[str, Any], context: Any) -> dict[str, int]:
    # Imported here, not at module level: the API function never needs them.
    from chalicelib import runtime
    from chalicelib.mailin.service import MAX_INBOUND_BYTES, ingest_reply

    outcomes: dict[str, int] = {}
    for receipt in receipts(event):
        body = runtime.s3().get_object(Bucket=receipt.bucket, Key=receipt.key)["Body"]
        # One byte over the limit is enough to know it is too large.
        raw = body.read(MAX_INBOUND_BYTES + 1)
        outcome = ingest_reply(
            raw,
            receipt,
            store=runtime.case_store(),
            roster=runtime.roster_store(),
            desk=runtime.desk(),
        )
        outcomes[outcome.kind] = outcomes.get(outcome.kind, 0) + 1
    log.info("inbound: %s", outcomes)
    return outcomes
