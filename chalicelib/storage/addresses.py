"""Deliverability records: addresses marked undeliverable, processed SES events, delivery marks.

An address is keyed by a digest (keys.address_key); the mark keeps no copy
of the address. Everything an SES event causes (the marks, the event on the
case's timeline, the staff notices and the record that the event was
processed) is one TransactWriteItems, conditional on that record being new,
so a notification SNS delivers twice acts once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.core import retention
from chalicelib.core.case import OutgoingMessage
from chalicelib.core.errors import StoreBusy
from chalicelib.storage import keys
from chalicelib.storage.cases import message_item
from chalicelib.storage.dynamo import (
    TableStore,
    error_code,
    from_item,
    is_live,
    raise_if_busy,
    to_item,
    values,
)

DynamoDBClient = Any

# BatchGetItem takes at most 100 keys; unprocessed keys are retried a few times.
BATCH_SIZE = 100
BATCH_ATTEMPTS = 5


def undeliverable_among(
    client: DynamoDBClient, table: str, addresses: Iterable[str], now_epoch: int
) -> set[str]:
    """The given addresses (lowercased) that carry a live undeliverable mark.

    One BatchGetItem for up to 100 distinct addresses (the sender asks for a
    message's recipients and the staff who would be told, a handful).
    """
    # pk → address; BatchGetItem refuses a key named twice.
    wanted = {keys.address_key(a)["pk"]: a.strip().lower() for a in addresses if a.strip()}
    found: set[str] = set()
    pks = sorted(wanted)
    for start in range(0, len(pks), BATCH_SIZE):
        pending: dict[str, Any] = {
            table: {
                "Keys": [
                    to_item(keys.address_key(wanted[pk])) for pk in pks[start : start + BATCH_SIZE]
                ],
                "ProjectionExpression": "pk, expires_at",
            }
        }
        for _ in range(BATCH_ATTEMPTS):
            try:
                response = client.batch_get_item(RequestItems=pending)
            except ClientError as exc:
                raise_if_busy(exc)
                raise
            for item in response.get("Responses", {}).get(table, []):
                data = from_item(item)
                if is_live(data, now_epoch):
                    found.add(wanted[str(data["pk"])])
            pending = response.get("UnprocessedKeys") or {}
            if not pending:
                break
        else:
            raise StoreBusy("UnprocessedKeys")
    return found


class AddressStore(TableStore):
    def undeliverable(self, addresses: Iterable[str], now_epoch: int) -> set[str]:
        return undeliverable_among(self._client, self._table, addresses, now_epoch)

    def record_event(
        self,
        event_id: str,
        *,
        at: str,
        now_epoch: int,
        kind: str,
        receipt_number: str,
        marks: list[dict[str, str]],
        timeline: dict[str, Any] | None,
        notices: list[OutgoingMessage],
    ) -> bool:
        """Apply one SES event once. Returns False (nothing written) if it was applied before.

        `marks`: {"address", "reason", "detail", "ses_message_id"} per address to mark;
        `timeline`: the event for the case's timeline (with its `expires_at`), if any;
        `notices`: staff mail, put in the outbox under `receipt_number`.
        """
        mail_expires_at = self._retention.mail_expiry(now_epoch)
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": to_item(
                        {
                            **keys.ses_event_key(event_id),
                            "kind": "ses_event",
                            "event_kind": kind,
                            "receipt_number": receipt_number,
                            "at": at,
                            "retention_class": retention.MAIL,
                            "expires_at": mail_expires_at,
                        }
                    ),
                    # Each notification acts once.
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        ]
        seen: set[str] = set()
        for mark in marks:
            digest = keys.address_digest(mark["address"])
            if digest in seen:
                continue  # one operation per item in a transaction
            seen.add(digest)
            items.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": to_item(
                            self._mark_item(
                                mark["address"],
                                mark["reason"],
                                mark.get("detail", ""),
                                at,
                                mark.get("ses_message_id", ""),
                                now_epoch,
                                receipt_number,
                            )
                        ),
                    }
                }
            )
        if timeline is not None and receipt_number:
            event_id_short = hashlib.sha256(event_id.encode("utf-8")).hexdigest()[:12]
            items.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": to_item(
                            {
                                **keys.event_key(receipt_number, at, event_id_short),
                                "kind": "event",
                                "receipt_number": receipt_number,
                                "retention_class": retention.CASE,
                                **timeline,
                            }
                        ),
                    }
                }
            )
        for notice in notices:
            items.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": to_item(message_item(receipt_number, notice, at, mail_expires_at)),
                    }
                }
            )
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if error_code(exc) == "TransactionCanceledException":
                reasons = exc.response.get("CancellationReasons") or []
                if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                    return False
                raise StoreBusy("cancelled") from exc
            raise_if_busy(exc)
            raise
        return True

    def record_delivery(self, receipt_number: str, message_id: str, at: str) -> bool:
        """Note on an outgoing mail that the receiving server accepted it; False if no such mail."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=to_item(keys.message_key(receipt_number, message_id)),
                UpdateExpression="SET delivered_at = :at",
                # Only a mail the outbox sent (never create a stray item).
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=values(at=at),
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise_if_busy(exc)
            raise
        return True

    def _mark_item(
        self,
        address: str,
        reason: str,
        detail: str,
        at: str,
        ses_message_id: str,
        now_epoch: int,
        receipt_number: str = "",
    ) -> dict[str, Any]:
        item: dict[str, Any] = {
            **keys.address_key(address),
            "kind": "address",
            "reason": reason,
            "at": at,
            "retention_class": retention.DELIVERABILITY,
            "expires_at": self._retention.undeliverable_expiry(now_epoch),
        }
        if detail:
            item["detail"] = detail
        if ses_message_id:
            item["ses_message_id"] = ses_message_id
        if receipt_number:
            item["receipt_number"] = receipt_number
        return item
