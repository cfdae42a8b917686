"""Console storage: sign-in links, sessions and the sign-in rate limit (keys: storage/keys.py).

A link and the mail that carries it are one write; using a link and starting
the session it opens are one write too, conditional on the link being unused
and unexpired, so a link signs in at most once however often it is posted.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from chalicelib.core import retention
from chalicelib.core.case import OutgoingMessage
from chalicelib.core.console import SessionRecord
from chalicelib.storage import keys
from chalicelib.storage.cases import message_item
from chalicelib.storage.dynamo import (
    TableStore,
    error_code,
    from_item,
    raise_if_busy,
    to_item,
    transact,
    values,
)


class ConsoleStore(TableStore):
    def count_attempt(self, rate_digest: str, hour: str, limit: int, expires_at: int) -> bool:
        """Count one sign-in request under `rate_digest` this hour; False when over `limit`."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=to_item(keys.rate_key(rate_digest, hour)),
                UpdateExpression="ADD attempts :one SET expires_at = :exp, kind = :kind, "
                "retention_class = :kind",
                # Under the cap for this key and hour.
                ConditionExpression="attribute_not_exists(attempts) OR attempts < :limit",
                ExpressionAttributeValues=values(
                    one=1, exp=expires_at, limit=limit, kind="rate_limit"
                ),
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise_if_busy(exc)
            raise
        return True

    def put_link(
        self,
        link_digest: str,
        staff_id: str,
        *,
        now: str,
        expires_at: int,
        message: OutgoingMessage,
        receipt_number: str,
        mail_expires_at: int,
    ) -> None:
        """The link's record and the mail that carries it, in one write."""
        link = {
            **keys.signin_key(link_digest),
            "kind": "console_signin",
            "staff_id": staff_id,
            "created_at": now,
            "retention_class": retention.ACCESS,
            "expires_at": expires_at,
        }
        transact(
            self._client,
            [
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": to_item(link),
                        # A new secret each time: never overwrite a record.
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": to_item(
                            message_item(receipt_number, message, now, mail_expires_at)
                        ),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ],
        )

    def link(self, link_digest: str) -> dict[str, Any] | None:
        return self._get(keys.signin_key(link_digest))

    def use_link(
        self, link_digest: str, session_digest: str, session: SessionRecord, now_epoch: int
    ) -> None:
        """Mark the link used and store the session, or raise VersionConflict (used, expired,
        or unknown: nothing is written)."""
        transact(
            self._client,
            [
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": to_item(keys.signin_key(link_digest)),
                        "UpdateExpression": "SET used_at = :now",
                        # Issued, never used, and still within its minutes.
                        "ConditionExpression": "attribute_exists(pk) AND "
                        "attribute_not_exists(used_at) AND expires_at > :now",
                        "ExpressionAttributeValues": values(now=now_epoch),
                    }
                },
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": to_item(
                            {
                                **keys.session_key(session_digest),
                                "kind": "console_session",
                                "staff_id": session.staff_id,
                                "csrf": session.csrf,
                                "created_at": session.created_at,
                                "last_seen": session.last_seen,
                                "retention_class": retention.ACCESS,
                                "expires_at": session.expires_at,
                            }
                        ),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ],
        )

    def session(self, session_digest: str) -> SessionRecord | None:
        item = self._get(keys.session_key(session_digest))
        return SessionRecord.of(item) if item else None

    def touch(self, session_digest: str, now_epoch: int) -> None:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=to_item(keys.session_key(session_digest)),
                UpdateExpression="SET last_seen = :now",
                # Only a session that still exists (sign-out may have removed it).
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=values(now=now_epoch),
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return
            raise_if_busy(exc)
            raise

    def end_session(self, session_digest: str) -> None:
        try:
            self._client.delete_item(
                TableName=self._table, Key=to_item(keys.session_key(session_digest))
            )
        except ClientError as exc:
            raise_if_busy(exc)
            raise

    def _get(self, key: dict[str, str]) -> dict[str, Any] | None:
        try:
            response = self._client.get_item(
                TableName=self._table, Key=to_item(key), ConsistentRead=True
            )
        except ClientError as exc:
            raise_if_busy(exc)
            raise
        item = response.get("Item")
        return from_item(item) if item else None
