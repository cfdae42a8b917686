"""Replies drive the case: SES → S3 → SNS → handler, with verdicts, sender and token checks."""

from __future__ import annotations

import json
import uuid
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import boto3
import pytest

from chalicelib import runtime
from chalicelib.intake.service import submit_consultation
from chalicelib.mailin.handler import inbound_mail
from chalicelib.outbox.handler import sweep_once
from chalicelib.runtime import get_settings
from tests.conftest import valid_payload

STAFF_A = "staff-a@dx-desk.example.jp"
PASS = {"spf": "PASS", "dkim": "PASS", "dmarc": "PASS", "spam": "PASS", "virus": "PASS"}


def submit(**overrides: Any) -> str:
    result = submit_consultation(
        valid_payload(**overrides),
        store=runtime.case_store(),
        channel="api",
        desk=runtime.desk(),
    )
    return result.receipt_number


def staff_mail(mailbox: Any, receipt: str, staff: str = STAFF_A) -> EmailMessage:
    return next(m for m in mailbox() if m["To"] == staff and receipt in m["Subject"])


def reply(
    original: EmailMessage,
    body: str,
    *,
    sender: str = STAFF_A,
    to: str | None = None,
    **headers: str,
) -> bytes:
    """A reply as a mail client writes it: new text on top, the original quoted below."""
    msg = EmailMessage()
    msg["From"] = f"事務局スタッフA <{sender}>"
    msg["To"] = to or str(original["Reply-To"])
    msg["Subject"] = "Re: " + str(original["Subject"])
    msg["Message-ID"] = make_msgid(domain="dx-desk.example.jp")
    msg["In-Reply-To"] = str(original["Message-ID"])
    msg["References"] = f"{original['References']} {original['Message-ID']}"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    original_text = original.get_body(("plain",))
    assert original_text is not None
    quoted = "\n".join("> " + line for line in original_text.get_content().splitlines())
    msg.set_content(
        f"{body}\n\n2026年11月26日(木) 10:00 DX相談窓口 <desk@dx-desk.example.jp>:\n{quoted}\n"
    )
    return msg.as_bytes()


def deliver(
    raw: bytes,
    *,
    verdicts: dict[str, str] = PASS,
    recipients: list[str] | None = None,
    message_id: str | None = None,
) -> dict[str, int]:
    """Do what SES does: store the raw message in S3 and notify the topic; then run the handler."""
    settings = get_settings()
    message_id = message_id or uuid.uuid4().hex
    key = f"inbound/{message_id}"
    boto3.client("s3").put_object(Bucket=settings.inbound_bucket, Key=key, Body=raw)
    notice = {
        "notificationType": "Received",
        "mail": {"messageId": message_id},
        "receipt": {
            "recipients": recipients or [],
            **{f"{name}Verdict": {"status": status} for name, status in verdicts.items()},
            "action": {"type": "S3", "bucketName": settings.inbound_bucket, "objectKey": key},
        },
    }
    event = {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": json.dumps(notice)}}]}
    return inbound_mail(event, None)


def case(receipt: str) -> dict[str, Any]:
    found = runtime.case_store().get_case(receipt)
    assert found is not None
    return found


def events(receipt: str) -> list[dict[str, Any]]:
    return [i for i in runtime.case_store().case_items(receipt) if i["kind"] == "event"]


@pytest.fixture
def replied_case(aws: dict[str, Any], mailbox: Any) -> tuple[str, EmailMessage]:
    receipt = submit()
    sweep_once()
    original = staff_mail(mailbox, receipt)
    assert str(original["Reply-To"]).startswith("case-local1-" + receipt.lower())
    return receipt, original


def answers(mailbox: Any, receipt: str) -> list[EmailMessage]:
    return [
        m
        for m in mailbox()
        if receipt in m["Subject"]
        and ("返信を反映" in m["Subject"] or "処理できません" in m["Subject"])
    ]


def test_a_reply_with_commands_moves_the_case_and_answers_the_sender(
    replied_case: tuple[str, EmailMessage], mailbox: Any
) -> None:
    receipt, original = replied_case
    raw = reply(
        original, "ヒアリング開始\n分野：データ利活用\n\n先方と電話で話しました。来週訪問します。"
    )
    assert deliver(raw, recipients=[str(original["Reply-To"])]) == {"applied": 1}
    after = case(receipt)
    assert after["status"] == "hearing"
    assert after["category"] == "data"
    (event,) = events(receipt)
    assert event["channel"] == "mail" and event["actor"] == STAFF_A
    assert event["action"] == "start_hearing"
    assert event["note"] == "先方と電話で話しました。来週訪問します。"
    assert "DX相談窓口" not in event["note"]  # the quoted original was stripped
    sweep_once()
    (answer,) = answers(mailbox, receipt)
    assert answer["To"] == STAFF_A
    text = answer.get_body(("plain",))
    assert text is not None and "状態：ヒアリング" in text.get_content()
    assert answer["Reply-To"] == original["Reply-To"]


def test_the_same_ses_message_twice_changes_the_case_once(
    replied_case: tuple[str, EmailMessage], mailbox: Any
) -> None:
    receipt, original = replied_case
    raw = reply(original, "担当")
    assert deliver(raw, message_id="ses-1") == {"applied": 1}
    assert deliver(raw, message_id="ses-1") == {"duplicate": 1}
    assert case(receipt)["version"] == 2
    assert case(receipt)["owner"] == STAFF_A
    sweep_once()
    assert len(answers(mailbox, receipt)) == 1


@pytest.mark.parametrize(
    ("name", "verdicts"),
    [
        ("spam", {**PASS, "spam": "FAIL"}),
        ("virus", {**PASS, "virus": "FAIL"}),
        ("unauthenticated", {**PASS, "dmarc": "FAIL", "dkim": "FAIL"}),
    ],
)
def test_failing_verdicts_are_quarantined(
    replied_case: tuple[str, EmailMessage], mailbox: Any, name: str, verdicts: dict[str, str]
) -> None:
    receipt, original = replied_case
    assert deliver(reply(original, "取下げ"), verdicts=verdicts) == {"quarantined": 1}
    assert case(receipt)["status"] == "received" and case(receipt)["version"] == 1
    sweep_once()
    assert answers(mailbox, receipt) == []


def test_a_spoofed_staff_reply_is_quarantined(
    replied_case: tuple[str, EmailMessage], mailbox: Any
) -> None:
    receipt, original = replied_case
    assert deliver(reply(original, "取下げ", sender="outsider@example.com")) == {"quarantined": 1}
    assert case(receipt)["version"] == 1
    sweep_once()
    assert answers(mailbox, receipt) == []


def test_a_guessed_reply_address_is_quarantined(replied_case: tuple[str, EmailMessage]) -> None:
    receipt, original = replied_case
    forged = str(original["Reply-To"]).replace("@", "x@")
    assert deliver(
        reply(
            original,
            "取下げ",
            to=f"case-local1-{receipt.lower()}-aaaaaaaaaaaaaaaa@reply.dx-desk.example.jp",
        )
    ) == {"quarantined": 1}
    assert deliver(reply(original, "取下げ", to=forged)) == {"quarantined": 1}
    assert case(receipt)["version"] == 1


def test_malformed_mime_is_quarantined_not_a_crash(replied_case: tuple[str, EmailMessage]) -> None:
    receipt, _ = replied_case
    raw = b'Content-Type: multipart/mixed; boundary="x"\r\n\r\n--x\r\nContent-Type: text/plain; charset=unknown-8bit\r\n\r\n\xff\xfe\x00garbage'
    outcome = deliver(raw)
    assert set(outcome) <= {"quarantined"}
    assert case(receipt)["version"] == 1


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto_Submitted": "auto-replied", "Subject": "自動応答: 不在のお知らせ"},
        {"Precedence": "bulk"},
        {"List_Id": "<desk-list.example.jp>"},
    ],
)
def test_auto_replies_and_list_mail_are_dropped_without_an_answer(
    replied_case: tuple[str, EmailMessage], mailbox: Any, headers: dict[str, str]
) -> None:
    receipt, original = replied_case
    raw = reply(
        original,
        "ただいま不在にしております。",
        **{k: v for k, v in headers.items() if k != "Subject"},
    )
    assert deliver(raw) == {"dropped": 1}
    assert case(receipt)["version"] == 1
    sweep_once()
    assert answers(mailbox, receipt) == []


def test_a_bad_command_changes_nothing_and_answers_with_the_line(
    replied_case: tuple[str, EmailMessage], mailbox: Any
) -> None:
    receipt, original = replied_case
    assert deliver(reply(original, "分野：占い\n\nよろしくお願いします。")) == {"refused": 1}
    after = case(receipt)
    assert (
        after["status"] == "received" and "category" in after and after["category"] == "workstyle"
    )
    sweep_once()
    (answer,) = answers(mailbox, receipt)
    text = answer.get_body(("plain",))
    assert text is not None and "1行目" in text.get_content()


def test_an_illegal_step_by_mail_is_refused(
    replied_case: tuple[str, EmailMessage], mailbox: Any
) -> None:
    receipt, original = replied_case
    assert deliver(reply(original, "完了")) == {"refused": 1}
    assert case(receipt)["status"] == "received"


def test_answers_to_replies_are_capped_per_case_and_day(
    replied_case: tuple[str, EmailMessage], mailbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    receipt, original = replied_case
    monkeypatch.setenv("MAIL_REPLY_CAP_PER_DAY", "2")
    for i in range(3):
        assert deliver(reply(original, f"メモ：{i}回目の記録")) == {"applied": 1}
    sweep_once()
    assert len(answers(mailbox, receipt)) == 2
    assert len(events(receipt)) == 3  # every reply still recorded


def test_matching_started_by_reply_sends_the_suggestions(
    replied_case: tuple[str, EmailMessage], mailbox: Any, aws: dict[str, Any]
) -> None:
    from infra.local.demo_roster import seed

    seed(boto3.client("dynamodb"), aws["env"]["TABLE_NAME"])
    receipt, original = replied_case
    assert deliver(reply(original, "ヒアリング開始")) == {"applied": 1}
    assert deliver(reply(original, "調整開始\n\n候補を見せてください。")) == {"applied": 1}
    assert case(receipt)["status"] == "matching"
    sweep_once()
    (suggestions,) = [m for m in mailbox() if m["To"] == STAFF_A and "専門家の候補" in m["Subject"]]
    body = suggestions.get_body(("plain",))
    assert body is not None and "に依頼する" in body.get_content()


def test_a_reply_about_an_erased_case_is_quarantined(
    replied_case: tuple[str, EmailMessage], mailbox: Any
) -> None:
    """After a personal-data erasure, a reply must not add notes about the requester again."""
    from chalicelib.admin.access import SYSTEM
    from chalicelib.core import privacy_admin as privacy

    receipt, original = replied_case
    privacy.erase_requester(
        runtime.privacy_store(),
        SYSTEM,
        receipt_number=receipt,
        email=None,
        now=runtime.now(),
        settings=get_settings(),
    )
    erased = case(receipt)
    assert deliver(reply(original, "ヒアリング開始\n相談者Aさんに電話済み")) == {"quarantined": 1}
    assert case(receipt) == erased
    sweep_once()
    assert answers(mailbox, receipt) == []
