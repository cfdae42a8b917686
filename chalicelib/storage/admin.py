"""Admin storage: bearer tokens (as digests), audit records, the staff list and the taxonomy.

Every mutation here is one TransactWriteItems that also puts its audit
record, so a change without its audit entry (or the reverse) cannot exist.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from chalicelib.core.case import KEY_ATTRIBUTES
from chalicelib.core.errors import AlreadyExists, NotFound, VersionConflict
from chalicelib.storage import keys
from chalicelib.storage.dynamo import (
    from_item,
    is_live,
    query_all,
    raise_if_busy,
    to_item,
    transact,
    values,
)

DynamoDBClient = Any

# Audit records outlive the cases they mention (a desk answers for its
# changes for years); the period is configuration (AUDIT_RETENTION_DAYS).
AUDIT_CLASS = "audit"


def audit_put(table: str, entry: dict[str, Any], expires_at: int) -> dict[str, Any]:
    """The TransactWriteItems element that stores one audit record."""
    item = {
        **keys.audit_key(entry["at"], entry["audit_id"]),
        **keys.audit_target_index(
            entry["target_type"], entry["target_id"], entry["at"], entry["audit_id"]
        ),
        "kind": "audit",
        "retention_class": AUDIT_CLASS,
        "expires_at": expires_at,
        **entry,
    }
    return {
        "Put": {
            "TableName": table,
            "Item": to_item(item),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def _plain_record(item: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in item.items() if name not in KEY_ATTRIBUTES}


# The active ids of each kind, kept beside the entries on the taxonomy item so that the
# intake transaction can check a submission's choices with `contains` (storage/cases.py).
ACTIVE_ID_ATTRIBUTES = {
    "categories": "active_category_ids",
    "support_types": "active_support_type_ids",
}


def active_id_attributes(taxonomy: dict[str, Any]) -> dict[str, list[str]]:
    return {
        attribute: [
            str(entry["id"]) for entry in taxonomy.get(kind) or [] if entry.get("active", True)
        ]
        for kind, attribute in ACTIVE_ID_ATTRIBUTES.items()
    }


class AdminStore:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    @property
    def table(self) -> str:
        return self._table

    # -- transactions ---------------------------------------------------------

    def transact(self, items: list[dict[str, Any]]) -> None:
        """Write items atomically; a failed condition means VersionConflict (nothing written)."""
        transact(self._client, items)

    def put_audit(self, entry: dict[str, Any], expires_at: int) -> None:
        """An audit record on its own (an export, an import's summary)."""
        self.transact([audit_put(self._table, entry, expires_at)])

    # -- tokens ---------------------------------------------------------------

    def get_token(self, digest: str) -> dict[str, Any] | None:
        try:
            response = self._client.get_item(
                TableName=self._table, Key=to_item(keys.token_key(digest))
            )
        except ClientError as exc:
            raise_if_busy(exc)
            raise
        item = response.get("Item")
        return from_item(item) if item else None

    def token_item(self, digest: str, record: dict[str, Any]) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self._table,
                "Item": to_item(
                    {
                        **keys.token_key(digest),
                        **keys.token_index(record["token_id"]),
                        "kind": "admin_token",
                        **record,
                    }
                ),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def put_token(
        self, digest: str, record: dict[str, Any], audit: dict[str, Any], audit_expires: int
    ) -> None:
        self.transact(
            [self.token_item(digest, record), audit_put(self._table, audit, audit_expires)]
        )

    def list_tokens(self) -> list[dict[str, Any]]:
        """Every token record (digests left out), by token id."""
        items = self._query(
            {
                "IndexName": "gsi1",
                "KeyConditionExpression": "gsi1pk = :pk",
                "ExpressionAttributeValues": values(pk=keys.TOKENS_PARTITION),
            }
        )
        return [
            {name: value for name, value in _plain_record(item).items() if name != "digest"}
            for item in items
        ]

    def revoke_token(
        self, token_id: str, at: str, audit: dict[str, Any], audit_expires: int
    ) -> None:
        found = self._query(
            {
                "IndexName": "gsi1",
                "KeyConditionExpression": "gsi1pk = :pk AND gsi1sk = :id",
                "ExpressionAttributeValues": values(pk=keys.TOKENS_PARTITION, id=token_id),
            }
        )
        if not found:
            raise NotFound("token")
        key = {"pk": found[0]["pk"], "sk": found[0]["sk"]}
        self.transact(
            [
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": to_item(key),
                        "UpdateExpression": "SET revoked_at = :at",
                        "ConditionExpression": "attribute_exists(pk)",
                        "ExpressionAttributeValues": values(at=at),
                    }
                },
                audit_put(self._table, audit, audit_expires),
            ]
        )

    # -- reference data: staff list and taxonomy ---------------------------------

    def reference(self, now_epoch: int | None = None) -> dict[str, Any]:
        """The staff list and the stored taxonomy (None when never edited), in one Query.

        With `now_epoch`, staff records past their expiry are left out (TTL deletes lazily).
        """
        items = self._query(
            {
                "KeyConditionExpression": "pk = :pk",
                "ExpressionAttributeValues": values(pk=keys.REFERENCE_PARTITION),
                "ConsistentRead": True,
            }
        )
        staff = [
            _plain_record(item)
            for item in items
            if item.get("kind") == "staff" and (now_epoch is None or is_live(item, now_epoch))
        ]
        taxonomy = next(
            (_plain_record(item) for item in items if item.get("kind") == "taxonomy"), None
        )
        return {"staff": staff, "taxonomy": taxonomy}

    def staff_put(self, member: dict[str, Any], *, create: bool) -> dict[str, Any]:
        condition = "attribute_not_exists(pk)" if create else "attribute_exists(pk)"
        return {
            "Put": {
                "TableName": self._table,
                "Item": to_item(
                    {
                        **keys.staff_key(member["staff_id"]),
                        "kind": "staff",
                        "retention_class": "reference",
                        **member,
                    }
                ),
                "ConditionExpression": condition,
            }
        }

    def taxonomy_put(self, taxonomy: dict[str, Any], expected_version: int) -> dict[str, Any]:
        item = {
            **keys.taxonomy_key(),
            "kind": "taxonomy",
            "retention_class": "reference",
            **taxonomy,
            **active_id_attributes(taxonomy),
            "version": expected_version + 1,
        }
        if expected_version == 0:
            condition = "attribute_not_exists(pk)"
            condition_values: dict[str, Any] = {}
        else:
            condition = "version = :expected"
            condition_values = {"ExpressionAttributeValues": values(expected=expected_version)}
        return {
            "Put": {
                "TableName": self._table,
                "Item": to_item(item),
                "ConditionExpression": condition,
                **condition_values,
            }
        }

    def save_staff(
        self,
        member: dict[str, Any],
        *,
        create: bool,
        audit: dict[str, Any],
        audit_expires: int,
    ) -> None:
        """Create (id must be new) or replace (id must exist) a staff member, audited, in one write.

        Raises AlreadyExists / NotFound (nothing written) or StoreBusy.
        """
        try:
            self.transact(
                [
                    self.staff_put(member, create=create),
                    audit_put(self._table, audit, audit_expires),
                ]
            )
        except VersionConflict as exc:
            raise (AlreadyExists() if create else NotFound("staff")) from exc

    def save_taxonomy(
        self,
        taxonomy: dict[str, Any],
        expected_version: int,
        *,
        audit: dict[str, Any],
        audit_expires: int,
    ) -> None:
        """Store the taxonomy if it is still at `expected_version`, audited, in one write.

        Raises VersionConflict (someone saved first; nothing written) or StoreBusy.
        """
        self.transact(
            [
                self.taxonomy_put(taxonomy, expected_version),
                audit_put(self._table, audit, audit_expires),
            ]
        )

    # -- audit -------------------------------------------------------------------

    def audit_log(
        self, month: str, *, limit: int = 100, start: str | None = None, now_epoch: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A month's audit records, newest first, a page at a time (`start` = the last sk seen)."""
        request: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk" + (" AND sk < :start" if start else ""),
            "ExpressionAttributeValues": values(
                pk=f"AUDIT#{month}", **({"start": start} if start else {})
            ),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        response = self._page(request)
        records = [_plain_record(from_item(item)) for item in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        return (
            [record for record in records if is_live(record, now_epoch)],
            from_item(last)["sk"] if last else None,
        )

    def audit_of(self, target_type: str, target_id: str, now_epoch: int) -> list[dict[str, Any]]:
        """Every audit record about one target, oldest first."""
        items = self._query(
            {
                "IndexName": "gsi1",
                "KeyConditionExpression": "gsi1pk = :pk",
                "ExpressionAttributeValues": values(pk=f"AUDIT#{target_type}#{target_id}"),
            }
        )
        return [_plain_record(item) for item in items if is_live(item, now_epoch)]

    # -- plumbing ----------------------------------------------------------------

    def _page(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            response: dict[str, Any] = self._client.query(TableName=self._table, **request)
        except ClientError as exc:
            raise_if_busy(exc)
            raise
        return response

    def _query(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        return query_all(self._client, {"TableName": self._table, **request})
