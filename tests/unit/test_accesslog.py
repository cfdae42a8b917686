"""The dev server's request log (infra/local/accesslog.py) masks signed-link tokens, and only those."""

from __future__ import annotations

import io
import sys
from datetime import UTC, datetime

import pytest

from infra.local.accesslog import MASK, mask_path, mask_request_line


def real_action_token() -> str:
    from chalicelib.core import actiontoken

    return actiontoken.sign(
        {"k1": b"k" * 32},
        "k1",
        purpose="take",
        receipt_number="DX-261126-000010",
        recipient="staff-a@dx-desk.example.jp",
        expires_at=int(datetime(2026, 12, 3, tzinfo=UTC).timestamp()),
    )


def test_an_action_link_token_is_masked_however_it_looks() -> None:
    assert mask_path("/actions/abc") == f"/actions/{MASK}"
    # The requester's page and its actions; the lookup page is no secret.
    assert mask_path("/my/abc/withdraw?lang=en") == f"/my/{MASK}/withdraw?lang=en"
    assert mask_path("/my/lookup?lang=easy") == "/my/lookup?lang=easy"
    assert mask_path("/prod/actions/a1.k1.eyJ.xyz?x=1") == f"/prod/actions/{MASK}?x=1"


def test_a_console_sign_in_link_is_masked_but_the_sign_in_page_is_not() -> None:
    assert mask_path("/console/signin/abcdef") == f"/console/signin/{MASK}"
    assert mask_path("/console/signin") == "/console/signin"


@pytest.mark.parametrize(
    "target",
    [
        "/elsewhere/a1.k1.eyJhIjoidGFrZSJ9.Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5",
        "/form/input?token=short1&lang=ja",
        "/x?next=dGhpcyBpcyBhIGxvbmcgc2VjcmV0IHRva2VuIDEyMzQ1",
    ],
)
def test_token_shaped_segments_and_secret_query_values_are_masked(target: str) -> None:
    masked = mask_path(target)
    assert MASK in masked
    for secret in ("a1.k1.eyJ", "short1", "dGhpcyBp"):
        assert secret not in masked


@pytest.mark.parametrize(
    "target",
    [
        "/form/input?lang=ja",
        "/admin/cases/DX-261126-000010",
        "/admin/cases?from=2026-01-01&to=2026-12-31&limit=50",
        "/form/static/form.css",
        "/health",
        "/",
    ],
)
def test_ordinary_paths_stay_readable(target: str) -> None:
    assert mask_path(target) == target


def test_a_request_line_keeps_method_status_and_protocol() -> None:
    token = real_action_token()
    line = f'"POST /actions/{token} HTTP/1.1" 200 -'
    assert mask_request_line(line) == f'"POST /actions/{MASK} HTTP/1.1" 200 -'
    # The same token anywhere else in a path, or as a query value, is masked too.
    assert token not in mask_request_line(f'"GET /x/{token}?t={token} HTTP/1.1" 404 -')


def test_chalice_locals_handler_writes_the_masked_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import chalice.local

    from infra.local.accesslog import mask_chalice_local_access_log

    monkeypatch.setattr(
        chalice.local.ChaliceRequestHandler,
        "log_message",
        chalice.local.ChaliceRequestHandler.log_message,
    )
    mask_chalice_local_access_log()
    handler = chalice.local.ChaliceRequestHandler.__new__(chalice.local.ChaliceRequestHandler)
    handler.client_address = ("127.0.0.1", 50000)
    handler.requestline = "GET /actions/a1.k1.eyJhIjoidGFrZSJ9.c2lnbmF0dXJlMTIz HTTP/1.1"
    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)

    handler.log_request(200)

    written = stderr.getvalue()
    assert f'"GET /actions/{MASK} HTTP/1.1" 200 -' in written
    assert "eyJ" not in written
