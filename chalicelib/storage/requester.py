"""The requester's side in DynamoDB: an addition to an open case, the page link sent again,
and the lookup's hourly limits, each in one transaction.

None of these changes the case item itself: an addition or a resent link is the
requester's event on the timeline and mail in the outbox, so the case's version and
`updated_at` (the staff's idle clock behind the reminders) stay as the desk left them.
A withdrawal is a lifecycle change and goes through core/acting.py `perform`.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from chalicelib.core.case import OutgoingMessage
from chalicelib.core.errors import CaseNotOpen, LinkAlreadyUsed, RateLimited, StoreBusy
from chalicelib.core.lifecycle import OPEN
from chalicelib.storage import keys
from chalicelib.storage.cases import message_item
from chalicelib.storage.dynamo import (
    TableStore,
    error_code,
    from_item,
    raise_if_busy,
    to_item,
    values,
)


class RequesterStore(TableStore):
    def add_to_case(
        self,
        receipt_number: str,
        *,
        event: dict[str, Any],
        messages: list[OutgoingMessage],
        link_use: dict[str, Any],
        case_expires_at: int,
        mail_expires_at: int,
    ) -> None:
        """The requester's event and the mail it causes, in ONE transaction, only while the
        case is open and not erased, and only once per action token (`link_use`).

        Raises CaseNotOpen, LinkAlreadyUsed (with what the first use did) or StoreBusy;
        nothing is written in any of those cases.
        """
        open_values = {f"s{i}": status.value for i, status in enumerate(sorted(OPEN))}
        items: list[dict[str, Any]] = [
            {
                "ConditionCheck": {
                    "TableName": self._table,
                    "Key": to_item(keys.case_key(receipt_number)),
                    # Still open (not closed, referred, withdrawn or spam) and not erased.
                    "ConditionExpression": (
                        f"#status IN ({', '.join(':' + name for name in open_values)})"
                        " AND attribute_not_exists(anonymised_at)"
                    ),
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": values(**open_values),
                }
            },
            {
                "Put": {
                    "TableName": self._table,
                    "Item": to_item(
                        {
                            **keys.event_key(receipt_number, event["at"], event["event_id"]),
                            "kind": "event",
                            "receipt_number": receipt_number,
                            "retention_class": "case",
                            "expires_at": case_expires_at,
                            **event,
                        }
                    ),
                }
            },
            {
                "Put": {
                    "TableName": self._table,
                    "Item": to_item(
                        {
                            **keys.token_use_key(link_use["unique_id"]),
                            "kind": "link_use",
                            "receipt_number": receipt_number,
                            "retention_class": "link",
                            **link_use,
                        }
                    ),
                    # An action token acts once.
                    "ConditionExpression": "attribute_not_exists(pk)",
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            },
        ]
        items += [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": to_item(
                        message_item(receipt_number, message, event["at"], mail_expires_at)
                    ),
                }
            }
            for message in messages
        ]
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise_if_busy(exc)
                raise
            reasons = exc.response.get("CancellationReasons") or []
            codes = [reason.get("Code") for reason in reasons]
            if len(reasons) > 2 and codes[2] == "ConditionalCheckFailed":
                raise LinkAlreadyUsed(from_item(reasons[2].get("Item") or {})) from exc
            if codes and codes[0] == "ConditionalCheckFailed":
                raise CaseNotOpen() from exc
            raise StoreBusy("cancelled") from exc

    def send_page_link(
        self,
        receipt_number: str,
        *,
        event: dict[str, Any],
        message: OutgoingMessage,
        case_expires_at: int,
        mail_expires_at: int,
    ) -> None:
        """The page link mailed again, and the timeline's note of it, in one transaction."""
        items = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": to_item(
                        {
                            **keys.event_key(receipt_number, event["at"], event["event_id"]),
                            "kind": "event",
                            "receipt_number": receipt_number,
                            "retention_class": "case",
                            "expires_at": case_expires_at,
                            **event,
                        }
                    ),
                }
            },
            {
                "Put": {
                    "TableName": self._table,
                    "Item": to_item(
                        message_item(receipt_number, message, event["at"], mail_expires_at)
                    ),
                }
            },
        ]
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            raise_if_busy(exc)
            if error_code(exc) == "TransactionCanceledException":
                raise StoreBusy("cancelled") from exc
            raise

    def count_lookup(self, digests: list[str], hour: str, *, limit: int, expires_at: int) -> None:
        """Count one lookup in each window (`digests`: the client, the mail address) for the
        hour; raises RateLimited when any window is full (then none is counted)."""
        items = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": to_item(keys.rate_key(digest, hour)),
                    "UpdateExpression": (
                        "ADD submissions :one SET expires_at = :exp, kind = :kind, "
                        "retention_class = :kind"
                    ),
                    # Under the cap for this window and hour.
                    "ConditionExpression": (
                        "attribute_not_exists(submissions) OR submissions < :limit"
                    ),
                    "ExpressionAttributeValues": values(
                        one=1, exp=expires_at, limit=limit, kind="rate_limit"
                    ),
                }
            }
            for digest in digests
        ]
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise_if_busy(exc)
                raise
            reasons = exc.response.get("CancellationReasons") or []
            if any(reason.get("Code") == "ConditionalCheckFailed" for reason in reasons):
                raise RateLimited() from exc
            raise StoreBusy("cancelled") from exc
