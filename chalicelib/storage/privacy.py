"""Personal data requests in DynamoDB: a requester's cases, and their erasure with its audit records.

Finding a requester never scans: by email it is one Query on the
requester's lookup partition (written with each case, keys.py), then one
Query per case partition; the inbound mail records a timeline names come in
one BatchGetItem per hundred.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from chalicelib.core.privacy import ErasurePart
from chalicelib.storage import keys
from chalicelib.storage.admin import audit_put
from chalicelib.storage.dynamo import (
    from_item,
    is_live,
    query_all,
    raise_if_busy,
    to_item,
    transact,
    values,
)

# The low-level boto3 DynamoDB client (untyped here: no stub package on purpose).
DynamoDBClient = Any

BATCH_GET_LIMIT = 100
# TransactWriteItems takes 100 items; the audit records of a part take two.
TRANSACTION_LIMIT = 100


class PrivacyStore:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def receipts_of(self, digest: str, now_epoch: int) -> list[str]:
        """The receipt numbers of the requester's cases (lookup items), oldest first."""
        items = self._query(
            {
                "KeyConditionExpression": "pk = :pk",
                "ExpressionAttributeValues": values(pk=keys.requester_partition(digest)),
                "ConsistentRead": True,
            }
        )
        found = [item for item in items if is_live(item, now_epoch)]
        found.sort(key=lambda item: (str(item.get("created_at", "")), str(item["receipt_number"])))
        return [str(item["receipt_number"]) for item in found]

    def case_partition(
        self, receipt_number: str, now_epoch: int, *, include_expired: bool = False
    ) -> list[dict[str, Any]]:
        """Every item under the case (the case, timeline, mail, assignments), in key order.

        Erasure reads expired items too: TTL deletes lazily, and an expired
        item holds personal data until it is gone.
        """
        items = self._query(
            {
                "KeyConditionExpression": "pk = :pk",
                "ExpressionAttributeValues": values(pk=f"CASE#{receipt_number}"),
                "ConsistentRead": True,
            }
        )
        return [item for item in items if include_expired or is_live(item, now_epoch)]

    def inbound_records(self, ses_message_ids: list[str], now_epoch: int) -> list[dict[str, Any]]:
        """The records of these inbound messages (BatchGetItem, a hundred keys at a time)."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(ses_message_ids), BATCH_GET_LIMIT):
            request: dict[str, Any] = {
                self._table: {
                    "Keys": [
                        to_item(keys.inbound_key(ses_id))
                        for ses_id in ses_message_ids[start : start + BATCH_GET_LIMIT]
                    ],
                    "ConsistentRead": True,
                }
            }
            while request:
                try:
                    response = self._client.batch_get_item(RequestItems=request)
                except ClientError as exc:
                    raise_if_busy(exc)
                    raise
                found.extend(from_item(item) for item in response["Responses"].get(self._table, []))
                request = response.get("UnprocessedKeys") or {}
        return [item for item in found if is_live(item, now_epoch)]

    def record_audit(self, entries: list[dict[str, Any]], audit_expires: int) -> None:
        """Audit records of a request that changed nothing (an export), in one transaction."""
        transact(self._client, [audit_put(self._table, entry, audit_expires) for entry in entries])

    def erase_part(
        self,
        receipt_number: str,
        part: ErasurePart,
        audits: list[dict[str, Any]],
        audit_expires: int,
    ) -> None:
        """Write one part of an erasure with its audit records in ONE transaction.

        Each rewritten item replaces the stored one only if it is still as it
        was read (the case's version, a message's state and lease); raises
        VersionConflict when one moved (nothing written: read again and
        re-plan) or StoreBusy.
        """
        items: list[dict[str, Any]] = []
        for rewrite in part.rewrites:
            names = {"#pk": "pk"}
            conditions = ["attribute_exists(#pk)"]
            expected: dict[str, Any] = {}
            for i, (name, value) in enumerate(sorted(rewrite.expect.items())):
                names[f"#e{i}"] = name
                if value is None:
                    conditions.append(f"attribute_not_exists(#e{i})")
                else:
                    expected[f"e{i}"] = value
                    conditions.append(f"#e{i} = :e{i}")
            put: dict[str, Any] = {
                "TableName": self._table,
                "Item": to_item(rewrite.item),
                # Still there, and unchanged since it was read.
                "ConditionExpression": " AND ".join(conditions),
                "ExpressionAttributeNames": names,
            }
            if expected:
                put["ExpressionAttributeValues"] = values(**expected)
            items.append({"Put": put})
        for digest in part.deletes:
            items.append(
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": to_item(keys.requester_case_key(digest, receipt_number)),
                    }
                }
            )
        if part.event is not None:
            case = next(r.item for r in part.rewrites if r.part == "case")
            items.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": to_item(
                            {
                                **keys.event_key(
                                    receipt_number, part.event["at"], part.event["event_id"]
                                ),
                                "kind": "event",
                                "receipt_number": receipt_number,
                                "retention_class": case.get("retention_class", "case"),
                                **(
                                    {"expires_at": case["expires_at"]}
                                    if "expires_at" in case
                                    else {}
                                ),
                                **part.event,
                            }
                        ),
                    }
                }
            )
        items.extend(audit_put(self._table, entry, audit_expires) for entry in audits)
        if len(items) > TRANSACTION_LIMIT:
            raise ValueError(f"{len(items)} items do not fit one transaction")
        transact(self._client, items)

    def _query(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        return query_all(self._client, {"TableName": self._table, **request})
