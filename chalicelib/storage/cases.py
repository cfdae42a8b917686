"""Case storage: a new case, its mail, idempotency records and counters in one transaction."""

from __future__ import annotations

import secrets
import time
from typing import Any

from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from chalicelib.core import retention
from chalicelib.core.case import (
    KEY_ATTRIBUTES,
    IdempotencyClaim,
    OutgoingMessage,
    RateWindow,
    Status,
    change_tally,
)
from chalicelib.core.choices import ChoiceCheck
from chalicelib.core.errors import (
    AlreadyProcessed,
    ChoicesChanged,
    DuplicateSubmission,
    FormTokenUsed,
    IdempotencyKeyReused,
    LinkAlreadyUsed,
    RateLimited,
    ReceiptNumberTaken,
    StoreBusy,
    VersionConflict,
)
from chalicelib.core.lifecycle import HELD, OPEN
from chalicelib.core.privacy import requester_digest
from chalicelib.core.survey import opening as survey_opening
from chalicelib.core.timefmt import parse_iso
from chalicelib.storage import keys
from chalicelib.storage.admin import ACTIVE_ID_ATTRIBUTES, audit_put
from chalicelib.storage.dynamo import (
    TableStore,
    error_code,
    from_item,
    is_live,
    query_all,
    raise_if_busy,
    to_item,
    values,
)

# The low-level boto3 DynamoDB client (untyped here: no stub package on purpose).
DynamoDBClient = Any


def message_item(
    receipt: str, message: OutgoingMessage, at: str, expires_at: int
) -> dict[str, Any]:
    """An outgoing mail as the outbox stores it: PENDING and due at once."""
    return {
        **keys.message_key(receipt, message.message_id),
        **keys.outbox_index(at, message.message_id),
        "kind": "message",
        "receipt_number": receipt,
        "message_id": message.message_id,
        "template": message.template,
        "to": list(message.to),
        "context": message.context,
        "state": "PENDING",
        "attempts": 0,
        "next_attempt_at": at,
        "created_at": at,
        "retention_class": "mail",
        "expires_at": expires_at,
    }


def survey_item(receipt: str, item: dict[str, Any]) -> dict[str, Any]:
    """A survey record with its keys: pending a reminder, and (完了) a follow-up."""
    indexes = keys.survey_pending_index(item["ended_at"], receipt)
    if item.get("followup_due"):
        indexes |= keys.followup_pending_index(item["ended_at"], receipt)
    return {**keys.survey_key(receipt), **indexes, **item}


# Case list pages: items evaluated per Query, and Queries per page at most.
CASE_QUERY_BATCH = 100
CASE_QUERY_CALLS = 10


def _position(index_sort_key: str) -> tuple[str, str]:
    """(created_at, receipt number) of a case index sort key `<created>#<receipt>`."""
    created, _, receipt = index_sort_key.partition("#")
    return created, receipt


def _without_keys(item: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in item.items() if name not in KEY_ATTRIBUTES}


def _epoch(now_epoch: int | None) -> int:
    return int(time.time()) if now_epoch is None else now_epoch


class CaseStore(TableStore):
    def create_case(
        self,
        case: dict[str, Any],
        messages: list[OutgoingMessage],
        *,
        claims: list[IdempotencyClaim],
        counters: dict[str, int],
        rate: RateWindow | None,
        now_epoch: int,
        mail_expires_at: int,
        choices: ChoiceCheck | None = None,
    ) -> None:
        """Write everything a submission creates in ONE TransactWriteItems.

        `choices`: a condition on the stored taxonomy in the same transaction, so the
        chosen category and support types are checked against it without a read.

        Raises DuplicateSubmission (with the first receipt number),
        IdempotencyKeyReused, RateLimited, ReceiptNumberTaken, ChoicesChanged or
        StoreBusy; in every one of those cases nothing was written.
        """
        receipt = case["receipt_number"]
        created = case["created_at"]
        items: list[dict[str, Any]] = []
        kinds: list[str] = []

        items.append(
            {
                "Put": {
                    "TableName": self._table,
                    "Item": to_item(
                        {
                            **keys.case_key(receipt),
                            **keys.case_indexes(case["status"], case["month"], created, receipt),
                            "kind": "case",
                            **case,
                        }
                    ),
                    # A receipt number is never reused.
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        )
        kinds.append("case")

        # Finds the requester's cases by email for personal-data requests
        # (keys.py: the key holds a digest, the item no personal data).
        items.append(
            {
                "Put": {
                    "TableName": self._table,
                    "Item": to_item(
                        {
                            **keys.requester_case_key(requester_digest(case["email"]), receipt),
                            "kind": "requester_case",
                            "receipt_number": receipt,
                            "created_at": created,
                            "retention_class": case["retention_class"],
                            "expires_at": case["expires_at"],
                        }
                    ),
                }
            }
        )
        kinds.append("lookup")

        for message in messages:
            items.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": to_item(message_item(receipt, message, created, mail_expires_at)),
                    }
                }
            )
            kinds.append("message")

        for claim in claims:
            items.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": to_item(
                            {
                                **keys.idempotency_key(claim.kind, claim.digest),
                                "kind": "idempotency",
                                "receipt_number": receipt,
                                "case_status": case["status"],
                                "fingerprint": claim.fingerprint,
                                "retention_class": "idempotency",
                                "expires_at": claim.expires_at,
                            }
                        ),
                        # Free, or left over from a window that has passed
                        # (TTL deletes lazily, so expired records may linger).
                        "ConditionExpression": "attribute_not_exists(pk) OR expires_at < :now",
                        "ExpressionAttributeValues": values(now=now_epoch),
                        # Hand back the first receipt number without a second read.
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                }
            )
            kinds.append("claim")

        names = {f"#c{i}": name for i, name in enumerate(sorted(counters))}
        adds = ", ".join(f"#c{i} :n{i}" for i in range(len(names)))
        counter_values = {f"n{i}": counters[name] for i, name in enumerate(sorted(counters))}
        items.append(
            {
                "Update": {
                    "TableName": self._table,
                    "Key": to_item(
                        keys.counter_key(case["month"], secrets.randbelow(keys.COUNTER_SHARDS))
                    ),
                    # Anonymous statistics: kept when personal data expires or is erased.
                    "UpdateExpression": f"ADD {adds} SET kind = :kind, retention_class = :retention, expires_at = :exp",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values(
                        kind="counter",
                        retention=retention.STATISTICS,
                        exp=self._retention.statistics_expiry(now_epoch),
                        **counter_values,
                    ),
                }
            }
        )
        kinds.append("counter")

        if rate is not None:
            items.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": to_item(keys.rate_key(rate.client_digest, rate.hour)),
                        "UpdateExpression": "ADD submissions :one SET expires_at = :exp, kind = :kind, retention_class = :kind",
                        # Under the cap for this client and hour.
                        "ConditionExpression": "attribute_not_exists(submissions) OR submissions < :limit",
                        "ExpressionAttributeValues": values(
                            one=1, exp=rate.expires_at, limit=rate.limit, kind="rate_limit"
                        ),
                    }
                }
            )
            kinds.append("rate")

        if choices is not None:
            items.append(self._choice_check(choices))
            kinds.append("taxonomy")

        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if error_code(exc) == "TransactionCanceledException":
                self._raise_cancelled(exc, kinds, claims)
            raise_if_busy(exc)
            raise
        except (ReadTimeoutError, ConnectTimeoutError, EndpointConnectionError) as exc:
            # The write may or may not have happened: "send again" is the right answer
            # either way, since a resend of the same submission returns its first receipt.
            raise StoreBusy("timeout") from exc

    def _choice_check(self, check: ChoiceCheck) -> dict[str, Any]:
        """A ConditionCheck on the taxonomy item (core/choices.py says what it holds to)."""
        names: dict[str, str] = {}
        check_values: dict[str, Any] = {}
        if check.version is not None:
            # Still the taxonomy the ids were validated against after a fresh read.
            if check.version == 0:
                condition = "attribute_not_exists(pk)"
            else:
                condition, check_values = "version = :version", {"version": check.version}
        else:
            names = {
                "#categories": ACTIVE_ID_ATTRIBUTES["categories"],
                "#support": ACTIVE_ID_ATTRIBUTES["support_types"],
            }
            check_values["category"] = check.category
            # The category and every support type are active in the stored taxonomy...
            clauses = ["contains(#categories, :category)"]
            for i, kind in enumerate(check.support_types):
                check_values[f"support{i}"] = kind
                clauses.append(f"contains(#support, :support{i})")
            condition = " AND ".join(clauses)
            if check.deployment_allows:
                # ...or none is stored and the deployment file's lists, which allow them, apply.
                condition = f"attribute_not_exists(pk) OR ({condition})"
        entry: dict[str, Any] = {
            "TableName": self._table,
            "Key": to_item(keys.taxonomy_key()),
            "ConditionExpression": condition,
        }
        if names:
            entry["ExpressionAttributeNames"] = names
        if check_values:
            entry["ExpressionAttributeValues"] = values(**check_values)
        return {"ConditionCheck": entry}

    @staticmethod
    def _raise_cancelled(
        exc: ClientError, kinds: list[str], claims: list[IdempotencyClaim]
    ) -> None:
        reasons = exc.response.get("CancellationReasons") or []
        failed: dict[str, list[dict[str, Any]]] = {}
        claim_index = 0
        for kind, reason in zip(kinds, reasons, strict=False):
            code = reason.get("Code", "None")
            if kind == "claim":
                claim = claims[claim_index]
                claim_index += 1
                if code == "ConditionalCheckFailed":
                    old = from_item(reason.get("Item") or {})
                    if claim.kind == "form":
                        # Judged after the loop: the same content is a replay, not a reuse.
                        kind = "form"
                    elif old.get("fingerprint") not in (None, claim.fingerprint):
                        raise IdempotencyKeyReused() from exc
                    elif "receipt_number" in old:
                        raise DuplicateSubmission(
                            old["receipt_number"], str(old.get("case_status") or "received")
                        ) from exc
            if code not in ("None", None):
                failed.setdefault(code, []).append({"kind": kind})
        conditional = {entry["kind"] for entry in failed.get("ConditionalCheckFailed", [])}
        if "taxonomy" in conditional:
            # An invalid choice is refused whatever else failed with it.
            raise ChoicesChanged() from exc
        if "form" in conditional:
            raise FormTokenUsed() from exc
        if "rate" in conditional:
            raise RateLimited() from exc
        if "case" in conditional:
            raise ReceiptNumberTaken() from exc
        # TransactionConflict, throttling: nothing was written; the caller may retry.
        raise StoreBusy(",".join(sorted(failed)) or "cancelled") from exc

    def apply_change(
        self,
        case: dict[str, Any],
        *,
        changes: dict[str, Any],
        event: dict[str, Any],
        messages: list[OutgoingMessage],
        link_use: dict[str, Any] | None,
        mail_expires_at: int,
        inbound: dict[str, Any] | None = None,
        expert_load: dict[str, Any] | None = None,
        audit: dict[str, Any] | None = None,
        audit_expires: int | None = None,
    ) -> dict[str, Any]:
        """Change a case, record the event and its mail (and the link's use) in ONE transaction.

        The same transaction moves the lifecycle counters of the case's month
        (core/case.py `change_tally`: status, outcome, recategorisation,
        lead times; the milestones it stamps on the case are written with the
        change), so statistics cannot drift from the cases whatever path acts.

        `audit` (an admin.audit_entry, kept until `audit_expires`) records a
        change made through the admin API.

        `expert_load` (`expert_id`, `delta`, optional `last_asked_at`) keeps the
        expert's open-case count and last request, which matching reads, in
        step with the case.

        `inbound` (with `ses_message_id`) records the mail that caused the
        change, so the same SES message processed twice changes the case once.

        Optimistic locking: the write holds only if the case still has the
        version it was read at. Raises VersionConflict or LinkAlreadyUsed
        (nothing written) or StoreBusy. Returns the case as written.
        """
        receipt = case["receipt_number"]
        tally = change_tally(case, {**case, **changes}, event["at"])
        # A case ending as 完了 / 他機関紹介 opens its survey in this same write (core/survey.py).
        opened = survey_opening(case, {**case, **changes}, event["at"])
        counters = dict(tally.counters)
        for name, delta in (opened.counters if opened else {}).items():
            counters[name] = counters.get(name, 0) + delta
        changes = {**changes, **tally.stamps}
        new_case = {
            **case,
            **changes,
            "version": int(case["version"]) + 1,
            "updated_at": event["at"],
        }
        names: dict[str, str] = {}
        assignments = []
        update_values: dict[str, Any] = {"expected": int(case["version"])}
        fields = {**changes, "version": new_case["version"], "updated_at": event["at"]}
        if changes.get("status", case["status"]) != case["status"]:
            indexes = keys.case_indexes(
                new_case["status"], case["month"], case["created_at"], receipt
            )
            fields["gsi1pk"] = indexes["gsi1pk"]
            fields["gsi1sk"] = indexes["gsi1sk"]
        for i, (name, value) in enumerate(sorted(fields.items())):
            names[f"#f{i}"] = name
            update_values[f"v{i}"] = value
            assignments.append(f"#f{i} = :v{i}")
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": to_item(keys.case_key(receipt)),
                    "UpdateExpression": "SET " + ", ".join(assignments),
                    # Nobody changed the case since we read it.
                    "ConditionExpression": "version = :expected",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values(**update_values),
                }
            },
            {
                "Put": {
                    "TableName": self._table,
                    "Item": to_item(
                        {
                            **keys.event_key(receipt, event["at"], event["event_id"]),
                            "kind": "event",
                            "receipt_number": receipt,
                            "retention_class": "case",
                            "expires_at": case["expires_at"],
                            **event,
                        }
                    ),
                }
            },
        ]
        kinds = ["case", "event"]
        for message in messages:
            items.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": to_item(
                            message_item(receipt, message, event["at"], mail_expires_at)
                        ),
                    }
                }
            )
            kinds.append("message")
        if link_use is not None:
            items.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": to_item(
                            {
                                **keys.token_use_key(link_use["unique_id"]),
                                "kind": "link_use",
                                "receipt_number": receipt,
                                "retention_class": "link",
                                **link_use,
                            }
                        ),
                        # A link acts once.
                        "ConditionExpression": "attribute_not_exists(pk)",
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                }
            )
            kinds.append("link")
        if expert_load is not None:
            assignments = ["ADD open_cases :delta"]
            load_values: dict[str, Any] = {"delta": int(expert_load.get("delta", 0))}
            if expert_load.get("last_asked_at"):
                assignments.append("SET last_asked_at = :asked")
                load_values["asked"] = expert_load["last_asked_at"]
            items.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": to_item(keys.expert_key(expert_load["expert_id"])),
                        "UpdateExpression": " ".join(assignments),
                        # Only an expert on the roster.
                        "ConditionExpression": "attribute_exists(pk)",
                        "ExpressionAttributeValues": values(**load_values),
                    }
                }
            )
            kinds.append("expert")
        if inbound is not None:
            items.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": to_item(
                            {
                                **keys.inbound_key(inbound["ses_message_id"]),
                                "kind": "inbound",
                                "receipt_number": receipt,
                                "retention_class": "mail",
                                "expires_at": mail_expires_at,
                                **inbound,
                            }
                        ),
                        # Each inbound message acts once.
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
            kinds.append("inbound")
        if opened is not None:
            items.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": to_item(survey_item(receipt, opened.item)),
                        # A case ends once (no status leads out of 完了 / 他機関紹介).
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
            kinds.append("survey")
        if counters:
            items.append(self._counter_update(case["month"], counters, event["at"]))
            kinds.append("counter")
        if audit is not None:
            if audit_expires is None:
                raise ValueError("an audit record needs its expiry")
            items.append(audit_put(self._table, audit, audit_expires))
            kinds.append("audit")
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise_if_busy(exc)
                raise
            reasons = exc.response.get("CancellationReasons") or []
            for kind, reason in zip(kinds, reasons, strict=False):
                if kind == "link" and reason.get("Code") == "ConditionalCheckFailed":
                    raise LinkAlreadyUsed(from_item(reason.get("Item") or {})) from exc
                if kind == "inbound" and reason.get("Code") == "ConditionalCheckFailed":
                    raise AlreadyProcessed() from exc
            for kind, reason in zip(kinds, reasons, strict=False):
                if kind == "case" and reason.get("Code") == "ConditionalCheckFailed":
                    raise VersionConflict() from exc
            raise StoreBusy("cancelled") from exc
        return new_case

    def _counter_update(self, month: str, counters: dict[str, int], at: str) -> dict[str, Any]:
        """ADD to one random shard of the month's statistics (negative deltas move a count)."""
        ordered = sorted(counters)
        names = {f"#c{i}": name for i, name in enumerate(ordered)}
        adds = ", ".join(f"#c{i} :n{i}" for i in range(len(ordered)))
        return {
            "Update": {
                "TableName": self._table,
                "Key": to_item(keys.counter_key(month, secrets.randbelow(keys.COUNTER_SHARDS))),
                # Anonymous statistics: kept when personal data expires or is erased.
                "UpdateExpression": (
                    f"ADD {adds} SET kind = :kind, retention_class = :retention, expires_at = :exp"
                ),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values(
                    kind="counter",
                    retention=retention.STATISTICS,
                    exp=self._retention.statistics_expiry(int(parse_iso(at).timestamp())),
                    **{f"n{i}": counters[name] for i, name in enumerate(ordered)},
                ),
            }
        }

    def record_inbound(
        self, ses_message_id: str, attributes: dict[str, Any], *, quarantined: bool
    ) -> bool:
        """Record an inbound message that changed no case (dropped or quarantined).

        Returns False if that message was recorded before (a redelivery).
        """
        item = {
            **keys.inbound_key(ses_message_id),
            "kind": "inbound",
            "retention_class": retention.MAIL,
            "expires_at": self._retention.mail_expiry(_epoch(None)),
            **attributes,
        }
        if quarantined:
            item.update(keys.quarantine_index(attributes["at"], ses_message_id))
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_item(item),
                # Each inbound message is recorded once.
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise_if_busy(exc)
            raise
        return True

    def inbound_seen(self, ses_message_id: str) -> bool:
        response = self._client.get_item(
            TableName=self._table,
            Key=to_item(keys.inbound_key(ses_message_id)),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return item is not None and is_live(from_item(item), _epoch(None))

    def link_use(self, unique_id: str) -> dict[str, Any] | None:
        """What a used link did, or None if it was never used."""
        response = self._client.get_item(
            TableName=self._table, Key=to_item(keys.token_use_key(unique_id)), ConsistentRead=True
        )
        item = response.get("Item")
        used = from_item(item) if item else None
        return used if used and is_live(used, _epoch(None)) else None

    def get_case(self, receipt_number: str, now_epoch: int | None = None) -> dict[str, Any] | None:
        """The case, or None if there is none or it has expired."""
        response = self._client.get_item(
            TableName=self._table, Key=to_item(keys.case_key(receipt_number)), ConsistentRead=True
        )
        item = response.get("Item")
        if not item:
            return None
        case = from_item(item)
        return case if is_live(case, _epoch(now_epoch)) else None

    def case_items(self, receipt_number: str, now_epoch: int | None = None) -> list[dict[str, Any]]:
        """The case with everything stored under it (timeline, mail), in key order; expired items left out."""
        now = _epoch(now_epoch)
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": values(pk=f"CASE#{receipt_number}"),
            "ConsistentRead": True,
        }
        return [item for item in query_all(self._client, kwargs) if is_live(item, now)]

    def month_counters(self, month: str, now_epoch: int | None = None) -> dict[str, int]:
        """The month's statistics counters, summed over their shards (expired shards left out)."""
        response = self._client.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=values(pk=f"STATS#{month}"),
            ConsistentRead=True,
        )
        totals: dict[str, int] = {}
        now = _epoch(now_epoch)
        for item in response.get("Items", []):
            shard = from_item(item)
            if not is_live(shard, now):
                continue
            for name, value in shard.items():
                if name in ("pk", "sk", "kind", "retention_class", "expires_at"):
                    continue
                totals[name] = totals.get(name, 0) + int(value)
        return totals

    def open_cases(self, now_epoch: int | None = None) -> list[dict[str, Any]]:
        """Every open case (received, hearing, matching, in progress), oldest first per status.

        One paged Query on gsi1 per open status (no Scan); expired cases are left out.
        """
        return self._cases_in(OPEN, now_epoch)

    def held_cases(self, now_epoch: int | None = None) -> list[dict[str, Any]]:
        """Cases kept as suspected spam, waiting for staff to release or discard them."""
        return self._cases_in(HELD, now_epoch)

    def _cases_in(self, statuses: frozenset[Status], now_epoch: int | None) -> list[dict[str, Any]]:
        now = _epoch(now_epoch)
        cases: list[dict[str, Any]] = []
        for status in sorted(statuses):
            kwargs: dict[str, Any] = {
                "TableName": self._table,
                "IndexName": "gsi1",
                "KeyConditionExpression": "gsi1pk = :pk",
                "ExpressionAttributeValues": values(pk=keys.status_partition(status.value)),
            }
            cases.extend(
                item
                for item in query_all(self._client, kwargs)
                if item.get("kind") == "case" and is_live(item, now)
            )
        return cases

    def cases_page(
        self,
        *,
        by: str,
        value: str,
        low: str | None,
        high: str | None,
        category: str | None,
        attributes: tuple[str, ...],
        limit: int,
        start: tuple[str, str] | None,
        newest_first: bool,
        now_epoch: int,
    ) -> tuple[list[dict[str, Any]], tuple[str, str] | None]:
        """Up to `limit` cases of one index partition, and where the next page starts (None: done).

        A position is (created_at, receipt number) of the last case returned:
        the page after it starts right behind it.

        `by` "status" queries gsi1 STATUS#<value>, "month" queries gsi2
        MONTH#<value>; `low` <= sort key < `high` (ISO instants: the sort key
        is `<created>#<receipt>`, so `high` itself is never included);
        `category` filters. Only `attributes` are read (a projection: list
        views never fetch what they do not show). At most CASE_QUERY_CALLS
        Queries per page: a sparse filter returns a short page with a start
        key, never a long request.
        """
        index, pk_name, sk_name = (
            ("gsi1", "gsi1pk", "gsi1sk") if by == "status" else ("gsi2", "gsi2pk", "gsi2sk")
        )
        partition = keys.status_partition(value) if by == "status" else keys.month_partition(value)
        key_names = ("pk", "sk", pk_name, sk_name)
        wanted = list(dict.fromkeys([*key_names, "kind", "expires_at", *attributes]))
        names = {f"#a{i}": name for i, name in enumerate(wanted)}
        names.update({"#ipk": pk_name, "#kind": "kind"})
        condition = "#ipk = :pk"
        named: dict[str, Any] = {"pk": partition, "case": "case"}
        if low and high:
            condition += " AND #isk BETWEEN :low AND :high"
            named.update(low=low, high=high)
        elif low:
            condition += " AND #isk >= :low"
            named["low"] = low
        elif high:
            condition += " AND #isk < :high"
            named["high"] = high
        if low or high:
            names["#isk"] = sk_name
        filters = "#kind = :case"
        if category:
            names["#category"] = "category"
            filters += " AND #category = :category"
            named["category"] = category
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "FilterExpression": filters,
            "ProjectionExpression": ", ".join(f"#a{i}" for i in range(len(wanted))),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values(**named),
            "ScanIndexForward": not newest_first,
            "Limit": CASE_QUERY_BATCH,
        }
        if start:
            created, receipt = start
            request["ExclusiveStartKey"] = to_item(
                {
                    **keys.case_key(receipt),
                    pk_name: partition,
                    sk_name: f"{created}#{receipt}",
                }
            )
        found: list[dict[str, Any]] = []
        for _ in range(CASE_QUERY_CALLS):
            try:
                response = self._client.query(**request)
            except ClientError as exc:
                raise_if_busy(exc)
                raise
            items = [from_item(item) for item in response.get("Items", [])]
            last = response.get("LastEvaluatedKey")
            for position, item in enumerate(items):
                if not is_live(item, now_epoch):
                    continue
                found.append(item)
                if len(found) == limit:
                    more = position < len(items) - 1 or last is not None
                    following = _position(str(item[sk_name])) if more else None
                    return [_without_keys(case) for case in found], following
            if last is None:
                return [_without_keys(case) for case in found], None
            request["ExclusiveStartKey"] = last
        # The call budget is spent: the caller continues from the last key evaluated.
        return [_without_keys(case) for case in found], _position(str(from_item(last)[sk_name]))

    def month_cases(
        self, month: str, attributes: tuple[str, ...], now_epoch: int
    ) -> list[dict[str, Any]]:
        """Every live case received in `month` (gsi2), oldest first, reading only `attributes`."""
        cases: list[dict[str, Any]] = []
        start: tuple[str, str] | None = None
        while True:
            page, start = self.cases_page(
                by="month",
                value=month,
                low=None,
                high=None,
                category=None,
                attributes=attributes,
                limit=CASE_QUERY_BATCH * CASE_QUERY_CALLS,
                start=start,
                newest_first=False,
                now_epoch=now_epoch,
            )
            cases.extend(page)
            if start is None:
                return cases

    def enqueue(
        self, messages: list[OutgoingMessage], receipt_number: str, now: str, expires_at: int
    ) -> int:
        """Put scheduled mail into the outbox under `receipt_number` (a case's or a desk pseudo one).

        Each message is written only if its id is new, so a job that derives
        ids from the day (or month) sends nothing more when it runs again.
        Returns how many messages were newly enqueued.
        """
        written = 0
        for message in messages:
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item=to_item(message_item(receipt_number, message, now, expires_at)),
                    # Not enqueued before (the id says which day and recipient).
                    ConditionExpression="attribute_not_exists(pk)",
                )
            except ClientError as exc:
                if error_code(exc) == "ConditionalCheckFailedException":
                    continue
                raise_if_busy(exc)
                raise
            written += 1
        return written
