"""Mail rendering: real MIME, escaped HTML, no user text in headers, threading by case."""

from __future__ import annotations

import email
from email.message import EmailMessage
from email.policy import default as default_policy

import pytest

from chalicelib.core.case import intake_messages, new_case
from chalicelib.core.consultation import parse_consultation
from chalicelib.core.settings import DEFAULT_DEPLOYMENT_FILE, settings_from
from chalicelib.outbox.render import HeaderInjection, RenderedMail, build_mime, render
from chalicelib.outbox.service import with_links
from chalicelib.runtime import load_deployment
from tests.conftest import NOW, local_stage_env, valid_payload

DEPLOYMENT = load_deployment(DEFAULT_DEPLOYMENT_FILE)
SETTINGS = settings_from(local_stage_env())


def make_case(**overrides: object) -> dict[str, object]:
    consultation = parse_consultation(valid_payload(**overrides), DEPLOYMENT)
    return new_case(
        consultation,
        receipt_number="DX-261126-048217",
        now=NOW,
        channel="api",
        privacy_notice_version="2026-04",
        raw_name=None,
        retention_days=30,
    )


def built(template: str, case: dict[str, object]) -> EmailMessage:
    message = next(
        m
        for m in intake_messages(case, staff_notify_to=SETTINGS.staff_notify_to)
        if m.template == template
    )
    stored = {"context": message.context, "receipt_number": case["receipt_number"]}
    context = with_links(stored, SETTINGS, NOW)
    rendered = render(template, context, settings=SETTINGS, deployment=DEPLOYMENT)
    msg = build_mime(
        rendered,
        to=["requester-a@example.com"],
        receipt_number=str(case["receipt_number"]),
        message_id="m1",
        created_at=str(case["created_at"]),
        settings=SETTINGS,
    )
    parsed = email.message_from_bytes(msg.as_bytes(), policy=default_policy)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_auto_reply_is_multipart_with_plain_text_and_html() -> None:
    msg = built("intake_ack", make_case())
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None and html is not None
    plain = text.get_content()
    assert "DX-261126-048217" in plain
    assert "相談者A 様" in plain
    assert "働き方・コミュニケーション" in plain  # labels, not ids
    assert "3営業日以内" in plain
    assert "Receipt number: DX-261126-048217" in plain


def test_script_in_the_message_is_escaped_in_html_and_never_a_link() -> None:
    attack = '<script>alert(1)</script><a href="https://evil.example">click</a>'
    msg = built("intake_staff", make_case(message=attack))
    html_part = msg.get_body(("html",))
    assert html_part is not None
    html = html_part.get_content()
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert 'href="https://evil.example"' not in html
    plain_part = msg.get_body(("plain",))
    assert plain_part is not None
    assert attack in plain_part.get_content()  # plain text shows exactly what was sent


def test_headers_carry_no_user_text_and_thread_by_case() -> None:
    case = make_case(name="相談者A", organization="株式会社サンプル商事")
    for template in ("intake_ack", "intake_staff"):
        msg = built(template, case)
        header_text = "\n".join(f"{k}: {v}" for k, v in msg.items())
        for user_value in ("相談者A", "サンプル商事", "紙の申請書"):
            assert user_value not in header_text
        assert msg["References"] == "<DX-261126-048217@dx-desk.example.jp>"
        assert msg["In-Reply-To"] == "<DX-261126-048217@dx-desk.example.jp>"
        assert msg["Message-ID"] == "<DX-261126-048217.m1@dx-desk.example.jp>"
        assert msg["Auto-Submitted"] == "auto-generated"
        assert "DX-261126-048217" in msg["Subject"]


def test_header_injection_is_refused_when_building() -> None:
    rendered = RenderedMail(subject="件名\r\nBcc: victim@example.com", text="t", html="h")
    with pytest.raises(HeaderInjection):
        build_mime(
            rendered,
            to=["a@example.com"],
            receipt_number="DX-261126-048217",
            message_id="m1",
            created_at="2026-11-26T10:30:00.000000Z",
            settings=SETTINGS,
        )


def test_each_desk_address_gets_its_own_notification_with_its_own_links() -> None:
    messages = intake_messages(make_case(), staff_notify_to=SETTINGS.staff_notify_to)
    staff = [m for m in messages if m.template == "intake_staff"]
    assert [m.to for m in staff] == [
        ("staff-a@dx-desk.example.jp",),
        ("staff-b@dx-desk.example.jp",),
    ]
    assert [m.context["recipient"] for m in staff] == [
        "staff-a@dx-desk.example.jp",
        "staff-b@dx-desk.example.jp",
    ]
    plain = built("intake_staff", make_case()).get_body(("plain",))
    assert plain is not None
    text = plain.get_content()
    for label in ("担当する", "ヒアリングを開始する", "他機関を紹介する", "スパムとして破棄する"):
        assert label in text
    assert text.count("http://desk.test/actions/a1.local1.") == 4
    ack = [m for m in messages if m.template == "intake_ack"]
    assert ack[0].to == ("requester-a@example.com",)


@pytest.mark.parametrize("template", ["intake_ack", "intro_requester"])
def test_the_requesters_mail_comes_in_their_language_first(template: str) -> None:
    case = {
        "receipt_number": "DX-261126-482175",
        "name": "相談者A",
        "email": "requester-a@example.com",
        "created_at": "2026-11-26T01:00:00.000000Z",
        "requester_type": "business",
        "municipality": "24201",
        "support_types": ["training"],
        "category": "data",
        "preferred_format": "online",
        "message": "相談です。",
    }
    expert = {"display_name": "アドバイザーA", "organization": "", "email": "a@example.jp"}
    context = {"case": case, "expert": expert}
    texts = {}
    for language in ("ja", "en", "easy"):
        mail = render(
            template,
            {**context, "case": {**case, "language": language}},
            settings=SETTINGS,
            deployment=DEPLOYMENT,
        )
        texts[language] = mail
    assert texts["ja"].text.lstrip().startswith("相談者A 様")
    assert texts["en"].text.lstrip().startswith("Dear 相談者A")
    assert texts["easy"].text.lstrip().startswith("相談者A さん")
    assert "相談（そうだん）" in texts["easy"].text and "<ruby>" in texts["easy"].html
    for mail in texts.values():
        assert "|" not in mail.text and "|" not in mail.html  # no reading marker left raw
