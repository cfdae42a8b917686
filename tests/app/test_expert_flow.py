"""Matching by mail: staff ask a suggested expert, the expert accepts or declines from the mail."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import boto3
import pytest

from chalicelib import runtime
from chalicelib.outbox.handler import sweep_once
from infra.local.demo_roster import ROSTER, seed
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
    found = runtime.case_store().get_case(receipt)
    assert found is not None
    return found


def to_matching(client: Any, mailbox: Any) -> tuple[str, Any]:
    receipt = submit(client)
    sweep_once()
    staff_links = links(mails_to(mailbox, STAFF_A, receipt)[0])
    press(client, staff_links["ヒアリングを開始する"])
    # The next step's link comes from the same kind of signed link.
    from chalicelib.core.actiontoken import link_for
    from chalicelib.core.lifecycle import Action
    from chalicelib.runtime import get_settings

    matching = link_for(
        get_settings(),
        action=Action.START_MATCHING,
        receipt_number=receipt,
        recipient=STAFF_A,
        now=runtime.now(),
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
    for private in (
        "相談者A",
        "requester-a@example.com",
        "0590000000",
        "059-000-0000",
        "サンプル商事",
    ):
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
    timeline = [
        i["action"] for i in runtime.case_store().case_items(receipt) if i["kind"] == "event"
    ]
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
    from chalicelib.core.actiontoken import link_for
    from chalicelib.core.lifecycle import Action
    from chalicelib.runtime import get_settings

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
            now=runtime.now(),
            expert_id=expert_id,
        )
        response = client.http.post(forged.removeprefix("http://desk.test"), headers=FORM, body="")
        assert response.status_code in (404, 409), (recipient, expert_id)
    assert case(receipt)["status"] == "matching"


def test_the_whole_case_by_mail_links_and_replies_to_closed(
    client: Any, mailbox: Any, roster: dict[str, str]
) -> None:
    """受付 → ヒアリング → 調整中 → 対応中 → three sessions → 完了, using only what the mails offer."""
    from tests.integration.test_inbound import deliver, reply

    receipt = submit(client)
    sweep_once()
    notification = mails_to(mailbox, STAFF_A, receipt)[0]
    press(client, links(notification)["担当する"])
    # A reply to the notification starts the hearing and records the category.
    assert deliver(
        reply(notification, "ヒアリング開始\n分野：データ利活用\n\n電話で詳しく伺いました。")
    ) == {"applied": 1}
    assert deliver(reply(notification, "調整開始")) == {"applied": 1}
    sweep_once()
    (suggestions,) = [
        m for m in mails_to(mailbox, STAFF_A, receipt) if "専門家の候補" in m["Subject"]
    ]
    press(client, next(iter(links(suggestions).values())))
    sweep_once()
    expert_id = case(receipt)["asked_experts"][0]
    expert_address = roster[expert_id]
    (request,) = mails_to(mailbox, expert_address, receipt)
    press(client, links(request)["相談を引き受ける"])
    assert case(receipt)["status"] == "in_progress"
    sweep_once()
    (intro,) = [
        m for m in mails_to(mailbox, expert_address, receipt) if "相談者のご紹介" in m["Subject"]
    ]
    session_links = links(intro)
    assert list(session_links) == [
        "1回目の相談を記録する",
        "2回目の相談を記録する",
        "3回目の相談を記録する",
    ]

    page = client.http.get(session_links["1回目の相談を記録する"]).body.decode()
    assert 'name="session_date"' in page and 'name="report"' in page
    bad = client.http.post(
        session_links["1回目の相談を記録する"],
        headers=FORM,
        body="session_date=someday&session_format=online&report=x",
    )
    assert bad.status_code == 422 and len(case(receipt).get("sessions", [])) == 0
    for n, day in enumerate(("2026-11-10", "2026-11-17", "2026-11-24"), start=1):
        body = f"session_date={day}&session_format=online&report=%E5%8A%A9%E8%A8%80%E3%81%97%E3%81%BE%E3%81%97%E3%81%9F"
        response = client.http.post(
            session_links[f"{n}回目の相談を記録する"], headers=FORM, body=body
        )
        assert response.status_code == 200, response.body.decode()
    sessions = case(receipt)["sessions"]
    assert [s["no"] for s in sessions] == [1, 2, 3] and sessions[0]["report"] == "助言しました"
    sweep_once()
    recorded = [m for m in mails_to(mailbox, STAFF_A, receipt) if "【相談記録】" in m["Subject"]]
    assert [m["Subject"].split("（")[-1] for m in recorded] == [
        "残り2回）",
        "残り1回）",
        "残り0回）",
    ]
    # Staff close the case from the last record's mail.
    roster_store = runtime.roster_store()
    assert roster_store.load_of([expert_id]) == {expert_id: 1}
    assert expert_id in roster_store.last_asked([expert_id])
    press(client, links(recorded[-1])["完了にする"])
    after = case(receipt)
    assert after["status"] == "closed"
    assert roster_store.load_of([expert_id]) == {expert_id: 0}  # free again for matching

    timeline = [i for i in runtime.case_store().case_items(receipt) if i["kind"] == "event"]
    steps = [(e.get("action"), e["channel"], e["actor"]) for e in timeline]
    assert steps == [
        ("take", "link", STAFF_A),
        ("start_hearing", "mail", STAFF_A),
        ("start_matching", "mail", STAFF_A),
        ("ask_expert", "link", STAFF_A),
        ("expert_accepted", "link", expert_address),
        ("record_session", "link", expert_address),
        ("record_session", "link", expert_address),
        ("record_session", "link", expert_address),
        ("close", "link", STAFF_A),
    ]


def test_the_session_cap_holds_under_concurrent_records(
    client: Any, mailbox: Any, roster: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from chalicelib.core.actiontoken import link_for
    from chalicelib.core.errors import LinkAlreadyUsed, SessionInputInvalid, VersionConflict
    from chalicelib.core.lifecycle import Action
    from chalicelib.links.service import act_by_link
    from chalicelib.runtime import get_settings

    monkeypatch.setenv("MAX_SESSIONS", "1")
    receipt, suggestions = to_matching(client, mailbox)
    press(client, next(iter(links(suggestions).values())))
    expert_id = case(receipt)["asked_experts"][0]
    settings = get_settings()
    accept = link_for(
        settings,
        action=Action.EXPERT_ACCEPTED,
        receipt_number=receipt,
        recipient=roster[expert_id],
        now=runtime.now(),
        expert_id=expert_id,
    )
    press(client, accept.removeprefix("http://desk.test"))
    tokens = [
        link_for(
            settings,
            action=Action.RECORD_SESSION,
            receipt_number=receipt,
            recipient=roster[expert_id],
            now=runtime.now(),
            expert_id=expert_id,
            serial=n,
        ).rsplit("/", 1)[1]
        for n in range(1, 6)
    ]
    barrier = threading.Barrier(len(tokens))
    outcomes: list[str] = []

    def record(token: str) -> None:
        barrier.wait()
        try:
            act_by_link(
                token,
                note="",
                form={
                    "session_date": "2026-11-20",
                    "session_format": "visit",
                    "report": "訪問しました",
                },
                store=runtime.case_store(),
                roster=runtime.roster_store(),
                desk=dataclasses.replace(runtime.desk(), settings=settings),
            )
            outcomes.append("recorded")
        except (VersionConflict, SessionInputInvalid, LinkAlreadyUsed) as exc:
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=record, args=(t,)) for t in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("recorded") == 1, outcomes
    assert len(case(receipt)["sessions"]) == 1
