"""`make dev`'s admin token: LOCAL_ADMIN_TOKEN or a printed one works on the live stack; others do not."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT
from tests.livestack import http, running_stack

GIVEN = "local-admin-token-for-tests-only"


def me(api: str, token: str) -> tuple[int, bytes]:
    status, _, body = http("GET", f"{api}/admin/me", headers={"Authorization": f"Bearer {token}"})
    return status, body


def test_the_token_from_local_admin_token_is_an_admin_and_others_are_refused(
    tmp_path: Path,
) -> None:
    with running_stack(tmp_path / "dev.log", {"LOCAL_ADMIN_TOKEN": GIVEN}) as stack:
        status, body = me(stack.api, GIVEN)
        assert status == 200, body
        assert json.loads(body)["role"] == "admin"
        assert json.loads(body)["actor"] == "ローカル管理者"
        assert me(stack.api, GIVEN + "x")[0] == 403
        assert me(stack.api, "dxd_0a0a0a0a_" + "A" * 43)[0] == 403
        assert http("GET", f"{stack.api}/admin/me")[0] == 401

        # The CLI on a staff PC: the same token through the environment, over HTTP.
        out = tmp_path / "roster.csv"
        cli = subprocess.run(
            [sys.executable, "-m", "infra.cli.main", "roster", "export", str(out)],
            cwd=ROOT,
            env={"DX_DESK_URL": stack.api, "DX_DESK_TOKEN": GIVEN, "PYTHONUTF8": "1"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert cli.returncode == 0, cli.stderr
        assert out.read_bytes().startswith(b"\xef\xbb\xbf")
        from infra.local.demo_roster import ROSTER

        assert out.read_bytes().decode("utf-8-sig").count("\r\n") == len(ROSTER) + 1

        assert stack.stop(signal.SIGINT) == 0
        log = stack.log()
    assert "$LOCAL_ADMIN_TOKEN" in log
    assert GIVEN not in log  # a token the developer chose is not repeated in the log


def test_without_local_admin_token_a_new_token_is_printed_and_works(tmp_path: Path) -> None:
    with running_stack(tmp_path / "dev.log", {"LOCAL_ADMIN_TOKEN": ""}) as stack:
        found = re.search(r"admin token:\s+(dxd_[0-9a-f]{8}_[A-Za-z0-9_-]+)", stack.log())
        assert found, stack.log()
        token = found.group(1)
        assert f'curl -H "Authorization: Bearer {token}" {stack.api}/admin/me' in stack.log()
        status, body = me(stack.api, token)
        assert status == 200 and json.loads(body)["role"] == "admin", body
        assert me(stack.api, token[:-1] + ("A" if token[-1] != "A" else "B"))[0] == 403
        assert stack.stop(signal.SIGINT) == 0
