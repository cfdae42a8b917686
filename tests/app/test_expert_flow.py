"""Matching by mail: staff ask a suggested expert, the expert accepts or declines from the mail."""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
import pytest

from chalicelib import deps
from chalicelib.jobs.outbox import sweep_once
from infra.demo_roster import ROSTER, seed
from tests.conftest import valid_payload

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
STAFF_A = "staff-a@dx-desk.example.jp"


@pytest.fixture
def roster(aws: dict[str, Any]) -> dict[str, str]:
    """The demo roster seeded; expert id → contact address."""
    seed(boto3.client("dynamodb"), aws["env"]["TABLE_NAME"])
    return {str(e.get("expert_id")): str(e.get("email")) for e in ROSTER}


def submit(client: Any) -> str:
    response = client.http.post(
        "/consultations",
        headers={"Content-Type": "application/json"},
        body=json.dumps(valid_payload()),
    )
    assert response.status_code == 201
    return str(response.json_body["receipt_number"])


def mails_to(mailbox: Any, address: str, receipt: str) -> list[Any]:
    return [m for m in mailbox() if m["To"] == address and receipt in m["Subject"]]


def text_of(mail: Any) -> str:
    body = mail.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def links(mail: Any) -> dict[str, str]:
    return dict(re.findall(r"・(\S+)\n\s+http://desk\.test(/actions/\S+)", text_of(mail)))


def press(client: Any, path: str) -> Any:
    response = client.http.post(path, headers=FORM, body="")
    assert response.status_code == 200, response.body.decode()
    return response


def case(receipt: str) -> dict[str, Any]:
    found = deps.case_store().get_case(receipt)
    assert found is not None
    return found


def to_matching(client: Any, mailbox: Any) -> tuple[str, Any]:
    receipt = submit(client)
    sweep_once()
    staff_links = links(mails_to(mailbox, STAFF_A, receipt)[0])
    press(client, staff_links["ヒアリングを開始する"])
    # The next step's link comes from the same kind of signed link.
    from chalicelib.config import get_settings
    from chalicelib.domain.lifecycle import Action
    from chalicelib.services.actions import link_for

    matching = link_for(
        get_settings(),
        action=Action.START_MATCHING,
        receipt_number=receipt,
        recipient=STAFF_A,
        now=deps.now(),
    )
    press(client, matching.removeprefix("http://desk.test"))
    sweep_once()
    (suggestions,) = [
        m for m in mails_to(mailbox, STAFF_A, receipt) if "専門家の候補" in m["Subject"]
    ]
    return receipt, suggestions


def test_staff_get_ranked_suggestions_with_reasons_and_one_link_each(
    client: Any, mailbox: Any, roster: dict[str, str]
) -> None:
    receipt, suggestions = to_matching(client, mailbox)
    assert case(receipt)["status"] == "matching"
    text = text_of(suggestions)
    assert (
        "案件の分野「働き方・コミュニケーション」" in text or "働き方・コミュニケーション" in text
    )
    ask = links(suggestions)
    assert 1 <= len(ask) <= 5
    assert all(label.endswith("に依頼する") for label in ask)


def test_ask_then_decline_then_ask_another_who_accepts(
    client: Any, mailbox: Any, roster: dict[str, str]
) -> None:
    receipt, suggestions = to_matching(client, mailbox)
    ask = links(suggestions)
    (first_label, first_link), (second_label, second_link) = list(ask.items())[:2]
    first_name = first_label.removesuffix("に依頼する")
    second_name = second_label.removesuffix("に依頼する")

    page = client.http.get(first_link).body.decode()
    assert f"「{first_name}に依頼する」の確認" in page
    press(client, first_link)
    sweep_once()
    first_id = case(receipt)["asked_experts"][0]
    first_address = roster[first_id]
    (request,) = mails_to(mailbox, first_address, receipt)
    request_text = text_of(request)
    # The problem, not the person: no name, address, phone or organisation yet.
    for private in ("相談者A", "requester-a@example.com", "0590000000", "サンプル商事"):
        assert private not in request_text
    assert "社内の紙の申請書を減らしたいです" in request_text
    answer = links(request)
    assert set(answer) == {"相談を引き受ける", "今回は辞退する"}
    preview = client.http.get(answer["今回は辞退する"]).body.decode()
    assert "requester-a@example.com" not in preview and "社内の紙の申請書" in preview

    press(client, answer["今回は辞退する"])
    assert case(receipt)["declined_experts"] == [first_id]
    assert case(receipt)["status"] == "matching"
    sweep_once()
    (declined,) = [m for m in mails_to(mailbox, STAFF_A, receipt) if "【辞退】" in m["Subject"]]
    next_links = links(declined)
    assert f"{first_name}に依頼する" not in next_links  # not suggested again
    # The declined expert's accept link no longer applies.
    assert client.http.post(answer["相談を引き受ける"], headers=FORM, body="").status_code == 409

    press(client, second_link)
    sweep_once()
    second_id = case(receipt)["asked_experts"][-1]
    second_address = roster[second_id]
    (request2,) = mails_to(mailbox, second_address, receipt)
    press(client, links(request2)["相談を引き受ける"])
    after = case(receipt)
    assert after["status"] == "in_progress"
    assert after["expert_id"] == second_id
    sweep_once()
    (intro_requester,) = mails_to(mailbox, "requester-a@example.com", receipt)[1:]
    assert second_name in text_of(intro_requester) and second_address in text_of(intro_requester)
    intro_expert = [
        m for m in mails_to(mailbox, second_address, receipt) if "相談者のご紹介" in m["Subject"]
    ]
    assert len(intro_expert) == 1
    assert "requester-a@example.com" in text_of(intro_expert[0]) and "相談者A" in text_of(
        intro_expert[0]
    )
    accepted = [m for m in mails_to(mailbox, STAFF_A, receipt) if "【引受】" in m["Subject"]]
    assert len(accepted) == 1
    timeline = [i["action"] for i in deps.case_store().case_items(receipt) if i["kind"] == "event"]
    assert timeline == [
        "start_hearing",
        "start_matching",
        "ask_expert",
        "expert_declined",
        "ask_expert",
        "expert_accepted",
    ]


def test_an_expert_link_works_only_for_that_expert(
    client: Any, mailbox: Any, roster: dict[str, str]
) -> None:
    from chalicelib.config import get_settings
    from chalicelib.domain.lifecycle import Action
    from chalicelib.services.actions import link_for

    receipt, suggestions = to_matching(client, mailbox)
    press(client, next(iter(links(suggestions).values())))
    asked = case(receipt)["asked_experts"][0]
    other = next(e for e in roster if e != asked)
    settings = get_settings()
    # A staff address cannot answer for the expert, nor can another expert.
    for recipient, expert_id in ((STAFF_A, asked), (roster[other], asked), (roster[asked], other)):
        forged = link_for(
            settings,
            action=Action.EXPERT_ACCEPTED,
            receipt_number=receipt,
            recipient=recipient,
            now=deps.now(),
            expert_id=expert_id,
        )
        response = client.http.post(forged.removeprefix("http://desk.test"), headers=FORM, body="")
        assert response.status_code in (404, 409), (recipient, expert_id)
    assert case(receipt)["status"] == "matching"
