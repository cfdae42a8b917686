"""Every error the API answers uses the documented body, also those Chalice gives by itself.

Chalice refuses a Content-Type a route does not accept (415) and a method a
path does not have (405) before any view runs, and turns an unhandled
exception into a 500; each once answered `{"Code": ..., "Message": ...}`.
The walk takes every public and admin route from the app's route table.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

import app as application
from chalicelib import runtime
from chalicelib.openapi import ErrorBody
from tests.conftest import valid_payload

WRONG_TYPE = "application/x-not-accepted"
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")
PLACEHOLDER = {"receipt_number": "DX-261126-482175", "month": "2026-11", "token": "x.y.z"}


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PLACEHOLDER.get(m.group(1), "placeholder"), path)


def documented_problems(response: Any, status: int, error: str) -> list[str]:
    if response.status_code != status:
        return [f"status {response.status_code}, not {status}: {response.body[:120]!r}"]
    problems = []
    if not str(response.headers.get("Content-Type", "")).startswith("application/json"):
        problems.append(f"Content-Type {response.headers.get('Content-Type')!r}")
    try:
        body = ErrorBody.model_validate(json.loads(response.body))
    except ValueError as exc:
        return [*problems, f"not the documented body: {response.body[:120]!r} ({exc})"]
    if body.error != error:
        problems.append(f"error {body.error!r}, not {error!r}")
    if not body.message or not body.message_en:
        problems.append("no message in Japanese and English")
    return problems


def routes() -> list[tuple[str, str, list[str]]]:
    return sorted(
        (path, method, list(entry.content_types))
        for path, methods in application.app.routes.items()
        for method, entry in methods.items()
        # chalice.test cannot send OPTIONS to a route (PLATFORM.md); the live stack
        # test covers the preflight.
        if method != "OPTIONS"
    )


def test_a_content_type_a_route_does_not_accept_is_a_documented_415(
    client: Any, admin_headers: dict[str, str]
) -> None:
    problems = []
    walked = 0
    for path, method, accepted in routes():
        assert WRONG_TYPE not in accepted
        auth = (
            {"Authorization": admin_headers["Authorization"]} if path.startswith("/admin") else {}
        )
        headers = {**auth, "Content-Type": WRONG_TYPE}
        body = "x" if method in ("POST", "PUT") else ""
        response = client.http.request(method, concrete(path), headers=headers, body=body)
        walked += 1
        if method == "HEAD":  # answered without a body
            if response.status_code != 415:
                problems.append(f"{method} {path}: status {response.status_code}")
            continue
        found = documented_problems(response, 415, "unsupported_media_type")
        if not found and accepted[0] not in json.loads(response.body)["message_en"]:
            found.append("does not say which type to send")
        problems += [f"{method} {path}: {p}" for p in found]
    assert walked >= 40, walked  # public and admin routes alike
    assert problems == [], "\n".join(problems)


def test_a_method_a_path_does_not_have_is_a_documented_405(client: Any) -> None:
    problems = []
    for path, methods in sorted(application.app.routes.items()):
        for method in METHODS:
            if method in methods:
                continue
            response = client.http.request(
                method, concrete(path), headers={"Content-Type": "application/json"}, body=""
            )
            found = documented_problems(response, 405, "method_not_allowed")
            if not found and set(response.headers["Allow"].split(", ")) != set(methods):
                found.append(f"Allow {response.headers['Allow']!r}")
            problems += [f"{method} {path}: {p}" for p in found]
    assert problems == [], "\n".join(problems)


def test_the_intake_refuses_text_plain_with_the_documented_body(
    client: Any, aws: dict[str, Any]
) -> None:
    response = client.http.post(
        "/consultations",
        headers={"Content-Type": "text/plain", "Origin": "http://localhost:8001"},
        body=json.dumps(valid_payload()),
    )
    assert documented_problems(response, 415, "unsupported_media_type") == []
    body = response.json_body
    assert body["message"].startswith("送信の形式（Content-Type）")
    assert "text/plain" not in response.body.decode()  # what was sent is not repeated


def test_an_unexpected_failure_is_a_documented_500_that_reveals_nothing(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> Any:
        raise RuntimeError("secret detail of the failure")

    monkeypatch.setattr(runtime, "intake_desk", broken)
    response = client.http.post(
        "/consultations",
        headers={"Content-Type": "application/json"},
        body=json.dumps(valid_payload()),
    )
    assert documented_problems(response, 500, "internal_error") == []
    assert "secret" not in response.body.decode()
    assert response.json_body["message"].startswith("申し訳ありません")
