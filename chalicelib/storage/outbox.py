"""Outgoing mail records: finding what is due and moving each through its states safely.

States: PENDING → SENDING (claimed, with a lease) → SENT | FAILED, or back to
PENDING after a transient error; SENDING whose lease ran out → UNKNOWN (the
sender may have crashed after SES accepted the mail: sending again could
duplicate it, so the desk is told instead). Every transition is conditional
on the state it leaves, so a redelivered stream record, a second sweeper or a
retry can never send one message twice.

A message that fails for good (FAILED) can bring notices for the desk with
it: they are put in the outbox in the same transaction as the failure.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.core import retention
from chalicelib.core.case import OutgoingMessage
from chalicelib.core.deskmail import is_desk_receipt
from chalicelib.core.outbox import Claim
from chalicelib.core.timefmt import parse_iso
from chalicelib.storage import keys
from chalicelib.storage.addresses import undeliverable_among
from chalicelib.storage.cases import message_item
from chalicelib.storage.dynamo import TableStore, error_code, from_item, is_live, to_item, values

# The low-level boto3 DynamoDB client (untyped here: no stub package on purpose).
DynamoDBClient = Any


class OutboxStore(TableStore):
    def due(self, now: str, limit: int = 50) -> list[dict[str, Any]]:
        """Messages whose time has come: PENDING and due, or SENDING past their lease."""
        response = self._client.query(
            TableName=self._table,
            IndexName="gsi2",
            KeyConditionExpression="gsi2pk = :pk AND gsi2sk <= :now",
            ExpressionAttributeValues=values(pk=keys.OUTBOX_PARTITION, now=now + "~"),
            Limit=limit,
        )
        now_epoch = int(parse_iso(now).timestamp())
        messages = (from_item(item) for item in response.get("Items", []))
        return [message for message in messages if is_live(message, now_epoch)]

    def get(self, receipt_number: str, message_id: str) -> dict[str, Any] | None:
        response = self._client.get_item(
            TableName=self._table,
            Key=to_item(keys.message_key(receipt_number, message_id)),
            ConsistentRead=True,
        )
        item = response.get("Item")
        message = from_item(item) if item else None
        return message if message and is_live(message, int(time.time())) else None

    def undeliverable(self, addresses: Iterable[str], now_epoch: int) -> set[str]:
        """Which of these addresses are marked undeliverable (lowercased); one BatchGetItem."""
        return undeliverable_among(self._client, self._table, addresses, now_epoch)

    def claim(self, message: dict[str, Any], now: str, lease_until: str) -> Claim | None:
        """Take a due PENDING message for sending; None if another sender has it or it is not due."""
        lease_id = uuid.uuid4().hex
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=self._key(message),
                UpdateExpression=(
                    "SET #state = :sending, lease_id = :lease, lease_until = :until, "
                    "gsi2sk = :sk, attempts = attempts + :one"
                ),
                # Only a PENDING message whose retry time has come.
                ConditionExpression="#state = :pending AND next_attempt_at <= :now",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=values(
                    sending="SENDING",
                    pending="PENDING",
                    lease=lease_id,
                    until=lease_until,
                    sk=keys.outbox_index(lease_until, message["message_id"])["gsi2sk"],
                    one=1,
                    now=now,
                ),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return None
            raise
        return Claim(message=from_item(response["Attributes"]), lease_id=lease_id)

    def mark_sent(self, claim: Claim, now: str, ses_message_id: str) -> bool:
        """SENDING → SENT; drops the rendering context (it holds personal data)."""
        return self._finish(
            claim,
            "SET #state = :sent, sent_at = :now, ses_message_id = :sid "
            "REMOVE gsi2pk, gsi2sk, lease_id, lease_until, #context",
            {"sent": "SENT", "now": now, "sid": ses_message_id},
            names={"#context": "context"},
        )

    def release(self, claim: Claim, next_attempt_at: str, error: str) -> bool:
        """SENDING → PENDING after a transient error, due again at `next_attempt_at`."""
        return self._finish(
            claim,
            "SET #state = :pending, next_attempt_at = :next, gsi2sk = :sk, last_error = :err "
            "REMOVE lease_id, lease_until",
            {
                "pending": "PENDING",
                "next": next_attempt_at,
                "sk": keys.outbox_index(next_attempt_at, claim.message["message_id"])["gsi2sk"],
                "err": error,
            },
        )

    def mark_failed(
        self,
        claim: Claim,
        now: str,
        error: str,
        event: dict[str, Any],
        *,
        state: str = "FAILED",
        notices: list[OutgoingMessage] | None = None,
    ) -> bool:
        """SENDING → FAILED (or UNKNOWN), with an event on the case's timeline and the
        notices that tell the desk, in one transaction."""
        return self._finish(
            claim,
            "SET #state = :failed, failed_at = :now, last_error = :err "
            "REMOVE gsi2pk, gsi2sk, lease_id, lease_until",
            {"failed": state, "now": now, "err": error},
            event=event,
            notices=notices,
        )

    def expand(
        self, fanout: dict[str, Any], messages: list[OutgoingMessage]
    ) -> list[dict[str, Any]] | None:
        """Replace a PENDING fan-out by `messages`, PENDING and due, in one transaction.

        Returns the messages as stored, or None when another sender expanded it first.
        Nothing was sent for a fan-out, so no claim or lease is needed: the delete's
        condition alone makes one expansion win.
        """
        at, expires_at = fanout["created_at"], int(fanout["expires_at"])
        stored = [
            message_item(fanout["receipt_number"], message, at, expires_at) for message in messages
        ]
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Delete": {
                            "TableName": self._table,
                            "Key": self._key(fanout),
                            # Not yet expanded by another sender.
                            "ConditionExpression": "#state = :pending",
                            "ExpressionAttributeNames": {"#state": "state"},
                            "ExpressionAttributeValues": values(pending="PENDING"),
                        }
                    },
                    *({"Put": {"TableName": self._table, "Item": to_item(m)}} for m in stored),
                ]
            )
        except ClientError as exc:
            if error_code(exc) == "TransactionCanceledException":
                return None
            raise
        return stored

    def mark_unknown(self, message: dict[str, Any], now: str, event: dict[str, Any]) -> bool:
        """SENDING whose lease ran out → UNKNOWN, with a timeline event; never resent."""
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": self._key(message),
                            "UpdateExpression": (
                                "SET #state = :unknown, failed_at = :now "
                                "REMOVE gsi2pk, gsi2sk, lease_id, lease_until"
                            ),
                            # Still the same claim, and its lease has run out.
                            "ConditionExpression": (
                                "#state = :sending AND lease_id = :lease AND lease_until < :now"
                            ),
                            "ExpressionAttributeNames": {"#state": "state"},
                            "ExpressionAttributeValues": values(
                                unknown="UNKNOWN",
                                sending="SENDING",
                                lease=message.get("lease_id", ""),
                                now=now,
                            ),
                        }
                    },
                    self._event_put(message, event),
                ]
            )
        except ClientError as exc:
            if error_code(exc) == "TransactionCanceledException":
                return False
            raise
        return True

    def _finish(
        self,
        claim: Claim,
        update: str,
        new_values: dict[str, Any],
        *,
        names: dict[str, str] | None = None,
        event: dict[str, Any] | None = None,
        notices: list[OutgoingMessage] | None = None,
    ) -> bool:
        update_op = {
            "TableName": self._table,
            "Key": self._key(claim.message),
            "UpdateExpression": update,
            # Only the sender holding this claim may finish it.
            "ConditionExpression": "#state = :sending AND lease_id = :lease",
            "ExpressionAttributeNames": {"#state": "state", **(names or {})},
            "ExpressionAttributeValues": values(
                sending="SENDING", lease=claim.lease_id, **new_values
            ),
        }
        try:
            if event is None:
                self._client.update_item(**update_op)
            else:
                self._client.transact_write_items(
                    TransactItems=[
                        {"Update": update_op},
                        self._event_put(claim.message, event),
                        *self._notice_puts(claim.message, notices or [], event["at"]),
                    ]
                )
        except ClientError as exc:
            if error_code(exc) in (
                "ConditionalCheckFailedException",
                "TransactionCanceledException",
            ):
                return False
            raise
        return True

    def _event_put(self, message: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
        receipt = message["receipt_number"]
        return {
            "Put": {
                "TableName": self._table,
                "Item": to_item(
                    {
                        **keys.event_key(receipt, event["at"], uuid.uuid4().hex[:12]),
                        "kind": "event",
                        "receipt_number": receipt,
                        # Desk-wide mail has no case: its events live as long as its mail.
                        "retention_class": retention.MAIL
                        if is_desk_receipt(receipt)
                        else retention.CASE,
                        **event,
                    }
                ),
            }
        }

    def _notice_puts(
        self, message: dict[str, Any], notices: list[OutgoingMessage], at: str
    ) -> list[dict[str, Any]]:
        """Mail for the desk about this message, filed beside it (same thread)."""
        expires_at = self._retention.mail_expiry(int(parse_iso(at).timestamp()))
        return [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": to_item(
                        message_item(message["receipt_number"], notice, at, expires_at)
                    ),
                }
            }
            for notice in notices
        ]

    @staticmethod
    def _key(message: dict[str, Any]) -> dict[str, Any]:
        return to_item(keys.message_key(message["receipt_number"], message["message_id"]))
