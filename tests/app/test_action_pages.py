"""Every branch of every action-link page renders: GET, HEAD and POST, for each outcome.

A page that fails to render is a 500 to the person who clicked (the
not-found branch once was: a template variable missing). Each branch below
is reached through the routes, on real cases and real signed links; the
last test checks that every `except` of the two views has a branch here.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib import runtime
from chalicelib.core import actiontoken
from chalicelib.core.actiontoken import link_for
from chalicelib.core.errors import StoreBusy, VersionConflict
from chalicelib.core.lifecycle import Action
from chalicelib.runtime import get_settings
from infra.local.demo_roster import seed
from tests.conftest import ROOT, valid_payload

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
STAFF_A = "staff-a@dx-desk.example.jp"
EXPERT = "advisor-a"
EXPERT_MAIL = "advisor-a@example.com"
OTHER_EXPERT = "advisor-b"
NEVER_STORED = "DX-261126-482175"
NOTHING_CHANGED = "何も変更されていません"


def submit(client: Any, email: str) -> str:
    response = client.http.post(
        "/consultations",
        headers={"Content-Type": "application/json"},
        body=json.dumps(valid_payload(email=email)),
    )
    assert response.status_code == 201
    return str(response.json_body["receipt_number"])


def link(
    action: Action,
    receipt: str,
    *,
    recipient: str = STAFF_A,
    expert_id: str | None = None,
    serial: int | None = None,
) -> str:
    url = link_for(
        get_settings(),
        action=action,
        receipt_number=receipt,
        recipient=recipient,
        now=runtime.now(),
        expert_id=expert_id,
        serial=serial,
    )
    return "/actions/" + url.rsplit("/", 1)[1]


def expired(receipt: str) -> str:
    key_id, keys = get_settings().link_keys()
    token = actiontoken.sign(
        keys,
        key_id,
        purpose="case:take",
        receipt_number=receipt,
        recipient=actiontoken.recipient_id(STAFF_A, keys[key_id]),
        expires_at=int((runtime.now() - timedelta(minutes=1)).timestamp()),
    )
    return f"/actions/{token}"


def press(client: Any, path: str, body: str = "") -> Any:
    response = client.http.post(path, headers=FORM, body=body)
    assert response.status_code == 200, response.body.decode()
    return response


@dataclass
class Cases:
    received: str  # fresh, untouched
    matching: str  # OTHER_EXPERT asked, EXPERT not yet
    in_progress: str  # EXPERT accepted: session links work
    erased: str  # the requester's personal data erased
    take: str = ""  # one link to take `received`: shown, pressed, then pressed again


@pytest.fixture
def cases(client: Any, admin_headers: dict[str, str]) -> Cases:
    seed(boto3.client("dynamodb"), get_settings().table_name)
    found = Cases(*(submit(client, f"requester-{n}@example.com") for n in range(4)))
    for receipt in (found.matching, found.in_progress):
        press(client, link(Action.START_HEARING, receipt))
        press(client, link(Action.START_MATCHING, receipt))
    press(client, link(Action.ASK_EXPERT, found.matching, expert_id=OTHER_EXPERT))
    press(client, link(Action.ASK_EXPERT, found.in_progress, expert_id=EXPERT))
    accept = link(
        Action.EXPERT_ACCEPTED, found.in_progress, recipient=EXPERT_MAIL, expert_id=EXPERT
    )
    press(client, accept)
    erase = client.http.post(
        "/admin/requesters/erase",
        headers=admin_headers,
        body=json.dumps({"receipt_number": found.erased, "confirm": True}),
    )
    assert erase.status_code == 200, erase.body
    found.take = link(Action.TAKE, found.received)
    return found


class FailingWrites:
    """The real case store, whose writes fail as DynamoDB can make them fail."""

    def __init__(self, store: Any, error: Exception) -> None:
        self._store = store
        self._error = error

    def apply_change(self, *args: Any, **kwargs: Any) -> Any:
        raise self._error

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


class FailingReads(FailingWrites):
    def get_case(self, *args: Any, **kwargs: Any) -> Any:
        raise self._error


@dataclass(frozen=True)
class Branch:
    method: str
    path: Callable[[Cases], str]
    status: int
    shows: str  # a phrase the page must show
    handles: str = ""  # the exception the view turns into this page ("" : no exception)
    body: str = ""
    headers: dict[str, str] | None = None
    store: Callable[[Any], Any] | None = None  # wraps the case store for this call


def session(c: Cases) -> str:
    return link(
        Action.RECORD_SESSION, c.in_progress, recipient=EXPERT_MAIL, expert_id=EXPERT, serial=1
    )


def accept_asked(c: Cases) -> str:
    return link(
        Action.EXPERT_ACCEPTED,
        c.matching,
        recipient="advisor-b@example.com",
        expert_id=OTHER_EXPERT,
    )


GOOD_SESSION = "session_date=2026-11-20&session_format=online&report=%E5%8A%A9%E8%A8%80"
# In order: some branches use a link an earlier branch used.
BRANCHES: dict[str, Branch] = {
    # GET / HEAD: the confirmation page and its refusals
    "confirm: staff": Branch("GET", lambda c: c.take, 200, "として「担当する」を実行します"),
    "confirm: ask an expert": Branch(
        "GET", lambda c: link(Action.ASK_EXPERT, c.matching, expert_id=EXPERT), 200, "に依頼する"
    ),
    "confirm: expert asked": Branch("GET", accept_asked, 200, "ご相談の内容"),
    "confirm: session form": Branch("GET", session, 200, "相談した日"),
    "confirm: no longer applies": Branch(
        "GET", lambda c: link(Action.CLOSE, c.received), 200, "この案件は現在「受付」のため"
    ),
    "confirm: erased, staff": Branch("GET", lambda c: link(Action.TAKE, c.erased), 200, "消去済み"),
    "confirm: erased, expert": Branch(
        "GET",
        lambda c: link(Action.EXPERT_ACCEPTED, c.erased, recipient=EXPERT_MAIL, expert_id=EXPERT),
        200,
        "ご相談の内容は消去されています",
    ),
    "confirm: expired": Branch(
        "GET", lambda c: expired(c.received), 410, NOTHING_CHANGED, "TokenRefused"
    ),
    "confirm: tampered": Branch(
        "GET",
        lambda c: link(Action.TAKE, c.received)[:-3] + "AAA",
        404,
        NOTHING_CHANGED,
        "TokenRefused",
    ),
    "confirm: no such case": Branch(
        "GET", lambda c: link(Action.TAKE, NEVER_STORED), 404, NOTHING_CHANGED, "CaseNotFound"
    ),
    "confirm: busy": Branch(
        "GET",
        lambda c: link(Action.TAKE, c.received),
        503,
        NOTHING_CHANGED,
        "StoreBusy",
        store=lambda s: FailingReads(s, StoreBusy()),
    ),
    "head: confirm": Branch("HEAD", lambda c: c.take, 200, ""),
    "head: expired": Branch("HEAD", lambda c: expired(c.received), 410, ""),
    "head: tampered": Branch("HEAD", lambda c: link(Action.TAKE, c.received)[:-3] + "AAA", 404, ""),
    "head: no such case": Branch("HEAD", lambda c: link(Action.TAKE, NEVER_STORED), 404, ""),
    "head: erased": Branch("HEAD", lambda c: link(Action.TAKE, c.erased), 200, ""),
    # POST: the button
    "post: done": Branch("POST", lambda c: c.take, 200, "「担当する」を実行しました"),
    "post: used": Branch("POST", lambda c: c.take, 409, "すでに使われています", "LinkAlreadyUsed"),
    "confirm: used": Branch("GET", lambda c: c.take, 200, "このリンクはすでに使われています"),
    "post: session recorded": Branch("POST", session, 200, "を実行しました", body=GOOD_SESSION),
    "post: session incomplete": Branch(
        "POST",
        lambda c: link(
            Action.RECORD_SESSION, c.in_progress, recipient=EXPERT_MAIL, expert_id=EXPERT, serial=2
        ),
        422,
        NOTHING_CHANGED,
        "SessionInputInvalid",
        body="session_date=someday",
    ),
    "post: no longer applies": Branch(
        "POST",
        lambda c: link(Action.CLOSE, c.received),
        409,
        "この操作はできません",
        "IllegalTransition",
    ),
    "post: erased": Branch(
        "POST", lambda c: link(Action.TAKE, c.erased), 409, "消去済み", "IllegalTransition"
    ),
    "post: conflict": Branch(
        "POST",
        lambda c: link(Action.START_HEARING, c.received),
        409,
        NOTHING_CHANGED,
        "VersionConflict",
        store=lambda s: FailingWrites(s, VersionConflict()),
    ),
    "post: busy": Branch(
        "POST",
        lambda c: link(Action.START_HEARING, c.received),
        503,
        NOTHING_CHANGED,
        "StoreBusy",
        store=lambda s: FailingWrites(s, StoreBusy()),
    ),
    "post: foreign origin": Branch(
        "POST",
        lambda c: link(Action.START_HEARING, c.received),
        403,
        NOTHING_CHANGED,
        "OriginNotAllowed",
        headers={"Origin": "https://evil.example"},
    ),
    "post: too large": Branch(
        "POST",
        lambda c: link(Action.START_HEARING, c.received),
        403,
        NOTHING_CHANGED,
        "BodyTooLarge",
        body="note=" + "x" * 140_000,  # over MAX_BODY_BYTES (128 KiB)
    ),
    "post: expired": Branch(
        "POST", lambda c: expired(c.received), 410, NOTHING_CHANGED, "TokenRefused"
    ),
    "post: tampered": Branch(
        "POST",
        lambda c: link(Action.TAKE, c.matching)[:-3] + "AAA",
        404,
        NOTHING_CHANGED,
        "TokenRefused",
    ),
    "post: no such case": Branch(
        "POST", lambda c: link(Action.TAKE, NEVER_STORED), 404, NOTHING_CHANGED, "CaseNotFound"
    ),
}


def call(client: Any, branch: Branch, cases: Cases) -> Any:
    path = branch.path(cases)
    if branch.method == "POST":
        return client.http.post(path, headers={**FORM, **(branch.headers or {})}, body=branch.body)
    return getattr(client.http, branch.method.lower())(path)


def test_every_branch_of_every_action_page_renders(
    client: Any, cases: Cases, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_store = runtime.case_store
    problems = []
    for name, branch in BRANCHES.items():
        if branch.store is not None:
            wrap = branch.store
            monkeypatch.setattr(runtime, "case_store", lambda wrap=wrap: wrap(real_store()))
        response = call(client, branch, cases)
        monkeypatch.setattr(runtime, "case_store", real_store)
        body = response.body.decode() if response.body else ""
        found = []
        if response.status_code != branch.status:
            found.append(f"status {response.status_code}, not {branch.status}")
        if not response.headers.get("Content-Type", "").startswith("text/html"):
            found.append(f"Content-Type {response.headers.get('Content-Type')!r}")
        if branch.method == "HEAD":
            if body:
                found.append("HEAD with a body")
        else:
            if "<h1>" not in body or "DX相談窓口" not in body:
                found.append("not a whole page")
            if branch.shows not in body:
                found.append(f"does not show {branch.shows!r}")
        problems += [f"{name}: {problem}" for problem in found]
    assert problems == []


def handled_exceptions() -> set[str]:
    """Every exception the action-link views turn into a page (read from the source)."""
    tree = ast.parse(Path(ROOT / "chalicelib/links/routes.py").read_text(encoding="utf-8"))
    names: set[str] = set()
    for view in ("show_action", "do_action"):
        function = next(
            node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == view
        )
        for node in ast.walk(function):
            if isinstance(node, ast.ExceptHandler) and node.type is not None:
                kinds = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
                names |= {ast.unparse(kind).rpartition(".")[2] for kind in kinds}
    return names


def test_every_handled_exception_has_a_branch_that_renders_it() -> None:
    covered = {branch.handles for branch in BRANCHES.values()}
    assert handled_exceptions() <= covered
    assert handled_exceptions() >= {"TokenRefused", "CaseNotFound", "StoreBusy"}
