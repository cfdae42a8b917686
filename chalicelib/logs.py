"""Structured logs of the job functions: Powertools' JSON Logger takes over the desk's loggers.

In a job function in Lambda (inbound mail, SES events, the outbox stream and
sweep, the daily mail) every record of a `chalicelib.*` logger becomes one JSON
line with Lambda's request id (`function_request_id`), the function's name,
`cold_start`, and the keys a call passes in `extra` (`receipt_number`,
`outcome`, ...), so CloudWatch Logs Insights can filter by them
(infra/RUNBOOK.md "Logs Insights"). The modules keep their
`log = logging.getLogger(__name__)`.

Not in the API function: importing Powertools on its first request costs about
10 ms of CPU (measured against its cold-start budget, issue 12). Lambda's own
JSON log format (infra/resources.yaml, APIHandler) structures its lines
instead, with the same `extra` keys.

Outside Lambda (`make dev`, tests) nothing changes: people read those logs, and
pytest's caplog sees records through propagation, which the takeover turns off.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, ConvertToMiddleware

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

bp = Blueprint(__name__)

# The loggers of the desk's own modules (app.py sets their level).
PACKAGE = "chalicelib"

Handler = Callable[[Any, Any], Any]


def in_lambda() -> bool:
    """Whether this process is a Lambda function (the runtime sets the variable; Chalice does not)."""
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


@cache
def powertools_logger(service: str) -> Logger:
    """Powertools' Logger named `service`, its JSON handler copied to the `chalicelib` loggers.

    Made once per process; the level follows POWERTOOLS_LOG_LEVEL (default INFO).
    """
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

    logger = Logger(service=service)
    # Handlers replaced, propagation off: one JSON line per record, none from the root handler.
    copy_config_to_registered_loggers(source_logger=logger, include={PACKAGE})
    return logger


def with_lambda_context(handler: Handler) -> Handler:
    """In Lambda, `handler` with Powertools' keys for its invocation; elsewhere `handler` itself."""
    if not in_lambda():
        return handler
    logger = powertools_logger(bp.current_app.app_name)
    # Per-record keys travel in `extra`, never in the Logger's state, so nothing
    # of one invocation leaks into the next (and clear_state would drop the
    # `name` key, the record's logger, that the copy above added).
    wrapped: Handler = logger.inject_lambda_context(handler)
    return wrapped


# Registered before the job blueprints (app.py): Chalice hands each handler
# the middleware registered by then. ConvertToMiddleware gives the decorator
# the raw event and Lambda's context.
for _kind in ("pure_lambda", "scheduled"):
    bp.register_middleware(ConvertToMiddleware(with_lambda_context), _kind)
