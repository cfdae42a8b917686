"""The console's sign-in and session rules (core/console.py) and the dev stack's demo staff."""

from __future__ import annotations

import pytest

from chalicelib.core import console as rules
from chalicelib.core.staff import StaffMember
from infra.local.demo_roster import DEMO_STAFF
from infra.local.dev import print_banner


def member(**overrides: object) -> StaffMember:
    data = {"staff_id": "staff-a", "display_name": "職員A", "email": "staff-a@example.jp"}
    return StaffMember.model_validate({**data, **overrides})


def test_a_member_is_found_by_the_address_however_it_is_typed() -> None:
    members = [member()]
    assert rules.member_for(members, "ＳＴＡＦＦ-A@example.jp ") == members[0]
    assert rules.member_for(members, "staff-b@example.jp") is None
    assert rules.member_for([member(active=False)], "staff-a@example.jp") is None


def test_a_member_without_a_role_is_staff() -> None:
    assert member().role == "staff"
    assert rules.actor_of(member(role="admin"), "r1").role == "admin"
    assert rules.actor_of(member(), "r1").actor == "職員A"
    assert rules.actor_of(member(), "r1").token_id == "console:staff-a"


def test_a_session_is_idle_after_its_minutes_and_expired_after_its_hours() -> None:
    record = rules.new_session("staff-a", 1_000_000, hours=8)
    assert rules.session_state(record, 1_000_000 + 29 * 60, 30) == "active"
    assert rules.session_state(record, 1_000_000 + 30 * 60, 30) == "idle"
    assert rules.session_state(record, 1_000_000 + 8 * 3600, 10_000) == "expired"


def test_cookies_are_http_only_strict_scoped_and_secure_on_https() -> None:
    value = rules.set_cookie("dxd_console", "v", max_age=60, secure=True, root="/api")
    assert (
        value == "dxd_console=v; Path=/api/console; Max-Age=60; HttpOnly; SameSite=Strict; Secure"
    )
    assert "Secure" not in rules.set_cookie("dxd_console", "v", max_age=60, secure=False)


def test_tokens_compare_only_when_both_are_there() -> None:
    assert rules.same("abc", "abc")
    assert not rules.same("", "")
    assert not rules.same(None, "abc")
    assert not rules.same("abd", "abc")


def test_the_cookie_header_is_read_by_name() -> None:
    header = "other=1; dxd_console=abc; dxd_console_pre=def"
    assert rules.cookie_value(header, "dxd_console") == "abc"
    assert rules.cookie_value(header, "dxd_console_pre") == "def"
    assert rules.cookie_value(header, "missing") is None


def test_the_demo_staff_list_has_an_admin_and_a_staff_member_make_dev_names(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert sorted(m["role"] for m in DEMO_STAFF) == ["admin", "staff"]
    print_banner(8000, {}, None, "http://127.0.0.1:8002")
    lines = capsys.readouterr().out
    assert "http://127.0.0.1:8000/console/" in lines
    for m in DEMO_STAFF:
        assert m["email"] in lines
