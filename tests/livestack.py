"""Running `python -m infra.local.dev` for tests: free ports, HTTP without exceptions, clean teardown."""

from __future__ import annotations

import email
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import pytest

from infra.local.launch import StackError, free_port, launched
from tests.conftest import ROOT

START_TIMEOUT = 40.0
EXIT_TIMEOUT = 15.0


def http(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body; HTTP error statuses are answers too, not exceptions."""
    request = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), exc.read()


def mail_text(raw: str) -> str:
    """Headers and every decoded text part of one raw message."""
    message = email.message_from_string(raw, policy=default_policy)
    assert isinstance(message, EmailMessage)
    parts = [f"{name}: {value}" for name, value in message.items()]
    parts += [
        str(part.get_content()) for part in message.walk() if part.get_content_maintype() == "text"
    ]
    return "\n".join(parts)


@dataclass
class Stack:
    process: subprocess.Popen[bytes]
    api: str
    moto: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_until_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the stack exited with {self.process.returncode}:\n{self.log()}")
            try:
                if http("GET", f"{self.api}/health")[0] == 200:
                    return
            except OSError:
                pass  # not listening yet
            time.sleep(0.25)
        pytest.fail(f"/health did not answer within {START_TIMEOUT} s:\n{self.log()}")

    def stop(self, sig: int = signal.SIGINT) -> int:
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"no exit within {EXIT_TIMEOUT} s of {sig!r}:\n{self.log()}")


@contextmanager
def running_stack(
    log_path: Path, extra_env: dict[str, str] | None = None, stack_type: type[Stack] = Stack
) -> Iterator[Stack]:
    """Start the stack (infra/local/launch.py), wait for /health, and make sure it is gone
    afterwards; a stack that does not come up fails the test with its log."""
    try:
        with launched(log_path, extra_env, start_timeout=START_TIMEOUT) as up:
            yield stack_type(up.process, up.api, up.moto, up.log_path)
    except StackError as exc:
        pytest.fail(str(exc), pytrace=False)


SES_EMULATOR = ROOT / "tests" / "ses_emulator" / "node_modules" / ".bin" / "aws-ses-v2-local"


def ses_emulator_missing() -> str:
    """Why aws-ses-v2-local cannot run here ('' when it can)."""
    if not SES_EMULATOR.exists():
        return (
            "aws-ses-v2-local is not installed "
            "(npm ci --prefix tests/ses_emulator; make test and make bench do it)"
        )
    return ""


@contextmanager
def running_ses_emulator(log_path: Path) -> Iterator[str]:
    """aws-ses-v2-local on a free port of 127.0.0.1; yields its URL (GET /store lists the mail)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [str(SES_EMULATOR), "--host", "127.0.0.1", "--port", str(port)],
            cwd=SES_EMULATOR.parent,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"aws-ses-v2-local exited: {log_path.read_text()}")
            try:
                if http("GET", f"{url}/health-check")[0] == 200:
                    break
            except OSError:
                pass  # not listening yet
            if time.monotonic() > deadline:
                raise RuntimeError(f"aws-ses-v2-local did not start: {log_path.read_text()}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=EXIT_TIMEOUT)
