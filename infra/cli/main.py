"""dx-desk-admin: the admin API from a staff PC (standard library only; never imported by app.py).

Every command but one talks to the deployed API with a bearer token over
HTTPS (urllib): DX_DESK_URL and DX_DESK_TOKEN from the environment, or
--url / --token. `bootstrap-token` is the exception: it stores the first
admin token straight into the desk table with the caller's own AWS
credentials (boto3, imported only then), because before it there is no
token to call the API with.

Exit codes: 0 done, 1 the API refused (its Japanese message is printed) or
could not be reached, 2 wrong usage.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, TextIO

OK, REFUSED, USAGE = 0, 1, 2
TIMEOUT_SECONDS = 60
PAGE_LIMIT = 100
MAX_PAGES = 1000
# The open statuses (core/lifecycle.py OPEN), queried one by one by `cases open`.
OPEN_STATUSES = ("received", "hearing", "matching", "in_progress")
ACTION_LABELS = {"create": "新規", "update": "更新", "unchanged": "変更なし"}
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
ACTOR_RE = re.compile(r"^[^\x00-\x1f\x7f]{1,64}$")


class Refused(Exception):
    """The API said no (or could not be reached); carries what to print."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__(lines[0] if lines else "refused")
        self.lines = lines


class UsageError(Exception):
    pass


class Api:
    """The admin API over HTTP with a bearer token."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/")
        self.token = token

    def call(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: bytes | None = None,
        content_type: str = "application/json",
        accept_status: Sequence[int] = (),
    ) -> tuple[int, bytes]:
        target = self.url + path + ("?" + urllib.parse.urlencode(query) if query else "")
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(target, data=body, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                return int(response.status), bytes(response.read())
        except urllib.error.HTTPError as exc:
            with exc:
                status, data = exc.code, exc.read()
            if status in accept_status:
                return status, data
            raise Refused(_refusal(status, data)) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise Refused(
                [
                    f"APIに接続できません（{self.url}）。URLとネットワークを確認してください。",
                    f"Cannot reach the API: {reason}",
                ]
            ) from None

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        _, data = self.call(method, path, **kwargs)
        return _json(data)


def _json(data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Refused(["APIの応答を読み取れません。", "The API's answer is not JSON."]) from None


def _refusal(status: int, data: bytes) -> list[str]:
    """The API's own Japanese (and English) message, and its field errors."""
    try:
        body = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        body = None
    if isinstance(body, dict) and body.get("message") and "message_en" in body:
        lines = [f"{body['message']}（HTTP {status}）", str(body.get("message_en") or "")]
        for error in body.get("errors") or []:
            if isinstance(error, dict):
                lines.append(f"  {error.get('field', '')}: {error.get('message', '')}")
        return lines
    # API Gateway's own answers (the authorizer) are English-only.
    if status == 401:
        return [
            "トークンがありません（DX_DESK_TOKEN を設定してください）。",
            "No token (HTTP 401).",
        ]
    if status == 403:
        return [
            "トークンが無効か期限切れ、またはこの操作の権限がありません。",
            "The token is invalid, revoked or expired, or its role may not do this (HTTP 403).",
        ]
    return [f"APIがエラーを返しました（HTTP {status}）。", f"The API answered HTTP {status}."]


# -- commands ----------------------------------------------------------------------


def cmd_me(api: Api, args: argparse.Namespace, out: TextIO) -> int:
    body = api.json("GET", "/admin/me")
    print(f"{body.get('actor')}（{body.get('role')}、トークンID {body.get('token_id')}）", file=out)
    return OK


def cmd_roster_export(api: Api, args: argparse.Namespace, out: TextIO) -> int:
    _, data = api.call("GET", "/admin/experts.csv")
    text = data.decode("utf-8-sig")
    rows = max(len(list(csv.reader(io.StringIO(text, newline="")))) - 1, 0)
    if args.file == "-":
        out.write(text)
        return OK
    # The bytes as the API sent them: UTF-8 with BOM and CRLF, which Excel opens.
    Path(args.file).write_bytes(data)
    print(f"{rows} 件を書き出しました: {args.file}", file=out)
    print("連絡先メール（個人情報）を含みます。取り扱いに注意してください。", file=out)
    return OK


def _read_csv(path: str, out: TextIO) -> str:
    try:
        raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"ファイルを読めません / cannot read {path}: {exc.strerror}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = raw.decode("cp932")
    except UnicodeDecodeError:
        raise UsageError(
            "文字コードを判別できません。UTF-8 で保存してください / the file is neither UTF-8 nor Shift_JIS"
        ) from None
    # Excel's plain "CSV" is Shift_JIS (cp932); the API takes UTF-8.
    print("Shift_JIS（cp932）のファイルとして読み、UTF-8 に変換して送ります。", file=out)
    return text


def cmd_roster_import(api: Api, args: argparse.Namespace, out: TextIO) -> int:
    text = _read_csv(args.file, out)
    status, data = api.call(
        "POST",
        "/admin/experts/import",
        query={"dry_run": "false" if args.apply else "true"},
        body=text.encode("utf-8"),
        content_type="text/csv; charset=utf-8",
        accept_status=(422,),
    )
    body = _json(data)
    if status == 422 and "rows" not in body:
        raise Refused(_refusal(status, data))
    print(body.get("message", ""), file=out)
    for change in body.get("changes", []):
        if change.get("action") == "unchanged":
            continue
        label = ACTION_LABELS.get(change.get("action"), change.get("action"))
        fields = "、".join(change.get("fields") or [])
        detail = f"（{fields}）" if change.get("action") == "update" and fields else ""
        print(f"  {change.get('row')}行目 {change.get('expert_id')}: {label}{detail}", file=out)
    missing = body.get("not_in_file") or []
    if missing:
        print(
            f"CSVにない専門家 {len(missing)} 件は変更しません: {', '.join(missing)}",
            file=out,
        )
    errors = body.get("errors") or []
    for error in errors:
        print(f"  {error.get('row')}行目 {error.get('message')}", file=out)
    if errors:
        return REFUSED
    if not body.get("applied"):
        print("反映するには --apply を付けて実行してください。", file=out)
    return OK


def _pages(api: Api, status: str, args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    query = {"status": status, "limit": str(PAGE_LIMIT)}
    for name in ("category", "from_", "to"):
        value = getattr(args, name, None)
        if value:
            query[name.rstrip("_")] = value
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        body = api.json("GET", "/admin/cases", query=query)
        yield from body.get("cases") or []
        cursor = body.get("next")
        if not cursor or cursor in seen:
            return
        seen.add(cursor)
        query = {**query, "next": str(cursor)}


def _first(case: dict[str, Any], *names: str) -> str:
    for name in names:
        value = case.get(name)
        if value not in (None, ""):
            return str(value)
    return "-"


def cmd_cases_open(api: Api, args: argparse.Namespace, out: TextIO) -> int:
    statuses = [args.status] if args.status else list(OPEN_STATUSES)
    count = 0
    for status in statuses:
        for case in _pages(api, status, args):
            count += 1
            print(
                "\t".join(
                    (
                        _first(case, "receipt_number"),
                        _first(case, "status_label", "status"),
                        _first(case, "category_label", "category"),
                        _first(case, "owner", "assignee"),
                        _first(case, "received_at", "created_at"),
                    )
                ),
                file=out,
            )
    print(f"{count} 件", file=out)
    return OK


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flatten(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list) and any(isinstance(item, dict | list) for item in value):
        for index, item in enumerate(value):
            yield from _flatten(item, f"{prefix}[{index}]")
    elif isinstance(value, list):
        yield prefix, ", ".join(str(item) for item in value)
    else:
        yield prefix, "" if value is None else str(value)


def _natural(key: str) -> list[tuple[int, int | str]]:
    """Sort key where rows[2] comes before rows[10]."""
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", key)]


def cmd_report(api: Api, args: argparse.Namespace, out: TextIO) -> int:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", args.month):
        raise UsageError("月は YYYY-MM の形で指定してください / MONTH is YYYY-MM")
    body = api.json("GET", f"/admin/reports/monthly/{args.month}")
    for key, value in sorted(_flatten(body), key=lambda pair: _natural(pair[0])):
        print(f"{key}: {value}", file=out)
    return OK


def cmd_token_issue(api: Api, args: argparse.Namespace, out: TextIO) -> int:
    request: dict[str, Any] = {"role": args.role, "actor": args.actor}
    if args.valid_days:
        request["valid_days"] = args.valid_days
    body = api.json(
        "POST", "/admin/tokens", body=json.dumps(request, ensure_ascii=False).encode("utf-8")
    )
    _print_token(out, body["token"], body["token_id"], body["role"], body["actor"])
    return OK


def _print_token(out: TextIO, token: str, token_id: str, role: str, actor: str) -> None:
    print(f"トークン / token: {token}", file=out)
    print(f"トークンID {token_id}、権限 {role}、利用者 {actor}", file=out)
    print(
        "このトークンは今だけ表示されます（保存されるのはハッシュ値のみ）。本人に安全な方法で渡してください。",
        file=out,
    )


def cmd_bootstrap_token(args: argparse.Namespace, out: TextIO) -> int:
    """The first admin token after a deploy, written with the caller's AWS credentials."""
    if not ACTOR_RE.match(args.actor):
        raise UsageError("--actor は64文字以内で指定してください / --actor: 1 to 64 characters")
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from chalicelib.admin.access import bootstrap_token
    from chalicelib.core import access as admin
    from chalicelib.core.errors import DeskError
    from chalicelib.core.settings import Settings
    from chalicelib.storage.admin import AdminStore

    days = int(
        os.environ.get("AUDIT_RETENTION_DAYS")
        or Settings.model_fields["audit_retention_days"].default
    )
    now = datetime.now(UTC)
    issued = admin.issue_token()
    client = boto3.client("dynamodb", **({"region_name": args.region} if args.region else {}))
    try:
        token_id = bootstrap_token(
            AdminStore(client, args.table),
            issued.token,
            role=args.role,
            actor=args.actor,
            now=now,
            audit_expires=int(now.timestamp()) + days * 86400,
        )
    except (ClientError, BotoCoreError, DeskError) as exc:
        raise Refused(
            [
                "トークンを登録できませんでした（テーブル名・リージョン・AWSの認証情報を確認してください）。",
                f"Could not store the token: {type(exc).__name__}",
            ]
        ) from None
    _print_token(out, issued.token, token_id, args.role, args.actor)
    return OK


# -- parsing -----------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        print(f"使い方が正しくありません / usage error: {message}", file=sys.stderr)
        raise SystemExit(USAGE)


def parser() -> argparse.ArgumentParser:
    top = _Parser(
        prog="dx-desk-admin",
        description="DX相談窓口の管理API / the dx-desk admin API (DX_DESK_URL, DX_DESK_TOKEN)",
    )
    top.add_argument("--url", help="APIのURL（既定: 環境変数 DX_DESK_URL）")
    top.add_argument("--token", help="ベアラートークン（既定: 環境変数 DX_DESK_TOKEN）")
    commands = top.add_subparsers(dest="command", required=True, parser_class=_Parser)

    commands.add_parser("me", help="このトークンの利用者と権限").set_defaults(run=cmd_me)

    roster = commands.add_parser("roster", help="専門家名簿のCSV").add_subparsers(
        dest="roster_command", required=True, parser_class=_Parser
    )
    export = roster.add_parser("export", help="名簿をCSVに書き出す（- は標準出力）")
    export.add_argument("file")
    export.set_defaults(run=cmd_roster_export)
    imp = roster.add_parser("import", help="CSVを取り込む（既定は確認のみ）")
    imp.add_argument("file")
    imp.add_argument("--apply", action="store_true", help="確認だけでなく実際に反映する")
    imp.set_defaults(run=cmd_roster_import)

    cases = commands.add_parser("cases", help="案件").add_subparsers(
        dest="cases_command", required=True, parser_class=_Parser
    )
    open_cases = cases.add_parser("open", help="未完了の案件の一覧（受付〜対応中）")
    open_cases.add_argument("--status", help="この状態だけ（received, hearing, ...）")
    open_cases.add_argument("--category")
    open_cases.add_argument("--from", dest="from_", metavar="YYYY-MM-DD")
    open_cases.add_argument("--to", metavar="YYYY-MM-DD")
    open_cases.set_defaults(run=cmd_cases_open)

    report = commands.add_parser("report", help="月次の集計")
    report.add_argument("month", metavar="YYYY-MM")
    report.set_defaults(run=cmd_report)

    token = commands.add_parser("token", help="トークン").add_subparsers(
        dest="token_command", required=True, parser_class=_Parser
    )
    issue = token.add_parser("issue", help="トークンを発行する（管理者のみ）")
    issue.add_argument("--role", choices=("admin", "staff"), required=True)
    issue.add_argument("--actor", required=True, help="監査記録に残る利用者名（例: 職員A）")
    issue.add_argument("--valid-days", type=int)
    issue.set_defaults(run=cmd_token_issue)

    boot = commands.add_parser(
        "bootstrap-token",
        help="デプロイ直後の最初の管理者トークンを、AWSの認証情報でテーブルに直接登録する",
    )
    boot.add_argument("--table", required=True, help="DynamoDB のテーブル名")
    boot.add_argument("--role", choices=("admin", "staff"), default="admin")
    boot.add_argument("--actor", required=True)
    boot.add_argument("--region")
    boot.set_defaults(run=None)
    return top


def main(
    argv: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    out: TextIO | None = None,
) -> int:
    env = os.environ if environ is None else environ
    stdout = out or sys.stdout
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        if args.command == "bootstrap-token":
            return cmd_bootstrap_token(args, stdout)
        url = args.url or env.get("DX_DESK_URL", "")
        token = args.token or env.get("DX_DESK_TOKEN", "")
        if not url.startswith(("https://", "http://")):
            raise UsageError("APIのURLを DX_DESK_URL か --url で指定してください / set DX_DESK_URL")
        if url.startswith("http://") and urllib.parse.urlsplit(url).hostname not in LOCAL_HOSTS:
            # The token would cross the network in clear text.
            raise UsageError("https:// のURLを指定してください / the URL must be https://")
        if not token:
            raise UsageError(
                "トークンを DX_DESK_TOKEN か --token で指定してください / set DX_DESK_TOKEN"
            )
        return int(args.run(Api(url, token), args, stdout))
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return USAGE
    except Refused as exc:
        for line in exc.lines:
            print(line, file=sys.stderr)
        return REFUSED


if __name__ == "__main__":
    sys.exit(main())
