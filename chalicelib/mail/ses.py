"""Sending raw MIME through SES v2, with its error codes translated into two kinds."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
)

from chalicelib.errors import PermanentSendError, TransientSendError, UncertainSendError

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


class SesMailer:
    """The SES client must be built without botocore's own retries (deps.sesv2):
    a retry after a read timeout could send the message twice, so every retry
    goes through the outbox, which knows what was sent."""

    def __init__(self, client: Any, configuration_set: str = "") -> None:
        self._client = client
        self._configuration_set = configuration_set

    def send(self, raw: bytes, *, sender: str, to: list[str], tag: str) -> str:
        """Send one message; returns SES's message id."""
        kwargs: dict[str, Any] = {
            "FromEmailAddress": sender,
            "Destination": {"ToAddresses": to},
            "Content": {"Raw": {"Data": raw}},
            "EmailTags": [{"Name": "outbox_id", "Value": tag}],
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
