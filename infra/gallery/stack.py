"""The local stack for the gallery: infra/local/launch.py with its log in a temporary folder."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from infra.local.launch import Launched, StackError, launched

__all__ = ["StackError", "running_stack"]


@contextmanager
def running_stack(extra_env: Mapping[str, str]) -> Iterator[Launched]:
    """Start the stack, wait for /health, and make sure it is gone afterwards."""
    # The log stays outside the project folder (and is removed with its folder).
    with (
        tempfile.TemporaryDirectory(prefix="dx-desk-gallery-") as folder,
        launched(Path(folder) / "stack.log", extra_env) as stack,
    ):
        yield stack
