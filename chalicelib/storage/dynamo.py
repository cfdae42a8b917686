"""Shared DynamoDB plumbing: (de)serialising items and translating ClientError codes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from chalicelib.core import retention
from chalicelib.core.errors import StoreBusy, VersionConflict

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

# Codes after which nothing was written and a later try may succeed.
BUSY_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionInProgressException",
    }
)


class TableStore:
    """A store on the desk table: the low-level client, the table, the retention periods."""

    def __init__(
        self,
        client: Any,
        table_name: str,
        retention_policy: retention.RetentionPolicy | None = None,
    ) -> None:
        self._client = client
        self._table = table_name
        self._retention = retention_policy or retention.RetentionPolicy()


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in values.items()}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: plain(_deserializer.deserialize(value)) for key, value in item.items()}


def values(**named: Any) -> dict[str, Any]:
    """ExpressionAttributeValues from keyword arguments (`:name` → serialised value)."""
    return {f":{name}": _serializer.serialize(value) for name, value in named.items()}


def plain(value: Any) -> Any:
    """A deserialised value with its numbers as int (they come back as Decimal; the desk's are whole)."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, set):
        return {plain(v) for v in value}
    return value


def is_live(item: Mapping[str, Any], now_epoch: int) -> bool:
    """False for an item past its expiry: TTL deletes lazily (up to days later), so reads filter."""
    expires_at = item.get("expires_at")
    return expires_at is None or int(expires_at) >= now_epoch


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def raise_if_busy(exc: ClientError) -> None:
    if error_code(exc) in BUSY_CODES:
        raise StoreBusy(error_code(exc)) from exc


def query_all(client: Any, request: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every item a Query matches, page after page, as plain values (throttling: StoreBusy)."""
    items: list[dict[str, Any]] = []
    page = dict(request)
    while True:
        try:
            response = client.query(**page)
        except ClientError as exc:
            raise_if_busy(exc)
            raise
        items.extend(from_item(item) for item in response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return items
        page["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def transact(client: Any, items: list[dict[str, Any]]) -> None:
    """TransactWriteItems: a failed condition on any item is VersionConflict (nothing
    written; the caller re-reads or says so), throttling or a conflict StoreBusy."""
    try:
        client.transact_write_items(TransactItems=items)
    except ClientError as exc:
        if error_code(exc) != "TransactionCanceledException":
            raise_if_busy(exc)
            raise
        reasons = exc.response.get("CancellationReasons") or []
        if any(reason.get("Code") == "ConditionalCheckFailed" for reason in reasons):
            raise VersionConflict() from exc
        raise StoreBusy("cancelled") from exc
