"""`python -m tests.load.launcher`: the `make dev` stack (infra.local.dev), tuned so load reaches the app.

chalice local listens with Python's default backlog of 5: the kernel resets
connections beyond that before the API sees them (API Gateway has no such
limit). Raised here to LISTEN_BACKLOG. Everything else is infra.local.dev
unchanged: moto in-process (infra/local/moto_patches.py), chalice local, the
outbox drain.
"""

from __future__ import annotations

import sys

LISTEN_BACKLOG = 1024


def raise_listen_backlog() -> None:
    import chalice.local

    chalice.local.ThreadedHTTPServer.request_queue_size = LISTEN_BACKLOG


def main() -> int:
    raise_listen_backlog()
    from infra.local.dev import main as dev_main

    return dev_main()


if __name__ == "__main__":
    sys.exit(main())
