"""Admin tokens for route tests: stored as digests through the same code the CLI uses."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib import runtime
from chalicelib.admin.access import bootstrap_token

ADMIN_TOKEN = "dxd_0a0a0a0a_" + "A" * 43
STAFF_TOKEN = "dxd_0b0b0b0b_" + "B" * 43


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


@pytest.fixture
def admin_headers(aws: dict[str, Any]) -> dict[str, str]:
    bootstrap_token(
        runtime.admin_store(),
        ADMIN_TOKEN,
        role="admin",
        actor="管理者A",
        now=runtime.now(),
        audit_expires=2**31,
        # Tests move the clock years ahead (retention); the tokens outlive them.
        valid_days=7300,
    )
    return bearer(ADMIN_TOKEN)


@pytest.fixture
def staff_headers(aws: dict[str, Any]) -> dict[str, str]:
    bootstrap_token(
        runtime.admin_store(),
        STAFF_TOKEN,
        role="staff",
        actor="職員A",
        now=runtime.now(),
        audit_expires=2**31,
        # Tests move the clock years ahead (retention); the tokens outlive them.
        valid_days=7300,
    )
    return bearer(STAFF_TOKEN)


# The console's fixtures: the roster of two experts, and an admin or staff session.


@pytest.fixture
def roster(client: Any, admin_headers: dict[str, str]) -> None:
    from tests.app.console_helpers import add_experts, add_members

    add_members(client, admin_headers)
    add_experts(client, admin_headers)


@pytest.fixture
def admin(client: Any, roster: None, mailbox: Any) -> tuple[str, str]:
    from tests.app.console_helpers import ADMIN_ADDRESS, sign_in

    return sign_in(client, mailbox, ADMIN_ADDRESS)


@pytest.fixture
def staff(client: Any, roster: None, mailbox: Any) -> tuple[str, str]:
    from tests.app.console_helpers import STAFF_ADDRESS, sign_in

    return sign_in(client, mailbox, STAFF_ADDRESS)
