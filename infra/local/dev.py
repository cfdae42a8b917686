"""The local stack in one process: moto, demo data, an outbox drain and the Chalice local API."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
STAGE = "local"
REGION = "ap-northeast-1"
DEFAULT_PORT = 8000
DRAIN_INTERVAL_SECONDS = 1.0
SHUTDOWN_DRAIN_SECONDS = 3.0
# Who the local admin token acts as in audit records.
LOCAL_ADMIN_ACTOR = "ローカル管理者"

# Filled in only where the environment lacks them.
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}

log = logging.getLogger("infra.local.dev")


class Shutdown(BaseException):
    """Raised in the main thread on SIGINT or SIGTERM.

    A BaseException on purpose: `chalice.cli.main()` turns every Exception into
    a traceback and exit code 2, and click turns KeyboardInterrupt into
    "Aborted!" and exit code 1; this passes through both.
    """


def stage_environment(project_dir: Path = ROOT, stage: str = STAGE) -> dict[str, str]:
    """The stage's variables as Chalice sets them: top level, then the stage's own."""
    config = json.loads((project_dir / ".chalice" / "config.json").read_text(encoding="utf-8"))
    return {
        **config.get("environment_variables", {}),
        **config["stages"][stage].get("environment_variables", {}),
    }


def build_environment(
    environ: Mapping[str, str],
    *,
    endpoint_url: str | None = None,
    stage_env: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """`environ` with what the stack needs.

    The stage's variables always win: `chalice local` writes them into
    os.environ when it loads the app, so resources made under another value
    would not be the ones the API uses. Fake credentials, the region and,
    when given, `endpoint_url` (as AWS_ENDPOINT_URL) only fill gaps.
    AWS_ENDPOINT_URL_<SERVICE> variables are never touched: boto3 prefers
    them, so single services can point at DynamoDB Local, LocalStack or a
    mail emulator.
    """
    env = dict(environ)
    defaults = dict(FAKE_AWS)
    if endpoint_url:
        defaults["AWS_ENDPOINT_URL"] = endpoint_url
    for name, value in defaults.items():
        if not env.get(name):
            env[name] = value
    env.update(stage_environment() if stage_env is None else stage_env)
    return env


def replaced_by_stage(environ: Mapping[str, str], stage_env: Mapping[str, str]) -> list[str]:
    """Variables set to another value than the stage's (which will replace them)."""
    return sorted(
        name for name, value in stage_env.items() if environ.get(name) not in (None, "", value)
    )


def needs_moto(environ: Mapping[str, str]) -> bool:
    return not environ.get("AWS_ENDPOINT_URL")


def _port_setting(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name) or str(default)
    if not raw.isdigit() or int(raw) > 65535:
        raise SystemExit(
            f"{name} はポート番号ではありません / {name} is not a port number: {raw!r}"
        )
    return int(raw)


def _drain_interval(environ: Mapping[str, str]) -> float:
    """OUTBOX_SWEEP_SECONDS: how often the drain sweeps without a write (retries, backoff)."""
    raw = environ.get("OUTBOX_SWEEP_SECONDS") or str(DRAIN_INTERVAL_SECONDS)
    try:
        seconds = float(raw)
    except ValueError:
        seconds = 0.0
    if not 0.05 <= seconds <= 86400:
        raise SystemExit(
            f"OUTBOX_SWEEP_SECONDS は 0.05〜86400 の秒数にしてください / "
            f"OUTBOX_SWEEP_SECONDS must be 0.05 to 86400 seconds: {raw!r}"
        )
    return seconds


def _check_port_free(port: int) -> None:
    """Fail with a clear message instead of a traceback (or, for moto, a hang)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Both servers set SO_REUSEADDR too: a port in TIME_WAIT is fine.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise SystemExit(
                f"ポート {port} は使用中です / port {port} is already in use"
            ) from None


def start_moto(port: int) -> Any:
    """moto's server on 127.0.0.1 (port 0: any free port); returns the started server."""
    from moto.server import ThreadedMotoServer

    from infra.local.moto_patches import prepare_moto

    # Atomic conditional writes, and writes that cost what they touch (see there).
    prepare_moto()
    if port:
        # ThreadedMotoServer.start() waits forever if its thread cannot bind.
        _check_port_free(port)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server


def create_resources(environ: Mapping[str, str]) -> int:
    """Table, sending identity and demo roster; returns the number of experts seeded."""
    from datetime import UTC, datetime

    import boto3

    from infra.local.demo_roster import seed, seed_staff
    from infra.local.resources import create_buckets, create_tables

    dynamodb = boto3.client("dynamodb")
    create_tables(dynamodb, dict(environ))
    create_buckets(boto3.client("s3"), environ)
    verify_sender_where_supported(boto3.client("sesv2"), environ)
    seed_staff(dynamodb, environ["TABLE_NAME"], datetime.now(UTC))
    return seed(dynamodb, environ["TABLE_NAME"])


def ses_endpoint(environ: Mapping[str, str]) -> str:
    """Where boto3 sends SES v2 calls: the per-service variable wins, as in botocore."""
    return environ.get("AWS_ENDPOINT_URL_SESV2") or environ.get("AWS_ENDPOINT_URL") or ""


def _identity_api_missing(exc: Exception) -> bool:
    from botocore.exceptions import ClientError

    if not isinstance(exc, ClientError):
        return False
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    code = exc.response.get("Error", {}).get("Code", "")
    message = exc.response.get("Error", {}).get("Message", "")
    return status == 404 or "UnknownOperation" in f"{code} {message}"


def verify_sender_where_supported(sesv2: Any, environ: Mapping[str, str]) -> bool:
    """Verify the sending domain; True when verified.

    moto (the embedded one, or another moto as the SES endpoint) rejects
    unverified senders, so the identity is created there. Emulators such as
    aws-ses-v2-local accept any sender and have no identity API (404
    UnknownOperationException): there the step is skipped with a note.
    """
    from infra.local.resources import verify_sender

    try:
        verify_sender(sesv2, environ["MAIL_FROM"])
    except Exception as exc:
        moto_endpoint = environ.get("AWS_ENDPOINT_URL", "")
        if ses_endpoint(environ) == moto_endpoint or not _identity_api_missing(exc):
            raise
        log.info(
            "SES エンドポイント %s に送信元の検証 API がないため、検証を省きます / "
            "the SES endpoint %s has no identity API: sender not verified (it accepts any)",
            ses_endpoint(environ),
            ses_endpoint(environ),
        )
        return False
    return True


@dataclass(frozen=True)
class LocalAdmin:
    """The dev stack's admin bearer token (only its digest is stored)."""

    token: str
    from_environment: bool


def local_admin_token(environ: Mapping[str, str]) -> LocalAdmin:
    """LOCAL_ADMIN_TOKEN when set (and acceptable as a bearer token), else a new one."""
    from chalicelib.core import access as admin

    given = environ.get("LOCAL_ADMIN_TOKEN", "")
    if not given:
        return LocalAdmin(admin.issue_token().token, from_environment=False)
    if admin.token_from_header(f"Bearer {given}") != given:
        raise SystemExit(
            "LOCAL_ADMIN_TOKEN は空白なしの印字可能な ASCII 16〜256 文字にしてください / "
            "LOCAL_ADMIN_TOKEN must be 16 to 256 printable ASCII characters without spaces"
        )
    return LocalAdmin(given, from_environment=True)


def register_local_admin(local: LocalAdmin) -> None:
    """Store the token's digest with role admin, audited as a bootstrap (as after a deploy)."""
    from chalicelib import runtime
    from chalicelib.admin.access import bootstrap_token
    from chalicelib.core.errors import VersionConflict
    from chalicelib.core.roster_admin import audit_expiry
    from chalicelib.runtime import get_settings

    now = runtime.now()
    try:
        bootstrap_token(
            runtime.admin_store(),
            local.token,
            role="admin",
            actor=LOCAL_ADMIN_ACTOR,
            now=now,
            audit_expires=audit_expiry(get_settings(), now),
        )
    except VersionConflict:
        # A persistent local DynamoDB that already holds this token.
        log.info("管理者トークンは登録済みです / the admin token is registered already")


def admin_banner_lines(api: str, local: LocalAdmin) -> list[str]:
    shown = "$LOCAL_ADMIN_TOKEN" if local.from_environment else local.token
    source = (
        "LOCAL_ADMIN_TOKEN の値 / from LOCAL_ADMIN_TOKEN"
        if local.from_environment
        else "起動のたびに新規発行 / new at each start (set LOCAL_ADMIN_TOKEN to keep one)"
    )
    return [
        f"  管理API / admin API:                   {api}/admin/me",
        f"  管理者トークン / admin token:          {shown}",
        f"                                         {source}",
        f'  例 / example: curl -H "Authorization: Bearer {shown}" {api}/admin/me',
        f"  CLI: DX_DESK_URL={api} DX_DESK_TOKEN={shown} dx-desk-admin roster export roster.csv",
    ]


def console_banner_lines(api: str) -> list[str]:
    from infra.local.demo_roster import DEMO_STAFF

    signin = ", ".join(f"{m['email']}（{m['role']}）" for m in DEMO_STAFF)
    return [
        f"  管理コンソール / console:              {api}/console/",
        f"    サインイン用アドレス / sign in as:   {signin}",
        "    リンクはメールボックスに届きます / the sign-in link arrives in the mailbox",
    ]


def drain_outbox(
    stop: threading.Event,
    interval: float = DRAIN_INTERVAL_SECONDS,
    wake: threading.Event | None = None,
) -> None:
    """Send due mail whenever `wake` is set (a write) and every `interval` seconds, until `stop`.

    In AWS the table's stream invokes the sender for each new message and a
    schedule sweeps for retries; here a write wakes the drain at once and the
    interval covers retries whose backoff has run out.
    """
    from chalicelib.outbox.handler import sweep_once

    wake = wake or threading.Event()
    last_error = ""
    while True:
        wake.wait(interval)
        wake.clear()
        if stop.is_set():
            return
        try:
            counts = sweep_once()
        except Exception as exc:
            if stop.is_set():
                return  # the endpoints are going away with the stack
            # Anything a sweep raises (an endpoint restarting, a bug being
            # edited) must not end local mail delivery: log it, try again.
            # A repeat of the same error gets one line, not a traceback a second.
            if repr(exc) == last_error:
                log.warning("送信処理の失敗（再発） / outbox sweep failed again: %r", exc)
            else:
                log.exception("送信処理の失敗、再試行します / outbox sweep failed, will retry")
            last_error = repr(exc)
            continue
        last_error = ""
        if any(counts.values()):
            log.info("メール送信処理 / outbox sweep: %s", counts)


# DynamoDB writes that can put mail into the outbox (intake, links, admin, replies).
_WRITES = frozenset({"TransactWriteItems", "PutItem", "UpdateItem", "BatchWriteItem"})
WAKE_HANDLER_ID = "dx-desk-wake-outbox-drain"


def wake_on_writes(wake: threading.Event, drain_thread_name: str) -> None:
    """Set `wake` after each DynamoDB write made in this process outside the drain.

    Registered on boto3's default session, so every client the app builds
    afterwards (runtime.py) carries it, whichever endpoint DynamoDB is at.
    """
    import boto3

    def after_call(model: Any, **_: Any) -> None:
        if model.name in _WRITES and threading.current_thread().name != drain_thread_name:
            wake.set()

    boto3._get_default_session()._session.register(
        "after-call.dynamodb", after_call, unique_id=WAKE_HANDLER_ID
    )


def print_banner(
    api_port: int,
    environ: Mapping[str, str],
    moto_url: str | None,
    mailbox_url: str | None = None,
    local_admin: LocalAdmin | None = None,
) -> None:
    api = f"http://127.0.0.1:{api_port}"
    lines = [
        "",
        "dx-desk ローカル環境 / local stack",
        f"  相談フォーム / consultation form:      {api}/form/input?lang=ja",
        f"  相談の送信 API / submit (JSON):        POST {api}/consultations",
        f"  API の説明 / API description:          {api}/openapi.json",
        f"  ヘルスチェック / health:               {api}/health",
    ]
    if mailbox_url:
        lines.append(f"  メールボックス（開発用） / mailbox:    {mailbox_url}/")
    lines += console_banner_lines(api)
    if local_admin:
        lines += admin_banner_lines(api, local_admin)
    if moto_url:
        lines += [
            f"  moto ダッシュボード / dashboard:       {moto_url}/moto-api/",
            f"  送信メール / sent mail (ses.RawMessage): {moto_url}/moto-api/data.json",
        ]
    for name in sorted(environ):
        if name.startswith("AWS_ENDPOINT_URL"):
            lines.append(f"  {name}: {environ[name]}")
    lines += ["  停止は Ctrl-C / stop with Ctrl-C", ""]
    print("\n".join(lines), flush=True)


def run_api(port: int) -> int:
    """`chalice local` for the local stage, in this process; returns only on failure."""
    import chalice.cli
    import chalice.local

    from infra.local.accesslog import mask_chalice_local_access_log

    # Signed-link tokens never reach the request log.
    mask_chalice_local_access_log()
    # Requests still in flight when the stack stops must not hold the process.
    chalice.local.ThreadedHTTPServer.daemon_threads = True
    # Without autoreload Chalice serves in this process, so the API shares
    # moto and the environment above; argv[0] is what its reloader would re-run.
    sys.argv = [
        str(Path(sys.executable).with_name("chalice")),
        "--project-dir",
        str(ROOT),
        "local",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--stage",
        STAGE,
        "--no-autoreload",
    ]
    return int(chalice.cli.main() or 1)


def _raise_shutdown(signum: int, frame: FrameType | None) -> None:
    raise Shutdown(signum)


def main() -> int:
    signal.signal(signal.SIGINT, _raise_shutdown)
    signal.signal(signal.SIGTERM, _raise_shutdown)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # moto's request log (one line per AWS call) and the per-second sweep
    # summary would bury everything else (drain_outbox logs the sweeps that moved mail).
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("botocore").setLevel(logging.WARNING)
    logging.getLogger("chalicelib.outbox.handler").setLevel(logging.WARNING)

    moto = None
    mailbox = None
    stop = threading.Event()
    drain: threading.Thread | None = None
    wake: threading.Event | None = None
    try:
        stage_env = stage_environment()
        for name in replaced_by_stage(os.environ, stage_env):
            # chalice local would replace it anyway, after the resources exist.
            log.warning(
                "%s は .chalice/config.json の値 %r を使います / %s: using %r from "
                ".chalice/config.json (chalice local always applies the stage's values)",
                name,
                stage_env[name],
                name,
                stage_env[name],
            )
        os.environ.update(build_environment(os.environ, stage_env=stage_env))
        api_port = _port_setting(os.environ, "PORT", DEFAULT_PORT)
        _check_port_free(api_port)
        local_admin = local_admin_token(os.environ)
        from infra.local.mailbox import bind_mailbox

        # Bound now (served later): a busy port fails before anything starts.
        mailbox = bind_mailbox(
            _port_setting(os.environ, "MAILBOX_PORT", api_port + 2), api_port=api_port
        )
        # Links in mail point at this stack (the stage leaves it unset for that reason).
        os.environ.setdefault("PUBLIC_BASE_URL", f"http://127.0.0.1:{api_port}")
        moto_url = None
        if needs_moto(os.environ):
            moto = start_moto(_port_setting(os.environ, "MOTO_PORT", 0))
            moto_url = f"http://127.0.0.1:{moto.get_host_and_port()[1]}"
            os.environ.update(
                build_environment(os.environ, endpoint_url=moto_url, stage_env=stage_env)
            )

        from botocore.exceptions import EndpointConnectionError

        try:
            experts = create_resources(os.environ)
        except EndpointConnectionError as exc:
            log.error("AWS エンドポイントに接続できません / cannot reach an endpoint: %s", exc)
            return 1
        log.info("デモの専門家 %d 件 / seeded %d demo experts", experts, experts)

        # Import what the drain uses here, not in its thread while Chalice
        # imports the app, and drop clients built before the endpoint was set.
        import chalicelib.outbox.handler
        import chalicelib.outbox.service  # noqa: F401
        from chalicelib import runtime

        wake = threading.Event()
        drain = threading.Thread(
            target=drain_outbox,
            args=(stop, _drain_interval(os.environ), wake),
            name="outbox-drain",
            daemon=True,
        )
        # Before any client the app uses exists: clients copy the session's
        # handlers when they are built.
        wake_on_writes(wake, drain.name)
        runtime.reset()
        register_local_admin(local_admin)
        drain.start()
        mailbox.start(moto_url=moto_url)

        print_banner(api_port, os.environ, moto_url, mailbox.url, local_admin)
        return run_api(api_port)
    except Shutdown:
        return 0
    finally:
        # A second Ctrl-C must not interrupt the cleanup.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop.set()
        if wake is not None:
            wake.set()
        if drain is not None:
            # A sweep in progress ends with its current mail; a long one is
            # cut short by moto going away below (the drain is a daemon).
            drain.join(timeout=SHUTDOWN_DRAIN_SECONDS)
        if mailbox is not None:
            mailbox.stop()
        if moto is not None:
            moto.stop()
        print("停止しました / stopped", flush=True)


if __name__ == "__main__":
    sys.exit(main())
