"""The case lifecycle: which action may move a case from which status to which (pure).

    received (受付) → hearing (ヒアリング) → matching (調整中) → in_progress (対応中) → closed (完了)
    referred (他機関紹介) and withdrawn (取下げ) from any open status; spam from received.

    suspected_spam (迷惑投稿の疑い): a form post that filled the honeypot is kept
    apart, sends no mail and counts in no statistics until staff release it
    (→ received, with the mail a new case sends) or discard it (→ spam).

"take" (担当する) changes no status: it makes the acting staff member the owner.
Asking an expert and an expert declining change no status either; an expert
accepting moves the case to in_progress.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from chalicelib.core.case import STATUS_LABELS, Status


class Action(StrEnum):
    TAKE = "take"
    START_HEARING = "start_hearing"
    START_MATCHING = "start_matching"
    ASK_EXPERT = "ask_expert"
    EXPERT_ACCEPTED = "expert_accepted"
    EXPERT_DECLINED = "expert_declined"
    RECORD_SESSION = "record_session"
    CLOSE = "close"
    REFER = "refer"
    WITHDRAW = "withdraw"
    MARK_SPAM = "mark_spam"
    RELEASE = "release"


ACTION_LABELS: dict[Action, tuple[str, str]] = {
    Action.TAKE: ("担当する", "Take this case"),
    Action.START_HEARING: ("ヒアリングを開始する", "Start the hearing"),
    Action.START_MATCHING: ("専門家との調整を開始する", "Start matching an expert"),
    Action.ASK_EXPERT: ("専門家に依頼する", "Ask the expert"),
    Action.EXPERT_ACCEPTED: ("相談を引き受ける", "Accept the consultation"),
    Action.EXPERT_DECLINED: ("今回は辞退する", "Decline this time"),
    Action.RECORD_SESSION: ("相談を記録する", "Record a consultation"),
    Action.CLOSE: ("完了にする", "Close"),
    Action.REFER: ("他機関を紹介する", "Refer to another body"),
    Action.WITHDRAW: ("取下げにする", "Withdraw"),
    Action.MARK_SPAM: ("スパムとして破棄する", "Discard as spam"),
    Action.RELEASE: ("通常の相談として受け付ける", "Accept as a normal consultation"),
}

OPEN = frozenset({Status.RECEIVED, Status.HEARING, Status.MATCHING, Status.IN_PROGRESS})
# Kept apart until staff decide: not open (no reminders, no owner), not final.
HELD = frozenset({Status.SUSPECTED_SPAM})
FINAL = frozenset(Status) - OPEN - HELD

# action → (statuses it may start from, status it leads to; None: unchanged)
TRANSITIONS: dict[Action, tuple[frozenset[Status], Status | None]] = {
    Action.TAKE: (OPEN, None),
    Action.START_HEARING: (frozenset({Status.RECEIVED}), Status.HEARING),
    Action.START_MATCHING: (frozenset({Status.HEARING}), Status.MATCHING),
    Action.ASK_EXPERT: (frozenset({Status.MATCHING}), None),
    Action.EXPERT_ACCEPTED: (frozenset({Status.MATCHING}), Status.IN_PROGRESS),
    Action.EXPERT_DECLINED: (frozenset({Status.MATCHING}), None),
    Action.RECORD_SESSION: (frozenset({Status.IN_PROGRESS}), None),
    Action.CLOSE: (frozenset({Status.HEARING, Status.MATCHING, Status.IN_PROGRESS}), Status.CLOSED),
    Action.REFER: (frozenset({Status.RECEIVED, Status.HEARING, Status.MATCHING}), Status.REFERRED),
    Action.WITHDRAW: (OPEN, Status.WITHDRAWN),
    Action.MARK_SPAM: (frozenset({Status.RECEIVED, Status.SUSPECTED_SPAM}), Status.SPAM),
    Action.RELEASE: (HELD, Status.RECEIVED),
}


class IllegalTransition(ValueError):
    """The action does not apply to the case's current status; carries a message for people."""

    def __init__(self, action: Action, status: Status) -> None:
        status_ja, status_en = STATUS_LABELS[status]
        action_ja, action_en = ACTION_LABELS[action]
        self.message = f"この案件は現在「{status_ja}」のため、「{action_ja}」はできません。"
        self.message_en = f"The case is {status_en.lower()}: “{action_en}” does not apply."
        super().__init__(self.message_en)
        self.action = action
        self.status = status


class CaseAnonymised(IllegalTransition):
    """The requester's personal data was erased: nothing may act on the case any more."""

    def __init__(self, action: Action, status: Status) -> None:
        super().__init__(action, status)
        self.message = "この案件は相談者の個人情報を消去済みのため、操作できません。"
        self.message_en = "The requester's personal data was erased: the case cannot be acted on."
        self.args = (self.message_en,)


@dataclass(frozen=True)
class Outcome:
    status: Status
    changed: bool


def apply(action: Action, status: Status) -> Outcome:
    """The status after `action`; raises IllegalTransition when it does not apply."""
    allowed, target = TRANSITIONS[action]
    if status not in allowed:
        raise IllegalTransition(action, status)
    if target is None:
        return Outcome(status, False)
    return Outcome(target, target != status)


def apply_to_case(action: Action, case: Mapping[str, Any]) -> Outcome:
    """`apply` for a stored case: an anonymised case (personal data erased) takes no action,
    since every action mails or names the requester."""
    status = Status(case["status"])
    if case.get("anonymised_at"):
        raise CaseAnonymised(action, status)
    return apply(action, status)


def available(status: Status) -> list[Action]:
    """Actions that apply to a case in `status`, in the order mails offer them."""
    return [action for action in Action if status in TRANSITIONS[action][0]]
