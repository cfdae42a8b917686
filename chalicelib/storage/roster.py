"""Roster storage: expert profiles, listed by a Query on gsi1 (never a Scan).

An expert item also carries two attributes the case workflow maintains and
this store only reads: `open_cases` (int, the expert's cases not yet closed)
and `last_asked_at` (ISO, when the desk last asked the expert to take a
case). `put` leaves both untouched, so editing a profile never resets them.
The item's `kind` is the table-wide item type ("expert"); the expert's own
kind (advisor / partner) is stored as `role`.

Retention (class "reference"): every profile write sets `expires_at`, from
REFERENCE_RETENTION_DAYS for an active expert (the roster is edited a few
times a year, so a live profile never comes near it) and from
CASE_RETENTION_DAYS for an inactive one (its profile outlives every case that
can name it, then goes). Reads ignore expired profiles.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.core import retention
from chalicelib.core.errors import AlreadyExists, NotFound, StoreBusy, VersionConflict
from chalicelib.core.roster import Expert
from chalicelib.storage import keys
from chalicelib.storage.admin import audit_put
from chalicelib.storage.dynamo import (
    TableStore,
    from_item,
    is_live,
    query_all,
    raise_if_busy,
    to_item,
    transact,
    values,
)

DynamoDBClient = Any

ITEM_KIND = "expert"
# BatchGetItem takes at most 100 keys; unprocessed keys are retried a few times.
BATCH_SIZE = 100
BATCH_ATTEMPTS = 5


def expert_item(expert: Expert) -> dict[str, Any]:
    """The desk-table item of one expert (plain values; None means the attribute is absent)."""
    profile = expert.model_dump(mode="json", exclude={"kind"})
    return {
        **keys.expert_key(expert.expert_id),
        **keys.roster_index(expert.kind, expert.expert_id),
        "kind": ITEM_KIND,
        "role": expert.kind,
        **profile,
    }


def _expert(data: dict[str, Any]) -> Expert:
    """An expert from its item's plain values."""
    return Expert.model_validate({**data, "kind": data["role"]})


@dataclass(frozen=True)
class RosterEntry:
    """An expert with the standing the workflow keeps on the same item."""

    expert: Expert
    open_cases: int
    last_asked_at: str | None


def _entry(data: dict[str, Any]) -> RosterEntry:
    asked = data.get("last_asked_at")
    return RosterEntry(
        expert=_expert(data),
        # Never below zero, whatever a hand edit or a replayed decrement left behind.
        open_cases=max(int(data.get("open_cases", 0)), 0),
        last_asked_at=str(asked) if asked else None,
    )


def _profile_update(expert: Expert, expires_at: int) -> dict[str, Any]:
    """The UpdateItem arguments that write a profile (present attributes set, absent removed)."""
    item = {
        **expert_item(expert),
        "retention_class": retention.REFERENCE,
        "expires_at": expires_at,
    }
    key = {name: item.pop(name) for name in ("pk", "sk")}
    present = sorted(name for name, value in item.items() if value is not None)
    absent = sorted(name for name, value in item.items() if value is None)
    names = {f"#a{i}": name for i, name in enumerate(present)}
    update = "SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(present)))
    if absent:
        names.update({f"#r{i}": name for i, name in enumerate(absent)})
        update += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(absent)))
    return {
        "Key": to_item(key),
        "UpdateExpression": update,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values(
            **{f"a{i}": item[name] for i, name in enumerate(present)}
        ),
    }


class RosterStore(TableStore):
    def _expires_at(self, expert: Expert) -> int:
        return self._retention.expert_expiry(int(time.time()), active=expert.active)

    def put(self, expert: Expert) -> None:
        """Create or replace the profile; `open_cases` and `last_asked_at` stay as they are."""
        try:
            self._client.update_item(
                TableName=self._table, **_profile_update(expert, self._expires_at(expert))
            )
        except ClientError as exc:
            raise_if_busy(exc)
            raise

    def save(
        self, expert: Expert, *, create: bool, audit: dict[str, Any], audit_expires: int
    ) -> None:
        """Create (id must be new) or update (id must exist) a profile and audit it, in one transaction.

        Like `put`, it leaves `open_cases` and `last_asked_at` as they are.
        Raises AlreadyExists / NotFound (nothing written) or StoreBusy.
        """
        update = _profile_update(expert, self._expires_at(expert))
        update["ConditionExpression"] = (
            "attribute_not_exists(pk)" if create else "attribute_exists(pk)"
        )
        try:
            transact(
                self._client,
                [
                    {"Update": {"TableName": self._table, **update}},
                    audit_put(self._table, audit, audit_expires),
                ],
            )
        except VersionConflict as exc:
            raise (AlreadyExists() if create else NotFound("expert")) from exc

    def get(self, expert_id: str) -> Expert | None:
        entry = self.entry(expert_id)
        return entry.expert if entry is not None else None

    def entry(self, expert_id: str) -> RosterEntry | None:
        """One expert with its open cases and last request (one consistent GetItem)."""
        try:
            response = self._client.get_item(
                TableName=self._table, Key=to_item(keys.expert_key(expert_id)), ConsistentRead=True
            )
        except ClientError as exc:
            raise_if_busy(exc)
            raise
        item = response.get("Item")
        if item is None:
            return None
        data = from_item(item)
        return _entry(data) if is_live(data, int(time.time())) else None

    def entries(self) -> list[RosterEntry]:
        """Every expert with its standing, from the roster Query (no read per expert)."""
        return [_entry(item) for item in self._roster_items(active_only=False)]

    def list_all(self) -> list[Expert]:
        """Every expert, active or not: advisors, then partners, each by expert id."""
        return [_expert(item) for item in self._roster_items(active_only=False)]

    def list_active(self) -> list[Expert]:
        return [_expert(item) for item in self._roster_items(active_only=True)]

    def load_of(self, expert_ids: list[str]) -> dict[str, int]:
        """Open cases per expert (0 when the workflow has not counted any yet)."""
        found = self._attributes(expert_ids, "open_cases")
        # Never below zero, whatever a hand edit or a replayed decrement left behind.
        return {expert_id: max(int(found.get(expert_id, 0)), 0) for expert_id in expert_ids}

    def last_asked(self, expert_ids: list[str]) -> dict[str, str]:
        """When each expert was last asked (ISO); experts never asked are left out."""
        return {
            expert_id: str(value)
            for expert_id, value in self._attributes(expert_ids, "last_asked_at").items()
        }

    def _roster_items(self, *, active_only: bool) -> list[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :roster",
            "ExpressionAttributeValues": values(roster=keys.ROSTER_PARTITION),
        }
        if active_only:
            # A filter, not a sparse index: the admin list needs inactive experts too,
            # and the partition is a few dozen items.
            request["FilterExpression"] = "active = :yes"
            request["ExpressionAttributeValues"] = values(roster=keys.ROSTER_PARTITION, yes=True)
        now = int(time.time())
        return [item for item in query_all(self._client, request) if is_live(item, now)]

    def _attributes(self, expert_ids: list[str], name: str) -> dict[str, Any]:
        """One attribute of several experts by BatchGetItem (absent attributes left out)."""
        found: dict[str, Any] = {}
        unique = list(dict.fromkeys(expert_ids))
        for start in range(0, len(unique), BATCH_SIZE):
            pending: dict[str, Any] = {
                self._table: {
                    "Keys": [
                        to_item(keys.expert_key(expert_id))
                        for expert_id in unique[start : start + BATCH_SIZE]
                    ],
                    "ProjectionExpression": "expert_id, expires_at, #v",
                    "ExpressionAttributeNames": {"#v": name},
                }
            }
            for _ in range(BATCH_ATTEMPTS):
                try:
                    response = self._client.batch_get_item(RequestItems=pending)
                except ClientError as exc:
                    raise_if_busy(exc)
                    raise
                for item in response.get("Responses", {}).get(self._table, []):
                    data = from_item(item)
                    if name in data and is_live(data, int(time.time())):
                        found[data["expert_id"]] = data[name]
                pending = response.get("UnprocessedKeys") or {}
                if not pending:
                    break
            else:
                raise StoreBusy("UnprocessedKeys")
        return found
