"""POST /consultations through Chalice's test client: the public contract and its bad inputs."""

from __future__ import annotations

import json
import logging
from collections import Counter
from typing import Any

import pytest

from chalicelib import runtime
from chalicelib.outbox.handler import sweep_once
from tests.conftest import REQUIRED_FIELDS, valid_payload

JSON = {"Content-Type": "application/json"}


def post(
    client: Any, payload: Any, headers: dict[str, str] | None = None, raw: bytes | None = None
) -> Any:
    body = raw if raw is not None else json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return client.http.post("/consultations", headers={**JSON, **(headers or {})}, body=body)


def stored_cases(aws: dict[str, Any]) -> list[dict[str, Any]]:
    # Scanning is fine in a test that proves nothing was written; request paths never scan.
    items = aws["dynamodb"].scan(TableName=aws["env"]["TABLE_NAME"])["Items"]
    return [item for item in items if item["kind"]["S"] == "case"]


def count_aws_calls() -> Counter[str]:
    calls: Counter[str] = Counter()

    def record(model: Any, **_: Any) -> None:
        calls[f"{model.service_model.service_name}.{model.name}"] += 1

    runtime.dynamodb().meta.events.register("before-call.*.*", record)
    runtime.sesv2().meta.events.register("before-call.*.*", record)
    return calls


def test_health_answers_200_json(client: Any) -> None:
    response = client.http.get("/health")
    assert response.status_code == 200
    assert response.json_body == {"status": "ok", "service": "dx-desk"}


def test_valid_submission_returns_201_with_a_receipt_number(
    client: Any, aws: dict[str, Any]
) -> None:
    response = post(client, valid_payload())
    assert response.status_code == 201
    body = response.json_body
    assert body["status"] == "received"
    assert body["status_label"] == "受付"
    assert body["receipt_number"].startswith("DX-")
    assert body["receipt_number"] in body["message"]
    case = runtime.case_store().get_case(body["receipt_number"])
    assert case is not None
    assert case["privacy_notice_version"] == "2026-04"
    assert case["channel"] == "api"


def test_intake_makes_exactly_one_dynamodb_call_and_no_ses_call(client: Any, mailbox: Any) -> None:
    post(client, valid_payload(email="warmup@example.com"))  # clients built, caches warm
    calls = count_aws_calls()
    response = post(client, valid_payload())
    assert response.status_code == 201
    assert calls == Counter({"dynamodb.TransactWriteItems": 1})
    assert mailbox() == []


def test_both_mails_name_the_receipt_number_after_the_outbox_drains(
    client: Any, mailbox: Any
) -> None:
    receipt = post(client, valid_payload()).json_body["receipt_number"]
    assert sweep_once()["sent"] == 3
    mails = mailbox()
    assert len(mails) == 3
    for mail in mails:
        assert receipt in mail["Subject"]
        plain = mail.get_body(("plain",))
        assert plain is not None and receipt in plain.get_content()


def test_full_width_and_half_width_input_is_accepted_and_normalised(client: Any) -> None:
    response = post(
        client,
        valid_payload(
            name="ｿｳﾀﾞﾝｼｬA",
            email="ｒｅｑｕｅｓｔｅｒ－ａ＠ｅｘａｍｐｌｅ．ｃｏｍ",
            phone="０５９ー０００ー００００",
        ),
    )
    assert response.status_code == 201
    case = runtime.case_store().get_case(response.json_body["receipt_number"])
    assert case is not None
    assert case["name"] == "ソウダンシャA"
    assert case["name_raw"] == "ｿｳﾀﾞﾝｼｬA"
    assert case["email"] == "requester-a@example.com"
    assert case["phone"] == "0590000000"


def test_invalid_input_lists_every_field_in_japanese_and_english(
    client: Any, aws: dict[str, Any]
) -> None:
    response = post(client, {"requester_type": "business", "email": "x", "privacy_consent": False})
    assert response.status_code == 422
    body = response.json_body
    assert body["error"] == "validation_error"
    fields = {err["field"]: err for err in body["errors"]}
    # requester_type was sent (business), so organization becomes required instead.
    assert set(fields) >= {"organization", *REQUIRED_FIELDS} - {"requester_type"}
    assert fields["email"]["message"].startswith("「メールアドレス」")
    assert fields["email"]["message_en"]
    assert stored_cases(aws) == []


def test_unknown_or_oversize_field_is_named_and_never_echoed(
    client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    marker = "VALUE-THAT-MUST-NOT-LEAK-" + "x" * 20
    caplog.set_level(logging.DEBUG)
    response = post(client, valid_payload(nickname=marker, organization=marker * 10))
    assert response.status_code == 422
    assert {err["field"] for err in response.json_body["errors"]} == {"nickname", "organization"}
    assert marker not in response.body.decode("utf-8")
    assert marker not in caplog.text


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"{", 400),
        (b"[]", 400),
        (b'"just a string"', 400),
        (b"\xff\xfe not utf-8", 400),
        (b"[" * 15000 + b"]" * 15000, 400),  # deeply nested, under the size limit
        (b'{"a": ' * 4000 + b"1" + b"}" * 4000, 400),
        (json.dumps(valid_payload(message="あ" * 400_000)).encode(), 413),
        (b" " * 140_000, 413),
    ],
)
def test_malformed_nested_or_huge_bodies_are_refused_and_store_nothing(
    client: Any, aws: dict[str, Any], raw: bytes, status: int
) -> None:
    response = post(client, None, raw=raw)
    assert response.status_code == status
    assert "error" in response.json_body
    assert stored_cases(aws) == []


def test_wrong_content_type_is_refused_and_stores_nothing(client: Any, aws: dict[str, Any]) -> None:
    response = client.http.post(
        "/consultations",
        headers={"Content-Type": "text/plain"},
        body=json.dumps(valid_payload()),
    )
    assert response.status_code == 415
    assert stored_cases(aws) == []


def test_foreign_origin_is_refused_and_stores_nothing(client: Any, aws: dict[str, Any]) -> None:
    response = post(client, valid_payload(), headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response.headers
    assert stored_cases(aws) == []


def test_invisible_characters_in_one_line_fields_are_refused_by_field(
    client: Any, aws: dict[str, Any]
) -> None:
    response = post(
        client,
        valid_payload(
            name="相談\u2028者A", organization="株式会社\u200bサンプル", email="\ufeffa@example.com"
        ),
    )
    assert response.status_code == 422
    found = {e["field"]: e for e in response.json_body["errors"]}
    assert {name: e["code"] for name, e in found.items()} == {
        "name": "invisible_character",
        "organization": "invisible_character",
        "email": "invisible_character",
    }
    assert found["name"]["message"].startswith("「お名前」に目に見えない")
    assert stored_cases(aws) == []
    # A message keeps an emoji's joiners; its separators become line ends.
    kept = post(client, valid_payload(message="家族で参加します👨\u200d👩\u200d👧\u2028よろしく"))
    assert kept.status_code == 201
    (case,) = stored_cases(aws)
    assert case["message"]["S"] == "家族で参加します👨\u200d👩\u200d👧\nよろしく"


def test_privacy_consent_must_be_the_boolean_true(client: Any, aws: dict[str, Any]) -> None:
    for value in ("yes", 1, "true"):
        response = post(client, valid_payload(privacy_consent=value))
        assert response.status_code == 422, value
        (error,) = response.json_body["errors"]
        assert (error["field"], error["code"]) == ("privacy_consent", "invalid_type")
    assert stored_cases(aws) == []
    assert post(client, valid_payload(privacy_consent=True)).status_code == 201


def test_a_forged_host_does_not_make_a_foreign_origin_the_apis_own(
    client: Any, aws: dict[str, Any]
) -> None:
    """The API's own origin is PUBLIC_BASE_URL's (http://desk.test here), never the Host header."""
    forged = {"Origin": "https://evil.example", "Host": "evil.example"}
    response = post(client, valid_payload(), headers=forged)
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response.headers
    for origin in ("evil://desk.test", "https://desk.test", "http://desk.test:8080"):
        other = post(client, valid_payload(), headers={"Origin": origin, "Host": "desk.test"})
        assert other.status_code == 403, origin
    assert stored_cases(aws) == []
    own = post(client, valid_payload(), headers={"Origin": "http://desk.test"})
    assert own.status_code == 201
    assert own.headers["Access-Control-Allow-Origin"] == "http://desk.test"


def test_configured_origin_gets_cors_headers_on_success_and_on_errors(client: Any) -> None:
    ok = post(client, valid_payload(), headers={"Origin": "http://localhost:8001"})
    assert ok.status_code == 201
    assert ok.headers["Access-Control-Allow-Origin"] == "http://localhost:8001"
    bad = post(client, {}, headers={"Origin": "http://localhost:8001"})
    assert bad.status_code == 422
    assert bad.headers["Access-Control-Allow-Origin"] == "http://localhost:8001"


def test_the_same_payload_twice_yields_the_same_receipt_and_one_case(
    client: Any, aws: dict[str, Any], mailbox: Any
) -> None:
    first = post(client, valid_payload())
    second = post(client, valid_payload())
    assert first.status_code == second.status_code == 201
    assert second.json_body["receipt_number"] == first.json_body["receipt_number"]
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert len(stored_cases(aws)) == 1
    sweep_once()
    assert len(mailbox()) == 3  # one acknowledgement, one notification per desk address


def test_the_same_idempotency_key_yields_the_same_receipt(client: Any, aws: dict[str, Any]) -> None:
    key = {"Idempotency-Key": "form-7f3c2a"}
    first = post(client, valid_payload(), headers=key)
    second = post(client, valid_payload(), headers=key)
    assert second.json_body["receipt_number"] == first.json_body["receipt_number"]
    other = post(client, valid_payload(message="別の相談です。"), headers=key)
    assert other.status_code == 422
    assert other.json_body["error"] == "idempotency_key_reused"
    assert len(stored_cases(aws)) == 1


def test_too_many_submissions_from_one_client_get_a_friendly_429(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RATE_LIMIT_PER_HOUR", "2")
    statuses = [
        post(client, valid_payload(email=f"r{i}@example.com")).status_code for i in range(3)
    ]
    assert statuses[:2] == [201, 201]
    # The test client's stage env wins over monkeypatch only for stage-defined names.
    if statuses[2] == 429:
        response = post(client, valid_payload(email="r9@example.com"))
        assert response.status_code == 429
        assert "しばらく時間をおいて" in response.json_body["message"]
        assert response.headers["Retry-After"] == "60"
    else:
        pytest.fail(f"third submission was {statuses[2]}, expected 429")


def test_script_in_the_message_reaches_staff_escaped(client: Any, mailbox: Any) -> None:
    post(client, valid_payload(message="<script>alert('x')</script> 相談です"))
    sweep_once()
    staff = next(m for m in mailbox() if m["To"].startswith("staff-a"))
    html = staff.get_body(("html",))
    assert html is not None
    assert "<script>" not in html.get_content()
    assert "&lt;script&gt;" in html.get_content()


def test_dynamodb_throttling_answers_503_and_writes_nothing(
    client: Any, aws: dict[str, Any]
) -> None:
    from botocore.stub import Stubber

    # The staff list and taxonomy are read once per process (one Query, then
    # cached): read them before the stub takes over every DynamoDB call.
    runtime.directory()
    with Stubber(runtime.dynamodb()) as stub:
        for _ in range(4):
            stub.add_client_error(
                "transact_write_items",
                service_error_code="ProvisionedThroughputExceededException",
                http_status_code=400,
            )
        response = post(client, valid_payload())
    assert response.status_code == 503
    assert "失われていません" in response.json_body["message"]
    assert stored_cases(aws) == []


@pytest.mark.parametrize(
    "payload",
    [
        {"requester_type": None},
        {"support_types": "training"},
        {"support_types": [1, 2]},
        {"privacy_consent": "yes please"},
        {"name": {"nested": "object"}},
        {"message": ["list"]},
        {"email": 12345},
        {"phone": True},
        {"category": ""},
    ],
)
def test_wrong_types_never_yield_a_5xx(client: Any, payload: dict[str, Any]) -> None:
    response = post(client, valid_payload(**payload))
    assert response.status_code == 422
    assert response.json_body["errors"]
