"""SES sending events: the configuration set publishes them to an SNS topic, which runs this."""

from __future__ import annotations

import logging
from typing import Any

from chalice.app import Blueprint

log = logging.getLogger(__name__)

bp = Blueprint(__name__)


def event_messages(event: dict[str, Any]) -> list[str]:
    """The SNS message bodies in a Lambda event (records of another shape are skipped)."""
    from aws_lambda_powertools.utilities.data_classes import SNSEvent

    found = []
    for record in SNSEvent(event).records if "Records" in event else ():
        try:
            found.append(str(record.sns.message))
        except (KeyError, TypeError):
            log.error("ses events: a record that is not an SNS notification")
    return found


# The SNS subscription is declared in infra/resources.yaml (SesEventsSubscription).
@bp.lambda_function(name="ses_events")
def ses_events(event: dict[str, Any], context: Any) -> dict[str, int]:
    # Imported here, not at module level: the API function never needs them.
    from chalicelib import runtime
    from chalicelib.outbox.deliverability import handle_event, parse_ses_event

    desk = runtime.desk()
    now = desk.now
    outcomes: dict[str, int] = {}
    for message in event_messages(event):
        parsed = parse_ses_event(message, now)
        if parsed is None:
            log.error("ses events: an SNS message that is not an SES event")
            outcomes["unreadable"] = outcomes.get("unreadable", 0) + 1
            continue
        outcome = handle_event(
            parsed,
            store=runtime.address_store(),
            cases=runtime.case_store(),
            desk=desk,
        )
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    log.info("ses events: %s", outcomes)
    return outcomes
