"""Parallel requests on one case through the HTTP routes: one wins, every other caller is told.

tests/app/test_action_links.py proves the same rules at the service level
(ten threads calling act_by_link, a stale read forced by hand); here real
route calls race each other in threads and the pages they get back are
checked, not only the stored case.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from typing import Any

import pytest

from chalicelib import runtime
from chalicelib.core.actiontoken import link_for
from chalicelib.core.lifecycle import Action
from chalicelib.outbox.handler import sweep_once
from chalicelib.runtime import get_settings
from tests.conftest import ROOT, valid_payload

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
JSON = {"Content-Type": "application/json"}
PARALLEL = 10


@pytest.fixture
def threaded_client(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """chalice.test.Client made safe for calls from several threads.

    Two process-wide shortcuts of the test client would mix requests up:
    it swaps os.environ for the stage's variables around each call (the
    `aws` fixture has set the same variables already, so the swap is
    dropped), and Chalice keeps the current request on the app object (in
    Lambda one process serves one request at a time; here each thread
    gets its own).
    """
    from chalice.app import Chalice
    from chalice.test import BaseClient, Client

    from app import app

    monkeypatch.setattr(BaseClient, "_patched_env_vars", lambda self, env: nullcontext())
    local = threading.local()
    monkeypatch.setattr(
        Chalice,
        "current_request",
        property(
            lambda self: getattr(local, "request", None),
            lambda self, request: setattr(local, "request", request),
        ),
        raising=False,
    )
    with Client(app, project_dir=str(ROOT), stage_name="local") as client:
        yield client


def at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run every call in its own thread, all released together; results in order."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def submit(client: Any, **overrides: Any) -> str:
    response = client.http.post(
        "/consultations", headers=JSON, body=json.dumps(valid_payload(**overrides))
    )
    assert response.status_code == 201
    return str(response.json_body["receipt_number"])


def link(receipt: str, action: Action, staff: str) -> str:
    url = link_for(
        get_settings(), action=action, receipt_number=receipt, recipient=staff, now=runtime.now()
    )
    return "/actions/" + url.rsplit("/", 1)[1]


def items(receipt: str, kind: str) -> list[dict[str, Any]]:
    return [i for i in runtime.case_store().case_items(receipt) if i["kind"] == kind]


def case(receipt: str) -> dict[str, Any]:
    found = runtime.case_store().get_case(receipt)
    assert found is not None
    return found


def text(response: Any) -> str:
    """The visible words of a page (tags dropped)."""
    return re.sub(r"<[^>]+>", " ", response.body.decode("utf-8"))


def test_ten_parallel_posts_of_one_link_change_once_and_the_rest_see_the_outcome(
    threaded_client: Any, mailbox: Any
) -> None:
    receipt = submit(threaded_client)
    sweep_once()
    mail = next(m for m in mailbox() if m["To"] == "staff-b@dx-desk.example.jp")
    body = mail.get_body(("plain",))
    assert body is not None
    path = dict(re.findall(r"・(\S+)\n\s+http://desk\.test(/actions/\S+)", body.get_content()))[
        "ヒアリングを開始する"
    ]
    messages_before = len(items(receipt, "message"))

    responses = at_once([lambda: threaded_client.http.post(path, headers=FORM, body="")] * PARALLEL)

    statuses = Counter(r.status_code for r in responses)
    assert statuses == Counter({200: 1, 409: PARALLEL - 1})
    for response in responses:
        page = text(response)
        if response.status_code == 200:
            assert "「ヒアリングを開始する」を実行しました" in page
        else:
            assert "このリンクはすでに使われています" in page
            # Told what happened, by whom, and that nothing more changed.
            assert "「ヒアリングを開始する」は staff-b@dx-desk.example.jp さんが実行済み" in page
            assert "重ねて変更はしていません" in page
        assert response.headers["Cache-Control"] == "no-store"
    after = case(receipt)
    assert after["status"] == "hearing"
    assert after["version"] == 2
    assert len(items(receipt, "event")) == 1
    assert len(items(receipt, "message")) == messages_before  # this action sends no mail


def test_ten_parallel_posts_of_a_link_that_sends_mail_send_it_once(
    threaded_client: Any, mailbox: Any
) -> None:
    staff = "staff-a@dx-desk.example.jp"
    receipt = submit(threaded_client)
    hearing = link(receipt, Action.START_HEARING, staff)
    assert threaded_client.http.post(hearing, headers=FORM, body="").status_code == 200
    sweep_once()
    before = Counter(m["To"] for m in mailbox())
    matching = link(receipt, Action.START_MATCHING, staff)

    responses = at_once(
        [lambda: threaded_client.http.post(matching, headers=FORM, body="")] * PARALLEL
    )

    assert Counter(r.status_code for r in responses) == Counter({200: 1, 409: PARALLEL - 1})
    assert case(receipt)["status"] == "matching" and case(receipt)["version"] == 3
    assert [e["action"] for e in items(receipt, "event")].count("start_matching") == 1
    sweep_once()
    sent = Counter(m["To"] for m in mailbox()) - before
    assert sent == Counter({staff: 1})  # the expert suggestions, once


class RaceAfterRead:
    """The case store, but the first `parties` reads of the case wait for each other.

    Both requests then hold the same version of the case when they write:
    the read-then-write race that optimistic locking must settle.
    """

    def __init__(self, store: Any, parties: int) -> None:
        self._store = store
        self._barrier = threading.Barrier(parties, timeout=10)
        self._waiting = parties
        self._lock = threading.Lock()

    def get_case(self, *args: Any, **kwargs: Any) -> Any:
        found = self._store.get_case(*args, **kwargs)
        with self._lock:
            wait = self._waiting > 0
            self._waiting -= 1
        if wait:
            self._barrier.wait()
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


CONFLICTS = [
    # (staff A's action, staff B's action): both apply to a new case, but not one after the other.
    (Action.START_HEARING, Action.MARK_SPAM),
    (Action.TAKE, Action.TAKE),
    (Action.REFER, Action.WITHDRAW),
]


@pytest.mark.parametrize(("first", "second"), CONFLICTS)
def test_two_staff_acting_at_once_one_wins_and_the_other_is_told_nothing_changed(
    threaded_client: Any, monkeypatch: pytest.MonkeyPatch, first: Action, second: Action
) -> None:
    receipt = submit(threaded_client)
    a = link(receipt, first, "staff-a@dx-desk.example.jp")
    b = link(receipt, second, "staff-b@dx-desk.example.jp")
    real_store = runtime.case_store
    racing = RaceAfterRead(real_store(), parties=2)
    monkeypatch.setattr(runtime, "case_store", lambda: racing)

    responses = at_once(
        [
            lambda: threaded_client.http.post(a, headers=FORM, body=""),
            lambda: threaded_client.http.post(b, headers=FORM, body=""),
        ]
    )

    monkeypatch.setattr(runtime, "case_store", real_store)
    assert sorted(r.status_code for r in responses) == [200, 409]
    winner = 0 if responses[0].status_code == 200 else 1
    loser = text(responses[1 - winner])
    assert "ほかの方が先にこの案件を更新しました" in loser
    assert "何も変更されていません" in loser
    after = case(receipt)
    assert after["version"] == 2
    (event,) = items(receipt, "event")
    assert event["action"] == (first, second)[winner].value
    assert event["actor"] == ("staff-a@dx-desk.example.jp", "staff-b@dx-desk.example.jp")[winner]


def test_two_staff_pressing_at_the_same_moment_never_both_change_the_case(
    threaded_client: Any,
) -> None:
    """Unforced timing, several rounds: whoever comes second is refused with a 409 page."""
    for round_number in range(5):
        receipt = submit(threaded_client, email=f"race-{round_number}@example.com")
        a = link(receipt, Action.START_HEARING, "staff-a@dx-desk.example.jp")
        b = link(receipt, Action.MARK_SPAM, "staff-b@dx-desk.example.jp")
        responses = at_once(
            [
                lambda a=a: threaded_client.http.post(a, headers=FORM, body=""),
                lambda b=b: threaded_client.http.post(b, headers=FORM, body=""),
            ]
        )
        assert sorted(r.status_code for r in responses) == [200, 409]
        loser = text(next(r for r in responses if r.status_code == 409))
        # Read before the winner wrote: a version conflict; after: the action no longer applies.
        assert "ほかの方が先にこの案件を更新しました" in loser or "はできません" in loser
        after = case(receipt)
        assert after["version"] == 2 and after["status"] in ("hearing", "spam")
        assert len(items(receipt, "event")) == 1


def test_ten_parallel_identical_submissions_get_one_receipt_and_one_case(
    threaded_client: Any, aws: dict[str, Any], mailbox: Any
) -> None:
    """A double (or tenfold) click: every answer names the same receipt number."""
    body = json.dumps(valid_payload())
    responses = at_once(
        [lambda: threaded_client.http.post("/consultations", headers=JSON, body=body)] * PARALLEL
    )
    assert [r.status_code for r in responses] == [201] * PARALLEL
    receipts = {r.json_body["receipt_number"] for r in responses}
    assert len(receipts) == 1
    replayed = [r.headers.get("Idempotent-Replayed") for r in responses]
    assert replayed.count("true") == PARALLEL - 1
    stored = aws["dynamodb"].scan(TableName=aws["env"]["TABLE_NAME"])["Items"]
    assert [i["receipt_number"]["S"] for i in stored if i["kind"]["S"] == "case"] == [*receipts]
    sweep_once()
    assert len(mailbox()) == 3
