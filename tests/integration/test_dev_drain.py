"""The dev stack's outbox drain (infra/local/dev.py) runs as soon as something is written, not a second later."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from infra.local import dev


@pytest.fixture
def sweeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """When each sweep ran (the real sweep replaced by a recorder)."""
    import chalicelib.outbox.handler

    times: list[float] = []

    def sweep_once() -> dict[str, int]:
        times.append(time.monotonic())
        return {"sent": 0}

    monkeypatch.setattr(chalicelib.outbox.handler, "sweep_once", sweep_once)
    return times


@pytest.fixture
def wake() -> Iterator[threading.Event]:
    import boto3

    event = threading.Event()
    dev.wake_on_writes(event, "outbox-drain")
    yield event
    boto3._get_default_session()._session.unregister(
        "after-call.dynamodb", unique_id=dev.WAKE_HANDLER_ID
    )


def wait_for(condition: Any, seconds: float = 2.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return bool(condition())


def test_a_wake_sweeps_at_once_and_stop_ends_the_drain(sweeps: list[float]) -> None:
    stop, wake = threading.Event(), threading.Event()
    drain = threading.Thread(target=dev.drain_outbox, args=(stop, 60.0, wake))
    drain.start()
    try:
        time.sleep(0.1)
        assert sweeps == []  # the 60 s interval has not passed
        woken = time.monotonic()
        wake.set()
        assert wait_for(lambda: len(sweeps) == 1)
        assert sweeps[0] - woken < 0.5
        wake.set()
        assert wait_for(lambda: len(sweeps) == 2)
    finally:
        stop.set()
        wake.set()
        drain.join(timeout=5)
    assert not drain.is_alive()
    assert len(sweeps) == 2  # stopping does not sweep again


def test_the_interval_still_sweeps_without_writes(sweeps: list[float]) -> None:
    stop = threading.Event()
    drain = threading.Thread(target=dev.drain_outbox, args=(stop, 0.05, threading.Event()))
    drain.start()
    try:
        assert wait_for(lambda: len(sweeps) >= 3)
    finally:
        stop.set()
        drain.join(timeout=5)


def test_dynamodb_writes_wake_the_drain_but_reads_and_its_own_writes_do_not(
    aws: dict[str, Any], wake: threading.Event
) -> None:
    import boto3

    table = aws["env"]["TABLE_NAME"]
    client = boto3.client("dynamodb")  # built after the handler, as runtime.py builds its own
    key = {"pk": {"S": "wake-test"}, "sk": {"S": "X"}}

    client.get_item(TableName=table, Key=key)
    assert not wake.is_set()

    own = threading.Thread(
        target=client.put_item, kwargs={"TableName": table, "Item": key}, name="outbox-drain"
    )
    own.start()
    own.join()
    assert not wake.is_set()

    client.transact_write_items(TransactItems=[{"Put": {"TableName": table, "Item": key}}])
    assert wake.is_set()
