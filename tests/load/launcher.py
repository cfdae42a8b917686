"""`python -m tests.load.launcher`: the `make dev` stack (infra.local.dev), tuned so load reaches the app.

chalice local listens with Python's default backlog of 5: the kernel resets
connections beyond that before the API sees them (API Gateway has no such
limit). Raised here to LISTEN_BACKLOG. chalice local also gives every
request the source address 127.0.0.1; here it is the connection's own peer
address, as API Gateway's `sourceIp` is, so clients that connect from
127.0.0.2, 127.0.0.3, ... are distinct clients to the per-client rate limit.

With LOAD_SES_FAULT_FILE set, moto's SES refuses a random LOAD_SES_FAULT_RATE
of sends with a 429 TooManyRequestsException (an error the outbox retries)
for as long as that file exists: the test deletes it when its clients are
done, and SES "recovers". Every send and every refusal is counted in
LOAD_SES_STATS_FILE (JSON), rewritten after each send.

Everything else is infra.local.dev unchanged: moto in-process
(infra/local/moto_patches.py), chalice local, the outbox drain.
"""

from __future__ import annotations

import json
import os
import random
import sys
import threading
from pathlib import Path
from typing import Any

LISTEN_BACKLOG = 1024
DEFAULT_FAULT_RATE = 0.3


def raise_listen_backlog() -> None:
    import chalice.local

    chalice.local.ThreadedHTTPServer.request_queue_size = LISTEN_BACKLOG


def source_ip_from_the_connection() -> None:
    """`requestContext.identity.sourceIp` is the peer's address, not always 127.0.0.1."""
    import chalice.local

    peer = threading.local()
    handler = chalice.local.ChaliceRequestHandler
    converter = chalice.local.LambdaEventConverter
    original_handle = handler.handle
    original_event = converter.create_lambda_event

    def handle(self: Any) -> None:
        # ThreadedHTTPServer serves each connection in its own thread.
        peer.address = self.client_address[0]
        original_handle(self)

    def create_lambda_event(self: Any, *args: Any, **kwargs: Any) -> Any:
        event = original_event(self, *args, **kwargs)
        address = getattr(peer, "address", None)
        if address:
            event["requestContext"]["identity"]["sourceIp"] = address
        return event

    handler.handle = handle  # type: ignore[method-assign]
    converter.create_lambda_event = create_lambda_event  # type: ignore[method-assign]


class SesFaults:
    """Refuses a random `rate` of moto's SES sends while `switch` exists; counts every send."""

    def __init__(self, switch: Path, stats: Path, rate: float, seed: int | None = None) -> None:
        self.switch = switch
        self.stats = stats
        self.rate = rate
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.attempted = 0
        self.refused = 0

    def refuse_now(self) -> bool:
        with self._lock:
            self.attempted += 1
            refuse = self.switch.exists() and self._random.random() < self.rate
            if refuse:
                self.refused += 1
            counts = {"attempted": self.attempted, "refused": self.refused}
            scratch = self.stats.with_suffix(".tmp")
            scratch.write_text(json.dumps(counts), encoding="utf-8")
            scratch.replace(self.stats)
            return refuse

    def install(self) -> None:
        from moto.core.exceptions import JsonRESTError
        from moto.sesv2.models import SESV2Backend

        original = SESV2Backend.send_raw_email
        faults = self

        def send_raw_email(backend: Any, *args: Any, **kwargs: Any) -> Any:
            if faults.refuse_now():
                error = JsonRESTError(
                    "TooManyRequestsException", "Maximum sending rate exceeded (injected)"
                )
                error.code = 429
                raise error
            return original(backend, *args, **kwargs)

        SESV2Backend.send_raw_email = send_raw_email  # type: ignore[method-assign]


def install_ses_faults(environ: dict[str, str] | os._Environ[str]) -> SesFaults | None:
    switch = environ.get("LOAD_SES_FAULT_FILE")
    if not switch:
        return None
    faults = SesFaults(
        Path(switch),
        Path(environ["LOAD_SES_STATS_FILE"]),
        float(environ.get("LOAD_SES_FAULT_RATE") or DEFAULT_FAULT_RATE),
    )
    faults.install()
    return faults


def main() -> int:
    raise_listen_backlog()
    source_ip_from_the_connection()
    install_ses_faults(os.environ)
    from infra.local.dev import main as dev_main

    return dev_main()


if __name__ == "__main__":
    sys.exit(main())
