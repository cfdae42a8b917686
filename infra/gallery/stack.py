"""The local stack (`python -m infra.local.dev`) in a child process on free ports, for the gallery."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
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


class StackError(RuntimeError):
    """The stack did not come up; carries the end of its log."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.HTTPError):
        return False


@dataclass(frozen=True)
class Stack:
    api: str
    log_path: Path


def child_environment(api_port: int, moto_port: int, extra: Mapping[str, str]) -> dict[str, str]:
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
        **extra,
    )
    return env


@contextmanager
def running_stack(extra_env: Mapping[str, str]) -> Iterator[Stack]:
    """Start the stack, wait for /health, and make sure it is gone afterwards."""
    api_port = free_port()
    moto_port = free_port()
    while moto_port == api_port:
        moto_port = free_port()
    # The log stays outside the project folder (and is removed with its folder).
    with tempfile.TemporaryDirectory(prefix="dx-desk-gallery-") as folder:
        log_path = Path(folder) / "stack.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                [sys.executable, "-m", "infra.local.dev"],
                cwd=ROOT,
                env=child_environment(api_port, moto_port, extra_env),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        stack = Stack(f"http://127.0.0.1:{api_port}", log_path)
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while not _healthy(stack.api):
                if process.poll() is not None or time.monotonic() > deadline:
                    log = log_path.read_text(encoding="utf-8", errors="replace")[-4000:]
                    raise StackError(f"the local stack did not answer /health:\n{log}")
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
