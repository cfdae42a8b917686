"""dx-desk-admin against a real local HTTP server: the app over moto, or a stand-in for routes still to come."""

from __future__ import annotations

import ast
import io
import json
import sys
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib import runtime
from chalicelib.admin.access import bootstrap_token
from infra.cli import main as cli
from tests.app.conftest import ADMIN_TOKEN, STAFF_TOKEN
from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "roster"


def register(token: str, role: Literal["admin", "staff"], actor: str) -> None:
    bootstrap_token(
        runtime.admin_store(), token, role=role, actor=actor, now=runtime.now(), audit_expires=2**31
    )


@pytest.fixture
def api(aws: dict[str, Any]) -> Iterator[str]:
    """The whole app behind chalice's local HTTP server (authorizer included), in this process."""
    from chalice.cli.factory import CLIFactory
    from chalice.local import LocalDevServer

    from app import app

    register(ADMIN_TOKEN, "admin", "管理者A")
    register(STAFF_TOKEN, "staff", "職員A")
    config = CLIFactory(str(ROOT)).create_config_obj(chalice_stage_name="local")
    server = LocalDevServer(app, config, "127.0.0.1", 0)
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server.server_address[1]}"
    finally:
        server.server.shutdown()
        server.server.server_close()
        thread.join(timeout=5)


def run(*argv: str, url: str | None = None, token: str = ADMIN_TOKEN) -> tuple[int, str]:
    out = io.StringIO()
    env = {"DX_DESK_TOKEN": token, **({"DX_DESK_URL": url} if url else {})}
    return cli.main(list(argv), environ=env, out=out), out.getvalue()


def test_roster_import_dry_run_then_apply_then_export_round_trip(
    api: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = str(FIXTURES / "roster-29.csv")
    code, out = run("roster", "import", source, url=api)
    assert code == 0, capsys.readouterr().err
    assert "確認のみ" in out and "新規 29 件" in out
    assert "  2行目 advisor-a: 新規" in out
    assert "--apply" in out
    assert runtime.roster_store().list_all() == []

    code, out = run("roster", "import", source, "--apply", url=api)
    assert code == 0
    assert "反映しました: 新規 29 件" in out
    assert len(runtime.roster_store().list_all()) == 29

    exported = tmp_path / "roster.csv"
    code, out = run("roster", "export", str(exported), url=api)
    assert code == 0
    assert "29 件を書き出しました" in out
    assert exported.read_bytes().startswith(b"\xef\xbb\xbf")

    code, out = run("roster", "import", str(exported), url=api)
    assert code == 0
    assert "新規 0 件、更新 0 件、変更なし 29 件" in out


def test_bad_rows_print_japanese_errors_per_row_and_exit_1(
    api: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run("roster", "import", str(FIXTURES / "roster-bad.csv"), "--apply", url=api)
    assert code == 1
    assert "何も変更していません" in out
    assert (
        "  2行目 「分野 [categories]」: 登録されていない（または無効にされた）IDがあります（1番目の項目）。"
        in out
    )
    assert "  4行目 「同時対応件数 [capacity]」" in out
    assert "  5行目 「専門家ID [expert_id]」: 同じ専門家IDが2行目にもあります。" in out
    assert "  6行目 「表示名 [display_name]」: 数式と解釈される文字" in out
    assert runtime.roster_store().list_all() == []


def test_a_shift_jis_file_from_excel_is_converted(api: str, tmp_path: Path) -> None:
    sjis = tmp_path / "roster-sjis.csv"
    sjis.write_bytes((FIXTURES / "roster-29.csv").read_text(encoding="utf-8-sig").encode("cp932"))
    code, out = run("roster", "import", str(sjis), "--apply", url=api)
    assert code == 0, out
    assert "Shift_JIS" in out
    names = {e.display_name for e in runtime.roster_store().list_all()}
    assert "パートナー企業K" in names


def test_refusals_print_the_apis_japanese_message(
    api: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run("roster", "export", "-", url=api, token="dxd_0c0c0c0c_" + "C" * 43)
    assert code == 1
    assert "トークンが無効か期限切れ" in capsys.readouterr().err

    code, _ = run("roster", "export", "-", url=api, token=STAFF_TOKEN)
    assert code == 1  # staff may not export contact addresses
    assert "権限" in capsys.readouterr().err

    code, _ = run("token", "issue", "--role", "staff", "--actor", "x" * 65, url=api)
    assert code == 1
    err = capsys.readouterr().err
    assert "入力内容に誤りがあります" in err and "actor" in err  # the API's own message


def test_token_issue_prints_a_token_that_works(api: str) -> None:
    code, out = run("token", "issue", "--role", "staff", "--actor", "職員C", url=api)
    assert code == 0
    token = next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("トークン"))
    code, out = run("me", url=api, token=token)
    assert code == 0 and out.startswith("職員C（staff")


def test_bootstrap_token_writes_the_digest_with_aws_credentials(
    api: str, capsys: pytest.CaptureFixture[str]
) -> None:
    table = runtime.admin_store().table
    code, out = run("bootstrap-token", "--table", table, "--role", "admin", "--actor", "管理者B")
    assert code == 0, capsys.readouterr().err
    token = next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("トークン"))
    code, out = run("me", url=api, token=token)
    assert code == 0 and out.startswith("管理者B（admin")
    listed = json.dumps(runtime.admin_store().list_tokens(), ensure_ascii=False)
    assert token not in listed and "管理者B" in listed

    code, _ = run("bootstrap-token", "--table", "no-such-table", "--actor", "管理者B")
    assert code == 1
    assert "トークンを登録できませんでした" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("roster", "export", "x.csv")[0] == 2  # no URL
    assert "DX_DESK_URL" in capsys.readouterr().err
    assert run("roster", "export", "x.csv", url="http://desk.example.jp")[0] == 2  # clear text
    assert run("report", "2026-13", url="https://desk.example.jp")[0] == 2
    assert run("cases", "close", url="https://desk.example.jp")[0] == 2
    assert run(url="https://desk.example.jp")[0] == 2
    assert cli.main(["me"], environ={"DX_DESK_URL": "https://desk.example.jp"}) == 2  # no token


def test_unreachable_api_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    from infra.local.launch import free_port

    assert run("me", url=f"http://127.0.0.1:{free_port()}")[0] == 1
    assert "APIに接続できません" in capsys.readouterr().err


# -- routes other modules serve: a stand-in speaking their documented contract ----------


class StandIn(BaseHTTPRequestHandler):
    """/admin/cases (paged by `next`) and /admin/reports/monthly/{month}, as documented."""

    seen: list[tuple[str, dict[str, list[str]]]]

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        type(self).seen.append((url.path, query))
        if self.headers.get("Authorization") != f"Bearer {ADMIN_TOKEN}":
            return self.answer(403, {"Message": "User is not authorized to access this resource"})
        if url.path == "/admin/cases":
            status = query["status"][0]
            page = int(query.get("next", ["0"])[0])
            cases = [
                {"receipt_number": f"DX-261126-{status[:3]}{page}", "status": status},
            ]
            return self.answer(200, {"cases": cases, "next": str(page + 1) if page < 2 else None})
        if url.path == "/admin/reports/monthly/2026-11":
            return self.answer(
                200,
                {
                    "month": "2026-11",
                    "counts": {"received": 12, "by_category": {"data": 4, "talent": 8}},
                    "rows": [{"n": i} for i in range(11)],
                    "median_days": None,
                },
            )
        return self.answer(
            404, {"error": "not_found", "message": "見つかりません。", "message_en": "Not found."}
        )

    def answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def stand_in() -> Iterator[tuple[str, list[tuple[str, dict[str, list[str]]]]]]:
    seen: list[tuple[str, dict[str, list[str]]]] = []
    handler = type("Handler", (StandIn,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_cases_open_pages_through_every_open_status(
    stand_in: tuple[str, list[tuple[str, dict[str, list[str]]]]],
) -> None:
    url, seen = stand_in
    code, out = run("cases", "open", url=url)
    assert code == 0
    lines = out.splitlines()
    assert lines[-1] == "12 件"  # 4 open statuses x 3 pages
    assert lines[0].split("\t")[:2] == ["DX-261126-rec0", "received"]
    assert [q["status"][0] for _, q in seen] == [s for s in cli.OPEN_STATUSES for _ in range(3)]
    assert [q.get("next", ["-"])[0] for _, q in seen[:3]] == ["-", "1", "2"]

    seen.clear()
    code, out = run("cases", "open", "--status", "matching", "--category", "data", url=url)
    assert code == 0 and out.splitlines()[-1] == "3 件"
    assert {(q["status"][0], q["category"][0]) for _, q in seen} == {("matching", "data")}


def test_report_prints_counts_sorted_as_key_value(
    stand_in: tuple[str, list[tuple[str, dict[str, list[str]]]]],
) -> None:
    url, _ = stand_in
    code, out = run("report", "2026-11", url=url)
    assert code == 0
    assert out.splitlines() == [
        "counts.by_category.data: 4",
        "counts.by_category.talent: 8",
        "counts.received: 12",
        "median_days: ",
        "month: 2026-11",
        *[f"rows[{i}].n: {i}" for i in range(11)],  # rows[2] before rows[10]
    ]
    code, _ = run("report", "2026-10", url=url)
    assert code == 1


def test_open_statuses_match_the_lifecycle() -> None:
    from chalicelib.core.lifecycle import OPEN

    assert set(cli.OPEN_STATUSES) == {str(status) for status in OPEN}


def test_the_console_script_and_its_imports() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["scripts"]["dx-desk-admin"] == "infra.cli.main:main"
    # The CLI lives outside what `chalice package` ships, and loads only the standard
    # library at import.
    assert not (ROOT / "chalicelib" / "cli.py").exists()
    assert "infra.cli" not in (ROOT / "app.py").read_text(encoding="utf-8")
    tree = ast.parse((ROOT / "infra" / "cli" / "main.py").read_text(encoding="utf-8"))
    top_level = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            top_level.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            top_level.add(node.module.split(".")[0])
    assert top_level <= set(sys.stdlib_module_names) | {"__future__"}
