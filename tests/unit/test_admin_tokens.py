"""Admin tokens and roles (pure): what the authorizer accepts and what each role may call."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from chalicelib.core import access as admin


def test_issued_tokens_are_random_and_carry_their_public_id() -> None:
    first, second = admin.issue_token(), admin.issue_token()
    assert first.token != second.token
    assert re.fullmatch(r"dxd_[0-9a-f]{8}_[A-Za-z0-9_-]{43}", first.token)
    assert admin.token_id_of(first.token) == first.token_id
    assert first.digest == admin.token_digest(first.token)
    assert first.token not in first.digest


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Bearer dxd_0a0a0a0a_" + "A" * 43, "dxd_0a0a0a0a_" + "A" * 43),
        ("bearer   local-dev-token-123456  ", "local-dev-token-123456"),
        ("Basic dXNlcjpwYXNz", None),
        ("Bearer short", None),
        ("Bearer has space inside-the-token", None),
        ("Bearer " + "x" * 300, None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_header_parsing(header: str | None, expected: str | None) -> None:
    assert admin.token_from_header(header) == expected


def test_hand_chosen_tokens_get_an_id_from_their_digest() -> None:
    token = "local-dev-token-123456"
    assert admin.token_id_of(token) == admin.token_digest(token)[:8]


def test_usable_tokens() -> None:
    now = 1_800_000_000
    good = {"role": "staff", "valid_until": now + 1}
    assert admin.token_usable(good, now)
    assert not admin.token_usable({**good, "valid_until": now}, now)
    assert not admin.token_usable({**good, "revoked_at": "2026-11-26T00:00:00.000000Z"}, now)
    assert not admin.token_usable({**good, "role": "root"}, now)
    assert not admin.token_usable(None, now)
    assert admin.token_usable({"role": "admin"}, now)  # a bootstrap token without expiry


def test_roles() -> None:
    assert admin.allows("admin", "admin") and admin.allows("admin", "staff")
    assert admin.allows("staff", "staff") and not admin.allows("staff", "admin")
    assert not admin.allows("other", "staff")
    assert admin.routes_for("other") == ()
    staff_paths = {path for _, path in admin.routes_for("staff")}
    assert "/admin/tokens" not in staff_paths
    assert all(method in ("GET", "POST") for method, _ in admin.routes_for("staff"))


def test_audit_entry_names_fields_not_values() -> None:
    actor = admin.Actor(role="admin", actor="管理者A", token_id="0a0a0a0a", request_id="r-1")
    entry = admin.audit_entry(
        actor,
        action="expert.update",
        target_type="expert",
        target_id="advisor-1",
        at=datetime(2026, 11, 26, 9, 0, tzinfo=UTC),
        fields=["display_name", "capacity"],
    )
    assert entry["fields"] == ["capacity", "display_name"]
    assert entry["actor"] == "管理者A" and entry["request_id"] == "r-1"
    assert entry["at"] == "2026-11-26T09:00:00.000000Z"
    assert "detail" not in entry
