"""One decision, whatever the channel: the same act on the same case through a signed link,
the admin API and a mail command stores the same result (core/acting.py `decide`)."""

from __future__ import annotations

import json
import uuid
from email.message import EmailMessage
from typing import Any

import boto3
import pytest

from chalicelib import runtime
from chalicelib.core import lifecycle
from chalicelib.core.acting import Act, perform
from chalicelib.core.actiontoken import link_for
from chalicelib.core.case import Status, month_of
from chalicelib.core.lifecycle import TRANSITIONS, Action
from chalicelib.core.ports import Desk
from chalicelib.intake.service import submit_consultation
from chalicelib.outbox.service import case_reply_address
from chalicelib.runtime import get_deployment, get_settings
from infra.local.demo_roster import seed
from tests.conftest import valid_payload
from tests.integration.test_inbound import deliver

STAFF_A = "staff-a@dx-desk.example.jp"
EXPERT = "advisor-a"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
CHANNELS = ("link", "admin", "mail")
# The words a staff member writes in a reply for each act (mailin/commands.py).
MAIL_WORDS = {
    Action.TAKE: "担当",
    Action.START_HEARING: "ヒアリング開始",
    Action.START_MATCHING: "調整開始",
    Action.CLOSE: "完了",
    Action.WITHDRAW: "取下げ",
    Action.MARK_SPAM: "スパム",
}
# How each starting state is reached (through perform, as staff would).
SETUPS: dict[str, list[tuple[Action, str | None]]] = {
    "received": [],
    "hearing": [(Action.TAKE, None), (Action.START_HEARING, None)],
    "matching": [(Action.TAKE, None), (Action.START_HEARING, None), (Action.START_MATCHING, None)],
    "in_progress": [
        (Action.TAKE, None),
        (Action.START_HEARING, None),
        (Action.START_MATCHING, None),
        (Action.ASK_EXPERT, EXPERT),
        (Action.EXPERT_ACCEPTED, EXPERT),
    ],
}
# (starting state, act): every act a reply can say, legal and not.
TABLE = [
    ("received", Action.TAKE),
    ("received", Action.START_HEARING),
    ("received", Action.WITHDRAW),
    ("received", Action.MARK_SPAM),
    ("received", Action.START_MATCHING),  # does not apply
    ("received", Action.CLOSE),  # does not apply
    ("hearing", Action.START_MATCHING),
    ("hearing", Action.CLOSE),
    ("hearing", Action.TAKE),
    ("matching", Action.WITHDRAW),
    ("in_progress", Action.CLOSE),
    ("in_progress", Action.WITHDRAW),
    ("in_progress", Action.START_HEARING),  # does not apply
    ("in_progress", Action.MARK_SPAM),  # does not apply
]


def new_case(state: str) -> str:
    settings, deployment = get_settings(), get_deployment()
    receipt = submit_consultation(
        valid_payload(email=f"requester-{uuid.uuid4().hex[:8]}@example.com"),
        store=runtime.case_store(),
        channel="api",
        desk=Desk(
            settings=settings,
            deployment=deployment,
            staff=runtime.directory().staff,
            now=runtime.now(),
        ),
    ).receipt_number
    for action, expert_id in SETUPS[state]:
        actor = (
            runtime.roster_store().get(expert_id).contact_emails[0]
            # type: ignore[union-attr]
            if (action is Action.EXPERT_ACCEPTED)
            else STAFF_A
        )
        perform(
            Act(action, actor, "link", expert_id=expert_id, address=actor),
            stored(receipt),
            store=runtime.case_store(),
            roster=runtime.roster_store(),
            desk=Desk(
                settings=settings,
                deployment=deployment,
                staff=runtime.directory().staff,
                now=runtime.now(),
            ),
        )
    return receipt


def stored(receipt: str) -> dict[str, Any]:
    case = runtime.case_store().get_case(receipt)
    assert case is not None
    return case


def counters() -> dict[str, int]:
    return runtime.case_store().month_counters(month_of(runtime.now()))


def message_ids(receipt: str) -> set[str]:
    return {
        str(item["message_id"])
        for item in runtime.case_store().case_items(receipt)
        if item["kind"] == "message"
    }


def act_through(channel: str, receipt: str, action: Action, client: Any, headers: Any) -> None:
    if channel == "link":
        token = link_for(
            get_settings(),
            action=action,
            receipt_number=receipt,
            recipient=STAFF_A,
            now=runtime.now(),
        ).rsplit("/", 1)[1]
        client.http.post(f"/actions/{token}", headers=FORM, body="note=")
    elif channel == "admin":
        body: dict[str, Any] = {"version": stored(receipt)["version"]}
        if action is Action.TAKE:
            body["owner"] = STAFF_A
        client.http.post(
            f"/admin/cases/{receipt}/actions/{action.value}",
            headers=headers,
            body=json.dumps(body),
        )
    else:
        msg = EmailMessage()
        msg["From"] = f"事務局スタッフA <{STAFF_A}>"
        msg["To"] = str(case_reply_address(get_settings(), receipt))
        msg["Subject"] = f"Re: {receipt}"
        msg["Message-ID"] = f"<{uuid.uuid4().hex}@dx-desk.example.jp>"
        msg.set_content(MAIL_WORDS[action] + "\n")
        deliver(msg.as_bytes())


def outcome(receipt: str, before: dict[str, int], mails_before: set[str]) -> dict[str, Any]:
    """What one act left behind, channel-neutral (who and through which channel left out)."""
    case = stored(receipt)
    actions = [
        item
        for item in runtime.case_store().case_items(receipt)
        if item["kind"] == "event" and item.get("type") == "action"
    ]
    last = max(actions, key=lambda item: str(item["at"]), default={})
    after = counters()
    moved = {
        name: after.get(name, 0) - before.get(name, 0)
        for name in set(after) | set(before)
        # Seconds differ with the moment each channel acted; everything else must not.
        if not name.endswith(":seconds") and after.get(name, 0) != before.get(name, 0)
    }
    new_mail = [
        item
        for item in runtime.case_store().case_items(receipt)
        if item["kind"] == "message" and str(item["message_id"]) not in mails_before
    ]
    return {
        "case": {
            name: case.get(name)
            for name in (
                "status",
                "owner",
                "outcome",
                "expert_id",
                "asked_experts",
                "declined_experts",
                "category",
                "support_types",
            )
        },
        "milestones": sorted(
            name for name in ("first_contact_at", "matched_at", "ended_at") if name in case
        ),
        "event": {k: last.get(k) for k in ("action", "from_status", "to_status", "outcome")},
        "counters": moved,
        "mail": sorted(
            # Each channel's case has its own requester: named by role, not address.
            (
                str(item["template"]),
                tuple("requester" if to == case.get("email") else to for to in item["to"]),
            )
            for item in new_mail
            if item["template"] != "reply_result"  # the mail channel's own answer
        ),
        "expert_load": runtime.roster_store().load_of([EXPERT])[EXPERT],
    }


@pytest.fixture
def roster(aws: dict[str, Any]) -> None:
    seed(boto3.client("dynamodb"), aws["env"]["TABLE_NAME"])


@pytest.mark.parametrize(("state", "action"), TABLE, ids=[f"{s}-{a.value}" for s, a in TABLE])
def test_the_same_act_decides_the_same_through_every_channel(
    client: Any, staff_headers: dict[str, str], roster: None, state: str, action: Action
) -> None:
    results = {}
    for channel in CHANNELS:
        receipt = new_case(state)
        before, mails_before = counters(), message_ids(receipt)
        load_before = runtime.roster_store().load_of([EXPERT])[EXPERT]
        act_through(channel, receipt, action, client, staff_headers)
        found = outcome(receipt, before, mails_before)
        found["expert_load"] -= load_before
        results[channel] = found
    assert results["link"] == results["admin"], (results["link"], results["admin"])
    assert results["link"] == results["mail"], (results["link"], results["mail"])
    # And each did what the lifecycle says, or nothing where the act does not apply.
    legal = Status(state) in TRANSITIONS[action][0]
    if legal:
        assert results["link"]["event"]["action"] == action.value
        assert results["link"]["case"]["status"] == lifecycle.apply(action, Status(state)).status
    else:
        assert results["link"]["case"]["status"] == state
        assert results["link"]["counters"] == {} and results["link"]["mail"] == []
