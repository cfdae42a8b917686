"""Sending raw MIME through SES v2, with its error codes translated into two kinds."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
)

from chalicelib.core.errors import PermanentSendError, TransientSendError, UncertainSendError

# SES v2 codes after which the same message may be sent again later.
TRANSIENT_CODES = frozenset(
    {
        "TooManyRequestsException",
        "LimitExceededException",
        "Throttling",
        "ThrottlingException",
        "SendingPausedException",
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
    }
)


# SES accepts only these characters in tag values (and at most 256 of them).
_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]")
MAX_TAG_LENGTH = 256


def email_tags(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """SES EmailTags: each value reduced to what SES accepts, so a tag never makes a send fail.

    The configuration set's events carry them back (outbox/ses_events.py).
    """
    return [
        {"Name": name, "Value": _TAG_UNSAFE.sub("_", value)[:MAX_TAG_LENGTH] or "_"}
        for name, value in tags.items()
    ]


class SesMailer:
    """The SES client must be built without botocore's own retries (runtime.sesv2):
    a retry after a read timeout could send the message twice, so every retry
    goes through the outbox, which knows what was sent."""

    def __init__(self, client: Any, configuration_set: str = "") -> None:
        self._client = client
        self._configuration_set = configuration_set

    def send(self, raw: bytes, *, sender: str, to: list[str], tags: Mapping[str, str]) -> str:
        """Send one message, tagged (e.g. receipt_number, message_id); returns SES's message id."""
        kwargs: dict[str, Any] = {
            "FromEmailAddress": sender,
            "Destination": {"ToAddresses": to},
            "Content": {"Raw": {"Data": raw}},
            "EmailTags": email_tags(tags),
        }
        if self._configuration_set:
            kwargs["ConfigurationSetName"] = self._configuration_set
        try:
            response = self._client.send_email(**kwargs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
            if code in TRANSIENT_CODES or status >= 500:
                raise TransientSendError(code) from exc
            raise PermanentSendError(code or "rejected") from exc
        except (EndpointConnectionError, ConnectTimeoutError) as exc:
            # The request never reached SES.
            raise TransientSendError(type(exc).__name__) from exc
        except BotoCoreError as exc:
            # A read timeout or a dropped connection: SES may have sent it.
            raise UncertainSendError(type(exc).__name__) from exc
        return str(response["MessageId"])
