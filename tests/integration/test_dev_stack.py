"""The local stack (`python -m infra.local.dev`): live API, mail through the outbox, CORS, clean stop."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, local_stage_env, valid_payload
from tests.livestack import (
    EXIT_TIMEOUT,
    Stack,
    http,
    mail_text,
    running_ses_emulator,
    running_stack,
    ses_emulator_missing,
)

MAIL_TIMEOUT = 20.0


@pytest.fixture
def extra_env() -> dict[str, str]:
    """Variables a test adds to the stack's environment (override to steer it)."""
    return {}


@pytest.fixture
def stack(tmp_path: Path, extra_env: dict[str, str]) -> Iterator[Stack]:
    with running_stack(tmp_path / "dev-stack.log", extra_env) as running:
        yield running


def sent_raw_mail(moto: str) -> list[dict[str, Any]]:
    """moto's SES store: raw sends (SES v1 and v2 alike) are listed under ses.RawMessage."""
    status, _, body = http("GET", f"{moto}/moto-api/data.json")
    assert status == 200
    return list(json.loads(body).get("ses", {}).get("RawMessage", []))


def submit_and_wait_for_mail(stack: Stack, ses_url: str) -> list[dict[str, Any]]:
    """POST one consultation; the mails naming its receipt number that reach `ses_url`."""
    status, _, body = http(
        "POST",
        f"{stack.api}/consultations",
        json.dumps(valid_payload()).encode("utf-8"),
        {"Content-Type": "application/json"},
    )
    assert status == 201, body
    receipt = json.loads(body)["receipt_number"]
    assert receipt

    deadline = time.monotonic() + MAIL_TIMEOUT
    mentioning: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        mentioning = [m for m in sent_raw_mail(ses_url) if receipt in mail_text(m["raw_data"])]
        if len(mentioning) >= 3:
            break
        time.sleep(0.25)
    return mentioning


def test_a_submission_sends_its_mails_and_ctrl_c_stops_cleanly(stack: Stack) -> None:
    mentioning = submit_and_wait_for_mail(stack, stack.moto)
    assert len(mentioning) == 3, stack.log()
    recipients = {address for m in mentioning for address in m["destinations"]}
    assert valid_payload()["email"] in recipients
    assert set(local_stage_env()["STAFF_NOTIFY_TO"].split(",")) <= recipients

    assert stack.stop(signal.SIGINT) == 0
    log = stack.log()
    assert "Traceback" not in log, log
    assert "停止しました / stopped" in log
    from infra.local.demo_roster import ROSTER

    assert f"seeded {len(ROSTER)} demo experts" in log


@pytest.fixture
def ses_emulator() -> Iterator[str]:
    """A separate SES emulator (another moto server) the stack reaches only through
    AWS_ENDPOINT_URL_SESV2."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{server.get_host_and_port()[1]}"
    finally:
        server.stop()


class TestSeparateSesEmulator:
    @pytest.fixture
    def extra_env(self, ses_emulator: str) -> dict[str, str]:
        return {"AWS_ENDPOINT_URL_SESV2": ses_emulator}

    def test_mail_reaches_the_emulator_named_by_aws_endpoint_url_sesv2(
        self, stack: Stack, ses_emulator: str
    ) -> None:
        mentioning = submit_and_wait_for_mail(stack, ses_emulator)
        assert len(mentioning) == 3, stack.log()
        assert sent_raw_mail(stack.moto) == []  # nothing went to the embedded moto
        assert stack.stop(signal.SIGINT) == 0


def test_cors_preflight_through_the_live_server_and_sigterm(stack: Stack) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }

    status, headers, body = http(
        "OPTIONS",
        f"{stack.api}/consultations",
        headers={"Origin": "http://localhost:8001", **preflight},
    )
    assert status == 204, body
    assert headers.get("Access-Control-Allow-Origin") == "http://localhost:8001"
    assert "POST" in headers.get("Access-Control-Allow-Methods", "")

    status, headers, body = http(
        "OPTIONS",
        f"{stack.api}/consultations",
        headers={"Origin": "https://evil.example", **preflight},
    )
    assert status == 403, body
    assert "Access-Control-Allow-Origin" not in headers
    # A Host header naming the foreign origin does not make it the API's own.
    status, headers, body = http(
        "OPTIONS",
        f"{stack.api}/consultations",
        headers={"Origin": "http://evil.example", "Host": "evil.example", **preflight},
    )
    assert status == 403, body
    assert "Access-Control-Allow-Origin" not in headers
    # The API's own origin (PUBLIC_BASE_URL, set by make dev from its port) is allowed.
    own = stack.api.rstrip("/")
    status, headers, body = http(
        "OPTIONS", f"{stack.api}/consultations", headers={"Origin": own, **preflight}
    )
    assert status == 204, body
    assert headers.get("Access-Control-Allow-Origin") == own

    assert stack.stop(signal.SIGTERM) == 0
    assert "Traceback" not in stack.log()


def test_per_service_endpoints_are_left_alone() -> None:
    from infra.local.dev import build_environment

    emulator = "http://127.0.0.1:1025"
    env = build_environment(
        {"AWS_ENDPOINT_URL_SESV2": emulator}, endpoint_url="http://127.0.0.1:5000", stage_env={}
    )
    assert env["AWS_ENDPOINT_URL_SESV2"] == emulator
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5000"
    assert not any(
        name.startswith("AWS_ENDPOINT_URL_") for name in set(env) - {"AWS_ENDPOINT_URL_SESV2"}
    )


def test_a_preset_endpoint_is_used_instead_of_moto() -> None:
    from infra.local.dev import build_environment, needs_moto

    localstack = "http://127.0.0.1:4566"
    environ = {"AWS_ENDPOINT_URL": localstack, "AWS_DEFAULT_REGION": "us-east-1"}
    assert not needs_moto(environ)
    assert needs_moto({}) and needs_moto({"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8002"})
    env = build_environment(environ, endpoint_url="http://127.0.0.1:5000", stage_env={})
    assert env["AWS_ENDPOINT_URL"] == localstack
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_ACCESS_KEY_ID"] == "testing"


def test_the_stage_values_win_as_chalice_local_applies_them() -> None:
    from infra.local.dev import build_environment, replaced_by_stage, stage_environment

    stage = stage_environment()
    environ = {"TABLE_NAME": "another-table"}
    assert replaced_by_stage(environ, stage) == ["TABLE_NAME"]
    env = build_environment(environ)
    assert {name: env[name] for name in stage} == stage


def test_the_demo_roster_is_fictitious_and_uses_the_deployment_ids() -> None:
    from infra.local.demo_roster import ROSTER, expert_item

    deployment = json.loads((ROOT / "chalicelib" / "data" / "deployment.json").read_text("utf-8"))
    categories = {c["id"] for c in deployment["categories"]} - {"unknown"}
    support_types = {s["id"] for s in deployment["support_types"]}
    ids = [expert["expert_id"] for expert in ROSTER]
    assert len(ids) == len(set(ids))
    assert sum(e["role"] == "advisor" for e in ROSTER) == 18
    assert sum(e["role"] == "partner" for e in ROSTER) == 11
    for expert in ROSTER:
        assert expert["categories"] and set(expert["categories"]) <= categories
        assert expert["support_types"] and set(expert["support_types"]) <= support_types
        assert expert["email"].rpartition("@")[2] in {"example.com", "example.jp"}
        assert expert["label"].startswith(("アドバイザー", "パートナー企業"))
        item = expert_item(expert)
        assert (item["pk"], item["sk"], item["kind"]) == (
            f"EXPERT#{expert['expert_id']}",
            "EXPERT",
            "expert",
        )


class TestAwsSesV2Local:
    """aws-ses-v2-local (npm) as the SES endpoint: it has no identity API, and accepts any sender."""

    @pytest.fixture
    def emulator(self, tmp_path: Path) -> Iterator[str]:
        missing = ses_emulator_missing()
        if missing:
            pytest.skip(missing)
        with running_ses_emulator(tmp_path / "ses-emulator.log") as url:
            yield url

    @pytest.fixture
    def extra_env(self, emulator: str) -> dict[str, str]:
        return {"AWS_ENDPOINT_URL_SESV2": emulator}

    def test_the_stack_starts_and_its_mail_reaches_the_emulator(
        self, stack: Stack, emulator: str
    ) -> None:
        status, _, body = http(
            "POST",
            f"{stack.api}/consultations",
            json.dumps(valid_payload()).encode("utf-8"),
            {"Content-Type": "application/json"},
        )
        assert status == 201, body
        receipt = json.loads(body)["receipt_number"]
        deadline = time.monotonic() + MAIL_TIMEOUT
        mails: list[dict[str, Any]] = []
        while time.monotonic() < deadline and len(mails) < 3:
            _, _, stored = http("GET", f"{emulator}/store")
            mails = [m for m in json.loads(stored)["emails"] if receipt in m["subject"]]
            time.sleep(0.2)

        recipients = {address for m in mails for address in m["destination"]["to"]}
        assert len(mails) == 3, stack.log()
        assert recipients == {
            valid_payload()["email"],
            *local_stage_env()["STAFF_NOTIFY_TO"].split(","),
        }
        assert sent_raw_mail(stack.moto) == []
        assert "has no identity API: sender not verified" in stack.log()
        assert stack.stop(signal.SIGTERM) == 0


def test_the_banner_leads_with_the_form_and_the_root_forwards_to_it(stack: Stack) -> None:
    urls = [line for line in stack.log().splitlines() if "http://127.0.0.1:" in line]
    assert urls[0].split()[-1] == f"{stack.api}/form/input?lang=ja", urls
    assert not any(line.rstrip().endswith(f"{stack.api}/") for line in urls), urls

    host, port = stack.api.removeprefix("http://").split(":")
    connection = HTTPConnection(host, int(port), timeout=10)
    connection.request("GET", "/")
    answer = connection.getresponse()
    assert answer.status == 302
    assert answer.getheader("Location") == "form/input?lang=ja"
    connection.close()
    # Followed as a browser would: the form.
    status, headers, _ = http("GET", f"{stack.api}/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert stack.stop(signal.SIGINT) == 0


def test_the_request_log_masks_link_tokens(stack: Stack) -> None:
    from chalicelib.core import actiontoken

    token = actiontoken.sign(
        {"k1": b"k" * 32},
        "k1",
        purpose="take",
        receipt_number="DX-261126-000010",
        recipient="staff-a@dx-desk.example.jp",
        expires_at=int(time.time()) + 3600,
    )
    for method in ("GET", "HEAD", "POST"):
        status, _, _ = http(method, f"{stack.api}/actions/{token}?again={token}")
        assert status < 500
    assert stack.stop(signal.SIGINT) == 0

    log = stack.log()
    assert token not in log
    assert token.split(".")[2] not in log  # not even the payload part
    assert log.count('"GET /actions/[token]?again=[token] HTTP/1.1"') == 1, log[-3000:]


def test_sigterm_while_submissions_are_in_flight_stops_it(stack: Stack) -> None:
    """Stops as Ctrl-C does while the API, moto and the outbox drain are all busy."""
    answered: list[int] = []

    def submit(index: int) -> None:
        payload = valid_payload(email=f"term-{index}@example.com", message=f"停止試験 {index}")
        try:
            status, _, _ = http(
                "POST",
                f"{stack.api}/consultations",
                json.dumps(payload).encode("utf-8"),
                {"Content-Type": "application/json"},
            )
            answered.append(status)
        except OSError:
            answered.append(0)  # cut off by the stop: expected for some

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    while not answered:  # the first answers: the stack is working on the rest
        time.sleep(0.02)

    started = time.monotonic()
    assert stack.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < EXIT_TIMEOUT
    for thread in threads:
        thread.join(timeout=EXIT_TIMEOUT)
    log = stack.log()
    assert "停止しました / stopped" in log
    assert "Traceback" not in log, log[-3000:]


class TestMailWithoutTheSweep:
    """With the periodic sweep an hour apart, only the wake on write can send the mail."""

    @pytest.fixture
    def extra_env(self) -> dict[str, str]:
        return {"OUTBOX_SWEEP_SECONDS": "3600"}

    def test_a_write_wakes_the_drain(self, stack: Stack) -> None:
        mentioning = submit_and_wait_for_mail(stack, stack.moto)
        assert len(mentioning) == 3, stack.log()
        assert stack.stop(signal.SIGINT) == 0
