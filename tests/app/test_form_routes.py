"""The form's pages without a browser: 入力 → 確認 → 完了 through plain posts, bots, tokens, headers."""

from __future__ import annotations

import html
import json
import re
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from chalicelib import runtime
from chalicelib.intake import formtoken
from chalicelib.outbox.handler import sweep_once
from chalicelib.runtime import get_settings
from tests.conftest import REQUIRED_FIELDS, valid_payload

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def token(age_seconds: int = 10) -> str:
    key_id, keys = get_settings().form_keys()
    return formtoken.sign(keys, key_id, int(time.time()) - age_seconds)


def form_body(payload: dict[str, Any], **control: str) -> str:
    pairs: list[tuple[str, str]] = []
    for name, value in payload.items():
        if isinstance(value, list):
            pairs.extend((name, v) for v in value)
        elif isinstance(value, bool):
            if value:
                pairs.append((name, "true"))
        elif value is not None:
            pairs.append((name, str(value)))
    control.setdefault("form_token", token())
    control.setdefault("website", "")
    pairs.extend(control.items())
    return urlencode(pairs)


def post(client: Any, path: str, body: str, headers: dict[str, str] | None = None) -> Any:
    return client.http.post(path, headers={**FORM, **(headers or {})}, body=body)


def hidden_fields(page: str) -> list[tuple[str, str]]:
    return [
        (name, html.unescape(value))
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)
    ]


def stored(aws: dict[str, Any]) -> list[dict[str, Any]]:
    items = aws["dynamodb"].scan(TableName=aws["env"]["TABLE_NAME"])["Items"]
    return [item for item in items if item["kind"]["S"] == "case"]


def receipt_on(page: str) -> str:
    match = re.search(r'id="receipt-number">([^<]+)<', page)
    assert match, page
    return match.group(1)


def test_form_address_forwards_to_the_input_page(client: Any) -> None:
    response = client.http.get("/form?lang=en")
    assert response.status_code == 302
    assert response.headers["Location"] == "form/input?lang=en"


def test_input_page_carries_a_token_and_strict_headers(client: Any) -> None:
    response = client.http.get("/form/input")
    assert response.status_code == 200
    page = response.body.decode()
    assert '<html lang="ja">' in page
    assert re.search(r'name="form_token" value="v1\.local1\.\d+\.', page)
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'self' http://127.0.0.1:8000" in csp
    assert "http://localhost:8001" in csp
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    # same-origin: with no-referrer Chromium posts the form with `Origin: null`.
    assert response.headers["Referrer-Policy"] == "same-origin"
    # Every control has a visible label.
    for name in ("organization", "name", "name_kana", "email", "phone", "municipality", "message"):
        assert f'<label for="field-{name}">' in page
    assert page.count('class="req"') >= 8


def test_english_page(client: Any) -> None:
    page = client.http.get("/form/input?lang=en").body.decode()
    assert '<html lang="en">' in page
    assert "Email address" in page and "Review your request" in page


def test_plain_post_flow_stores_the_same_case_as_the_json_api(
    client: Any, aws: dict[str, Any], mailbox: Any
) -> None:
    confirm = post(client, "/form/confirm", form_body(valid_payload(), lang="ja"))
    assert confirm.status_code == 200
    page = confirm.body.decode()
    assert "（確認）" in page and "働き方・コミュニケーション" in page
    done = post(client, "/form/submit", urlencode([*hidden_fields(page), ("action", "send")]))
    assert done.status_code == 200
    receipt = receipt_on(done.body.decode())
    from_form = runtime.case_store().get_case(receipt)
    assert from_form is not None and from_form["channel"] == "form"

    api = client.http.post(
        "/consultations",
        headers={"Content-Type": "application/json"},
        body=json.dumps(valid_payload(email="other@example.com")),
    )
    from_api = runtime.case_store().get_case(api.json_body["receipt_number"])
    assert from_api is not None
    volatile = {
        "receipt_number",
        "created_at",
        "updated_at",
        "consented_at",
        "channel",
        "email",
        "expires_at",
        "pk",
        "gsi1sk",
        "gsi2sk",
    }
    assert {k: v for k, v in from_form.items() if k not in volatile} == {
        k: v for k, v in from_api.items() if k not in volatile
    }
    assert sweep_once()["sent"] == 6


def test_errors_are_summarised_and_tied_to_each_field(client: Any, aws: dict[str, Any]) -> None:
    response = post(client, "/form/confirm", form_body({"email": "not-an-address"}))
    assert response.status_code == 422
    page = response.body.decode()
    summary = page[
        page.index('id="error-summary"') : page.index("</ul>", page.index('id="error-summary"'))
    ]
    for field in REQUIRED_FIELDS:
        assert f'href="#field-{field}"' in summary
        assert f'id="error-{field}"' in page
    assert re.search(
        r'id="field-email"[^>]*aria-describedby="hint-email error-email" aria-invalid="true"', page
    )
    assert 'value="not-an-address"' in page  # what was typed stays
    assert stored(aws) == []


def test_back_from_confirm_keeps_every_value(client: Any) -> None:
    payload = valid_payload(message="一行目\n二行目 <b>太字</b>")
    confirm = post(client, "/form/confirm", form_body(payload)).body.decode()
    back = post(client, "/form/submit", urlencode([*hidden_fields(confirm), ("action", "back")]))
    page = back.body.decode()
    assert back.status_code == 200
    assert 'value="株式会社サンプル商事"' in page
    assert 'value="requester-a@example.com"' in page
    assert re.search(r'value="24201" selected', page)
    assert re.search(
        r'id="field-support_types" name="support_types" type="checkbox" value="training" checked',
        page,
    )
    assert re.search(r'value="consultation" checked', page)
    assert re.search(r'value="workstyle" checked', page)
    assert "一行目\n二行目 &lt;b&gt;太字&lt;/b&gt;</textarea>" in page
    assert re.search(r'id="field-privacy_consent"[^>]*checked', page)


def test_script_in_the_message_is_escaped_on_the_confirm_page(client: Any) -> None:
    page = post(
        client, "/form/confirm", form_body(valid_payload(message="<script>alert(1)</script>"))
    ).body.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def statuses(aws: dict[str, Any]) -> list[str]:
    return sorted(item["status"]["S"] for item in stored(aws))


def receipts_shown(page: str) -> list[str]:
    return re.findall(r'id="receipt-number">(DX-[^<]+)<', page)


def test_filled_honeypot_is_kept_as_suspected_spam_and_mails_nobody(
    client: Any, aws: dict[str, Any], mailbox: Any
) -> None:
    # Through 確認: the filled field travels on to 送信する, where the case is kept apart.
    confirm = post(client, "/form/confirm", form_body(valid_payload(), website="http://x.example"))
    assert confirm.status_code == 200
    assert ("website", "http://x.example") in hidden_fields(confirm.body.decode())
    assert stored(aws) == []
    response = post(
        client,
        "/form/submit",
        urlencode([*hidden_fields(confirm.body.decode()), ("action", "send")]),
    )
    page = response.body.decode()
    assert response.status_code == 200
    receipt = receipt_on(page)
    # Honest: stored (staff can find the number), and the mail follows only after a check.
    assert "担当者が内容を確認してから" in page and "確認のメールもお送りしました" not in page
    case = runtime.case_store().get_case(receipt)
    assert case is not None and case["status"] == "suspected_spam"
    assert sweep_once()["sent"] == 0
    assert mailbox() == []


def test_an_empty_form_pressed_at_once_gets_the_error_summary_not_a_receipt(
    client: Any, aws: dict[str, Any]
) -> None:
    for path in ("/form/confirm", "/form/submit"):
        response = post(
            client, path, urlencode([("form_token", token(age_seconds=0)), ("action", "send")])
        )
        page = response.body.decode()
        assert response.status_code == 422
        assert 'id="error-summary"' in page
        assert receipts_shown(page) == []
    assert stored(aws) == []


def test_a_form_sent_too_fast_is_asked_to_confirm_again_and_loses_nothing(
    client: Any, aws: dict[str, Any], mailbox: Any
) -> None:
    # Autofill and an immediate press: the confirm page, never a receipt for nothing.
    confirm = post(client, "/form/confirm", form_body(valid_payload(), form_token=token(0)))
    assert confirm.status_code == 200
    fields = hidden_fields(confirm.body.decode())
    response = post(client, "/form/submit", urlencode([*fields, ("action", "send")]))
    page = response.body.decode()
    assert response.status_code == 400
    assert "まだ送信されていません" in page
    assert receipts_shown(page) == []
    assert ("email", "requester-a@example.com") in hidden_fields(page)
    assert stored(aws) == []
    # One more press a few seconds later stores it, with the usual mail.
    again = [
        (n, v) if n != "form_token" else (n, token(age_seconds=5)) for n, v in hidden_fields(page)
    ]
    done = post(client, "/form/submit", urlencode([*again, ("action", "send")]))
    receipt = receipt_on(done.body.decode())
    assert statuses(aws) == ["received"]
    assert runtime.case_store().get_case(receipt) is not None
    assert sweep_once()["sent"] >= 2


def test_one_form_token_stores_one_case_and_a_second_consultation_confirms_again(
    client: Any, aws: dict[str, Any]
) -> None:
    once = token()
    first = post(client, "/form/submit", form_body(valid_payload(), form_token=once, action="send"))
    receipt = receipt_on(first.body.decode())
    # The same press again (a double click): the same stored receipt, nothing new.
    repeat = post(
        client, "/form/submit", form_body(valid_payload(), form_token=once, action="send")
    )
    assert receipt_on(repeat.body.decode()) == receipt
    # Back on the same page, a different consultation: asked once more, never a silent duplicate.
    other = valid_payload(message="別の相談です。会議のオンライン化について。")
    second = post(client, "/form/submit", form_body(other, form_token=once, action="send"))
    page = second.body.decode()
    assert second.status_code == 409
    assert "すでにご相談が送信されています" in page and receipts_shown(page) == []
    assert len(stored(aws)) == 1
    fresh = [(n, v) for n, v in hidden_fields(page) if n != "form_token"]
    done = post(
        client, "/form/submit", urlencode([*fresh, ("form_token", token()), ("action", "send")])
    )
    assert receipt_on(done.body.decode()) != receipt
    assert len(stored(aws)) == 2


def test_a_repeated_honeypot_field_is_refused_and_stores_nothing(
    client: Any, aws: dict[str, Any]
) -> None:
    body = form_body(valid_payload(), action="send").replace(
        "website=", "website=http%3A%2F%2Fspam&website="
    )
    response = post(client, "/form/submit", body)
    assert response.status_code == 400
    assert receipts_shown(response.body.decode()) == []
    assert stored(aws) == []


@pytest.mark.parametrize("bad", ["", "v1.local1.123.abc.forged", "garbage", "v1.otherkey.1.a.b"])
def test_missing_or_forged_token_shows_the_form_again_with_values_kept(
    client: Any, aws: dict[str, Any], bad: str
) -> None:
    response = post(client, "/form/confirm", form_body(valid_payload(), form_token=bad))
    assert response.status_code == 400
    page = response.body.decode()
    assert "もう一度ボタンを押してください" in page
    assert 'value="requester-a@example.com"' in page
    assert re.search(r'name="form_token" value="v1\.local1\.\d+\.', page)  # a fresh one
    assert stored(aws) == []


def test_expired_token_at_submit_asks_again_and_loses_nothing(
    client: Any, aws: dict[str, Any]
) -> None:
    confirm = post(client, "/form/confirm", form_body(valid_payload())).body.decode()
    fields = [
        (n, v) if n != "form_token" else (n, token(age_seconds=200_000))
        for n, v in hidden_fields(confirm)
    ]
    response = post(client, "/form/submit", urlencode([*fields, ("action", "send")]))
    assert response.status_code == 400
    page = response.body.decode()
    assert "時間が経過したため" in page
    assert ("email", "requester-a@example.com") in hidden_fields(page)
    assert stored(aws) == []
    again = post(
        client,
        "/form/submit",
        urlencode(
            [
                *[(n, v) if n != "form_token" else (n, token()) for n, v in hidden_fields(page)],
                ("action", "send"),
            ]
        ),
    )
    assert receipt_on(again.body.decode())
    assert len(stored(aws)) == 1


def test_foreign_origin_post_is_refused(client: Any, aws: dict[str, Any]) -> None:
    response = post(
        client,
        "/form/submit",
        form_body(valid_payload(), action="send"),
        {"Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert stored(aws) == []


def test_rate_limited_submit_keeps_the_confirm_page(
    client: Any, aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RATE_LIMIT_PER_HOUR", "1")
    post(client, "/form/submit", form_body(valid_payload(), action="send"))
    response = post(
        client, "/form/submit", form_body(valid_payload(email="b@example.com"), action="send")
    )
    assert response.status_code == 429
    page = response.body.decode()
    assert "しばらく時間をおいてから" in page
    assert ("email", "b@example.com") in hidden_fields(page)
    assert len(stored(aws)) == 1


def test_json_submission_from_the_form_follows_the_same_rules(
    client: Any, aws: dict[str, Any], mailbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = iter(range(100))

    def send(payload: dict[str, Any] | None = None, **extra: Any) -> Any:
        # A different address each time: the same content would be a replay.
        email = f"requester-{next(sent)}@example.com"
        return client.http.post(
            "/consultations",
            headers={"Content-Type": "application/json"},
            body=json.dumps(
                {**(valid_payload(email=email) if payload is None else payload), **extra}
            ),
        )

    # A honeypot in any shape is filled: kept as suspected spam, the answer says so.
    for shape in ("filled", ["http://spam.example"], {"u": 1}, 1):
        held = send(form_token=token(), website=shape)
        assert held.status_code == 201
        assert held.json_body["status"] == "suspected_spam"
        assert "確認してから" in held.json_body["message"]
    assert statuses(aws) == ["suspected_spam"] * 4
    # Too fast: invalid content hears what to fix first; valid content is asked to confirm.
    invalid = send({}, form_token=token(age_seconds=0))
    assert invalid.status_code == 422 and "receipt_number" not in invalid.json_body
    fast = send(form_token=token(age_seconds=0), website="")
    assert fast.status_code == 409
    assert fast.json_body["error"] == "confirm_again" and "receipt_number" not in fast.json_body
    assert fast.json_body["message"] and fast.json_body["message_en"]
    assert len(stored(aws)) == 4
    # The fresh token it hands back stores the case on the next press.
    later = runtime.now() + timedelta(seconds=5)
    monkeypatch.setattr(runtime, "now", lambda: later)
    person = send(form_token=fast.json_body["form_token"], website="")
    assert person.status_code == 201 and person.json_body["status"] == "received"
    case = runtime.case_store().get_case(person.json_body["receipt_number"])
    assert case is not None and case["channel"] == "form"
    # The token that stored it cannot store a different one.
    reused = send(form_token=fast.json_body["form_token"], website="")
    assert reused.status_code == 409 and reused.json_body["reason"] == "token_used"
    assert len(stored(aws)) == 5
    sweep_once()
    assert {m["To"] for m in mailbox()} >= {case["email"]}
    assert not any("requester-0@" in str(m["To"]) for m in mailbox())


def test_no_receipt_is_ever_shown_for_a_submission_that_is_not_stored(
    client: Any, aws: dict[str, Any]
) -> None:
    """Every way of pressing, at every speed: a receipt on a page is a stored case."""
    posts = [
        ("/form/confirm", form_body(valid_payload(), form_token=token(0))),
        ("/form/submit", form_body(valid_payload(), form_token=token(0), action="send")),
        ("/form/submit", form_body({}, form_token=token(0), action="send")),
        ("/form/submit", form_body({}, form_token=token(0), website="x", action="send")),
        ("/form/submit", form_body(valid_payload(), form_token="garbage", action="send")),
        ("/form/submit", form_body(valid_payload(), website="x", action="send")),
        ("/form/submit", form_body(valid_payload(email="b@example.com"), action="send")),
        ("/form/submit", form_body(valid_payload(email="b@example.com"), action="send")),
    ]
    shown: list[str] = []
    for path, body in posts:
        shown += receipts_shown(post(client, path, body).body.decode())
    for payload in ({}, valid_payload(email="c@example.com")):
        for extra in ({"form_token": token(0)}, {"form_token": token(), "website": [1]}):
            answer = client.http.post(
                "/consultations",
                headers={"Content-Type": "application/json"},
                body=json.dumps({**payload, **extra}),
            ).json_body
            if "receipt_number" in answer:
                shown.append(answer["receipt_number"])
    assert shown, "some of these posts must store a case"
    for receipt in shown:
        assert runtime.case_store().get_case(receipt) is not None, receipt


def test_inline_check_validates_without_storing(client: Any, aws: dict[str, Any]) -> None:
    ok = client.http.post(
        "/form/check",
        headers={"Content-Type": "application/json"},
        body=json.dumps({**valid_payload(), "form_token": token()}),
    )
    assert ok.status_code == 200 and ok.json_body == {"ok": True}
    bad = client.http.post(
        "/form/check", headers={"Content-Type": "application/json"}, body=json.dumps({"email": "x"})
    )
    assert bad.status_code == 422
    assert "email" in {err["field"] for err in bad.json_body["errors"]}
    assert stored(aws) == []


@pytest.mark.parametrize(
    ("name", "kind"),
    [("form.css", "text/css"), ("form.js", "text/javascript"), ("embed.js", "text/javascript")],
)
def test_static_assets_are_served_with_their_types(client: Any, name: str, kind: str) -> None:
    response = client.http.get(f"/form/static/{name}")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith(kind)
    assert response.body


def test_unknown_static_name_is_404(client: Any) -> None:
    assert client.http.get("/form/static/..%2Fapp.py").status_code == 404
    assert client.http.get("/form/static/secret.txt").status_code == 404


def title_of(page: str) -> str:
    match = re.search(r"<title>(.*?)</title>", page, re.S)
    assert match, page[:200]
    return match.group(1)


def test_every_form_page_has_a_short_plain_title(client: Any, aws: dict[str, Any]) -> None:
    confirm = post(client, "/form/confirm", form_body(valid_payload()))
    pages = {
        "input": client.http.get("/form/input"),
        "input-en": client.http.get("/form/input?lang=en"),
        "errors": post(client, "/form/confirm", form_body({})),
        "confirm": confirm,
        "too-fast": post(client, "/form/submit", form_body(valid_payload(), form_token=token(0))),
        "done": post(
            client,
            "/form/submit",
            urlencode([*hidden_fields(confirm.body.decode()), ("action", "send")]),
        ),
        "held": post(
            client,
            "/form/submit",
            form_body(valid_payload(email="b@example.com"), website="x", action="send"),
        ),
    }
    for name, response in pages.items():
        title = title_of(response.body.decode())
        assert "<" not in title and ">" not in title and "{" not in title, (name, title)
        assert "\n" not in title and 0 < len(title) <= 60, (name, title)
        assert html.unescape(title) == title, (name, title)
    assert title_of(confirm.body.decode()).startswith("確認｜")
    assert title_of(pages["done"].body.decode()).startswith("完了｜")


def test_no_two_controls_share_an_accessible_name(client: Any) -> None:
    page = client.http.get("/form/input").body.decode()
    labels = [
        re.sub(r"<[^>]+>|必須|任意|\s", "", text)
        for text in re.findall(r"<(?:label|legend)[^>]*>(.*?)</(?:label|legend)>", page, re.S)
    ]
    repeated = {label for label in labels if labels.count(label) > 1}
    assert not repeated, repeated
    assert "所在地の市町" in labels


def test_the_phone_number_is_shown_the_way_people_read_it(
    client: Any, aws: dict[str, Any], mailbox: Any
) -> None:
    confirm = post(client, "/form/confirm", form_body(valid_payload(phone="０５９５１２３４５６")))
    assert "0595-12-3456" in confirm.body.decode()
    done = post(
        client,
        "/form/submit",
        urlencode([*hidden_fields(confirm.body.decode()), ("action", "send")]),
    )
    receipt = receipt_on(done.body.decode())
    case = runtime.case_store().get_case(receipt)
    assert case is not None and case["phone"] == "0595123456"  # stored as the contract says
    sweep_once()
    staff = next(m for m in mailbox() if m["To"] == "staff-a@dx-desk.example.jp")
    text = staff.get_body(("plain",))
    assert text is not None and "0595-12-3456" in text.get_content()


def visible(fragment: str) -> str:
    """The text of an HTML fragment as a person reads it (no tags, no hidden prefix)."""
    fragment = re.sub(r'<span class="visually-hidden">.*?</span>', "", fragment)
    return html.unescape(re.sub(r"<[^>]+>", "", fragment)).strip()


@pytest.mark.parametrize("lang", ["ja", "en", "easy"])
def test_the_summary_says_word_for_word_what_each_field_says(client: Any, lang: str) -> None:
    page = post(client, "/form/confirm", form_body({}, lang=lang)).body.decode()
    summary = dict(re.findall(r'<a href="#field-([a-z_]+)">(.*?)</a>', page, re.S))
    beside = dict(re.findall(r'<p class="field-error" id="error-([a-z_]+)"[^>]*>(.*?)</p>', page))
    assert set(summary) == set(REQUIRED_FIELDS) <= set(beside)
    for field, text in summary.items():
        assert visible(text) == visible(beside[field]), field


def test_the_plain_japanese_form_reads_with_furigana_and_stays_japanese(client: Any) -> None:
    page = client.http.get("/form/input?lang=easy").body.decode()
    assert '<html lang="ja">' in page and 'data-lang="easy"' in page
    assert "<ruby>相談<rp>（</rp><rt>そうだん</rt>" in page
    assert "<ruby>" not in title_of(page)
    # Reached from every language, and reaching them all.
    for lang in ("ja", "en"):
        other = client.http.get(f"/form/input?lang={lang}").body.decode()
        assert 'href="input?lang=easy"' in other and "やさしい日本語" in other
    assert 'href="input?lang=ja"' in page and 'href="input?lang=en"' in page


def test_plain_japanese_errors_inline_and_on_409_come_in_plain_japanese(client: Any) -> None:
    check = client.http.post(
        "/form/check?lang=easy",
        headers={"Content-Type": "application/json"},
        body=json.dumps({"name": ""}),
    ).json_body
    name = next(err for err in check["errors"] if err["field"] == "name")
    assert "<ruby>名前<rp>（</rp><rt>なまえ</rt>" in name["message_html"]
    fast = client.http.post(
        "/consultations?lang=easy",
        headers={"Content-Type": "application/json"},
        body=json.dumps({**valid_payload(), "form_token": token(0)}),
    ).json_body
    assert fast["message"].startswith("まだ 送（おく）って いません")


def test_the_automatic_reply_comes_in_the_requesters_language_first(
    client: Any, mailbox: Any
) -> None:
    for lang, email in (("easy", "easy@example.com"), ("en", "en@example.com")):
        response = post(
            client,
            "/form/submit",
            form_body(valid_payload(email=email), lang=lang, action="send"),
        )
        assert receipt_on(response.body.decode())
    sweep_once()
    easy = next(m for m in mailbox() if m["To"] == "easy@example.com")
    text = easy.get_body(("plain",))
    assert text is not None
    body = text.get_content()
    assert "（日本語）" in body  # the standard Japanese follows, for family or helpers
    assert body.index("相談（そうだん）を 受（う）け付（つ）けました") < body.index(
        "ご相談をお寄せいただき"
    )
    html_part = easy.get_body(("html",))
    assert html_part is not None and "<ruby>" in html_part.get_content()
    english = next(m for m in mailbox() if m["To"] == "en@example.com")
    content = english.get_body(("plain",))
    assert content is not None
    assert content.get_content().index("Dear") < content.get_content().index("様")
    assert "Request received" in english["Subject"]
    # Staff are told which language to answer in.
    staff = [m for m in mailbox() if m["To"] == "staff-a@dx-desk.example.jp"]
    said = [m.get_body(("plain",)).get_content() for m in staff]  # type: ignore[union-attr]
    assert sum("言語　　：やさしい日本語" in text for text in said) == 1
    assert sum("言語　　：英語" in text for text in said) == 1


def test_the_plain_japanese_confirm_page_shows_every_choice_with_its_reading(
    client: Any,
) -> None:
    page = post(client, "/form/confirm", form_body(valid_payload(), lang="easy")).body.decode()
    assert "&lt;ruby&gt;" not in page
    assert "<ruby>研修<rp>（</rp><rt>けんしゅう</rt>" in page


def test_a_form_at_every_limit_in_four_byte_characters_is_stored_not_refused_as_too_large(
    client: Any, aws: dict[str, Any]
) -> None:
    """Percent-encoding turns one character into up to 12 bytes: the longest
    message the desk accepts (4,000 emoji and rare kanji, lines ended CRLF as
    a browser sends them) must fit the body limit with room to spare."""
    from chalicelib.core.consultation import MAX_MESSAGE, MAX_NAME, MAX_ORGANIZATION

    line = "𠮷😀" * 49 + "\r\n"  # 100 characters counted, CRLF as one
    message = (line * (MAX_MESSAGE // 99 + 1))[:MAX_MESSAGE]
    payload = valid_payload(
        name="𠮷" * MAX_NAME, organization="😀" * MAX_ORGANIZATION, message=message
    )
    body = form_body(payload)
    assert len(body) > 32_768  # what the old limit refused with a bare 413 page
    confirm = post(client, "/form/confirm", body)
    assert confirm.status_code == 200, confirm.body.decode()[:500]
    done = post(
        client,
        "/form/submit",
        urlencode([*hidden_fields(confirm.body.decode()), ("action", "send")]),
    )
    assert done.status_code == 200
    case = runtime.case_store().get_case(receipt_on(done.body.decode()))
    assert case is not None and case["name"] == "𠮷" * MAX_NAME


def test_a_message_far_over_its_limit_gets_the_field_message_with_the_text_kept(
    client: Any, aws: dict[str, Any]
) -> None:
    message = "紙の申請書を減らしたい。" * 750  # 9,000 characters, about 81 KB encoded
    response = post(client, "/form/confirm", form_body(valid_payload(message=message)))
    assert response.status_code == 422
    page = response.body.decode()
    assert 'id="error-message"' in page
    assert message in html.unescape(page)  # nothing typed is lost
    assert stored(aws) == []
