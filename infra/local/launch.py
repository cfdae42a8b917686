"""Starting the local stack (`python -m infra.local.dev`) as a child process on free ports.

One launcher for everything that needs a live stack: the tests, the bench and
the page gallery (tests may import infra; infra never imports tests). Also the
Chromium flags the browser tests and the gallery share.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from infra.local.dev import ROOT, stage_environment

START_TIMEOUT = 60.0
EXIT_TIMEOUT = 15.0

# On a closed network Chromium otherwise keeps trying (and failing) to reach
# Google's hosts. Playwright gives every launch a fresh, empty user data dir.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class StackError(RuntimeError):
    """The stack did not come up (or exited); carries the end of its log."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stack_environment(
    api_port: int, moto_port: int, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """This process's environment minus anything that would steer the stack elsewhere."""
    steering = set(stage_environment()) | {"AWS_PROFILE", "PORT", "MOTO_PORT", "MAILBOX_PORT"}
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("AWS_ENDPOINT_URL") and name not in steering
    }
    env.update(
        PORT=str(api_port),
        MOTO_PORT=str(moto_port),
        MAILBOX_PORT="0",  # any free port: PORT + 2 may be taken
        PYTHONUNBUFFERED="1",
        PYTHONUTF8="1",
    )
    env.update(extra or {})
    return env


def healthy(api: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api}/health", timeout=2) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.HTTPError):
        return False


@dataclass
class Launched:
    process: subprocess.Popen[bytes]
    api: str
    moto: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@contextmanager
def launched(
    log_path: Path,
    extra_env: Mapping[str, str] | None = None,
    *,
    start_timeout: float = START_TIMEOUT,
) -> Iterator[Launched]:
    """Start the stack, wait for /health (StackError if it exits or never answers), and make
    sure it is gone afterwards (SIGTERM, then SIGKILL)."""
    api_port = free_port()
    moto_port = free_port()
    while moto_port == api_port:
        moto_port = free_port()
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "infra.local.dev"],
            cwd=ROOT,
            env=stack_environment(api_port, moto_port, extra_env),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    stack = Launched(
        process, f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{moto_port}", log_path
    )
    try:
        deadline = time.monotonic() + start_timeout
        while not healthy(stack.api):
            if process.poll() is not None:
                raise StackError(f"the stack exited with {process.returncode}:\n{stack.log()}")
            if time.monotonic() > deadline:
                raise StackError(f"/health did not answer within {start_timeout} s:\n{stack.log()}")
            time.sleep(0.25)
        yield stack
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=EXIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=EXIT_TIMEOUT)
