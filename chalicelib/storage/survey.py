"""Survey storage: a case's survey record, its answer (with the timeline entry, the staff mail
and the anonymous counters in one transaction), and the reminder and follow-up queues."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from chalicelib.core import survey as rules
from chalicelib.core.case import OutgoingMessage
from chalicelib.core.errors import StoreBusy
from chalicelib.storage import keys
from chalicelib.storage.cases import CaseStore, message_item
from chalicelib.storage.dynamo import (
    error_code,
    from_item,
    is_live,
    query_all,
    raise_if_busy,
    to_item,
    values,
)


class SurveyStore(CaseStore):
    """The survey records under the cases (a CaseStore: it reads the case it answers for)."""

    def survey(self, receipt_number: str, now_epoch: int) -> dict[str, Any] | None:
        """The case's survey record, or None (never surveyed, or expired with the case)."""
        response = self._client.get_item(
            TableName=self._table, Key=to_item(keys.survey_key(receipt_number)), ConsistentRead=True
        )
        item = response.get("Item")
        found = from_item(item) if item else None
        return found if found and is_live(found, now_epoch) else None

    def _event_put(self, case: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
        receipt = case["receipt_number"]
        return {
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
        }

    def _requester_still_there(self, receipt: str) -> dict[str, Any]:
        return {
            "ConditionCheck": {
                "TableName": self._table,
                "Key": to_item(keys.case_key(receipt)),
                # Not erased meanwhile: an answer never lands on an anonymised case.
                "ConditionExpression": "attribute_exists(email) AND attribute_not_exists(anonymised_at)",
            }
        }

    def _write_answer(self, items: list[dict[str, Any]], *, same: Any, field: str) -> None:
        """Run an answer's transaction; the survey update is first, the case check second."""
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise_if_busy(exc)
                raise
            reasons = exc.response.get("CancellationReasons") or []
            codes = [reason.get("Code") for reason in reasons]
            if codes and codes[0] == "ConditionalCheckFailed":
                old = from_item(reasons[0].get("Item") or {})
                if old.get(field) is not None:
                    raise rules.SurveyAnswered(same(old)) from exc
                raise rules.SurveyUnavailable() from exc
            if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
                raise rules.SurveyUnavailable() from exc
            raise StoreBusy("cancelled") from exc

    def answer(
        self,
        case: dict[str, Any],
        answer: rules.Answer,
        *,
        event: dict[str, Any],
        counters: dict[str, int],
        messages: list[OutgoingMessage],
        mail_expires_at: int,
    ) -> None:
        """Store the answer once, with its timeline entry, its counts in the case's month and
        the staff mail, in ONE transaction. Raises SurveyAnswered (answered before; `same`
        for this very answer), SurveyUnavailable (no survey, or the case was erased) or
        StoreBusy; nothing is written in each of those cases."""
        receipt = case["receipt_number"]
        digest = answer.digest()
        fields: dict[str, Any] = {
            "answered_at": event["at"],
            "satisfaction": answer.satisfaction,
            "progress": answer.progress,
            "answer_digest": digest,
        }
        if answer.comment:
            fields["comment"] = answer.comment
        if answer.ratings:
            fields["ratings"] = dict(answer.ratings)
        names = {f"#f{i}": name for i, name in enumerate(sorted(fields))}
        assignments = ", ".join(f"#f{i} = :v{i}" for i in range(len(fields)))
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": to_item(keys.survey_key(receipt)),
                    # Out of the reminder queue with the answer.
                    "UpdateExpression": f"SET {assignments} REMOVE gsi1pk, gsi1sk",
                    # The case was surveyed, and not answered yet.
                    "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(answered_at)",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values(
                        **{f"v{i}": fields[name] for i, name in enumerate(sorted(fields))}
                    ),
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            },
            self._requester_still_there(receipt),
            self._event_put(case, event),
        ]
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
        items.append(self._counter_update(case["month"], counters, event["at"]))
        self._write_answer(
            items, same=lambda old: old.get("answer_digest") == digest, field="answered_at"
        )

    def answer_followup(
        self,
        case: dict[str, Any],
        choice: str,
        *,
        event: dict[str, Any],
        counters: dict[str, int],
    ) -> None:
        """Store the follow-up answer once (as `answer`); raises the same errors."""
        receipt = case["receipt_number"]
        items = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": to_item(keys.survey_key(receipt)),
                    "UpdateExpression": "SET followup_answer = :choice, followup_answered_at = :at",
                    # The follow-up was sent, and not answered yet.
                    "ConditionExpression": (
                        "attribute_exists(followup_sent_at) AND attribute_not_exists(followup_answered_at)"
                    ),
                    "ExpressionAttributeValues": values(choice=choice, at=event["at"]),
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            },
            self._requester_still_there(receipt),
            self._event_put(case, event),
            self._counter_update(case["month"], counters, event["at"]),
        ]
        self._write_answer(
            items,
            same=lambda old: old.get("followup_answer") == choice,
            field="followup_answered_at",
        )

    # -- the reminder and follow-up queues (the daily job) ---------------------

    def pending_surveys(self, ended_before: str, now_epoch: int) -> list[dict[str, Any]]:
        """Unanswered, unreminded surveys of cases that ended before `ended_before` (gsi1)."""
        request = {
            "TableName": self._table,
            "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :pk AND gsi1sk < :before",
            "ExpressionAttributeValues": values(
                pk=keys.SURVEY_PENDING_PARTITION, before=ended_before
            ),
        }
        return [item for item in query_all(self._client, request) if is_live(item, now_epoch)]

    def due_followups(self, low: str, high: str, now_epoch: int) -> list[dict[str, Any]]:
        """Closed cases' surveys whose follow-up is unsent, ended in [low, high) (gsi2)."""
        request = {
            "TableName": self._table,
            "IndexName": "gsi2",
            "KeyConditionExpression": "gsi2pk = :pk AND gsi2sk BETWEEN :low AND :high",
            "ExpressionAttributeValues": values(
                pk=keys.FOLLOWUP_PENDING_PARTITION, low=low, high=high
            ),
        }
        return [
            item
            for item in query_all(self._client, request)
            if is_live(item, now_epoch) and str(item.get("gsi2sk", "")) < high
        ]

    def dequeue(
        self,
        survey: dict[str, Any],
        *,
        queue: str,
        messages: list[OutgoingMessage],
        at: str,
        mail_expires_at: int,
        counters: dict[str, int] | None = None,
    ) -> bool:
        """Take a survey off one queue ("reminder": gsi1, "followup": gsi2), with the mail it
        sends (none: the case can no longer be asked) and its counts, in one transaction.
        False when another run took it first (nothing written)."""
        receipt = survey["receipt_number"]
        index, stamp = (
            ("gsi1", "reminded_at") if queue == "reminder" else ("gsi2", "followup_sent_at")
        )
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": to_item(keys.survey_key(receipt)),
                    "UpdateExpression": f"SET {stamp} = :at REMOVE {index}pk, {index}sk",
                    # Still on this queue (a parallel run or the answer took it off).
                    "ConditionExpression": f"attribute_exists({index}pk)",
                    "ExpressionAttributeValues": values(at=at),
                }
            }
        ]
        for message in messages:
            items.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": to_item(message_item(receipt, message, at, mail_expires_at)),
                        # One reminder / follow-up per case, ever.
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
        if counters:
            items.append(self._counter_update(str(survey["month"]), counters, at))
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise_if_busy(exc)
                raise
            reasons = exc.response.get("CancellationReasons") or []
            if any(reason.get("Code") == "ConditionalCheckFailed" for reason in reasons):
                return False
            raise StoreBusy("cancelled") from exc
        return True
