"""/admin/cases: paged lists by index (never a Scan), one case's history, audited actions, suggestions."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest

from chalicelib import runtime
from chalicelib.core import access as admin
from chalicelib.core import case_admin as cases_admin
from chalicelib.core.actiontoken import link_for
from chalicelib.core.errors import StoreBusy, VersionConflict
from chalicelib.core.lifecycle import Action
from chalicelib.core.receipt import JST
from chalicelib.core.timefmt import iso
from chalicelib.outbox.handler import sweep_once
from chalicelib.runtime import get_settings
from infra.local.demo_roster import seed
from tests.conftest import valid_payload

STAFF_A = "staff-a@dx-desk.example.jp"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class Clock:
    """The app's clock (runtime.now), moved by the test: cases get known times."""

    def __init__(self, start: datetime) -> None:
        self.moment = start

    def __call__(self) -> datetime:
        return self.moment

    def set(self, moment: datetime) -> None:
        self.moment = moment

    def tick(self) -> None:
        """A minute later: each action gets its own time, so timelines have one order."""
        self.moment += timedelta(minutes=1)


def jst(day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=JST)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    found = Clock(jst(2))
    monkeypatch.setattr(runtime, "now", found)
    return found


@pytest.fixture
def roster(aws: dict[str, Any]) -> None:
    seed(boto3.client("dynamodb"), aws["env"]["TABLE_NAME"])


def submit(client: Any, **overrides: Any) -> str:
    overrides.setdefault("email", f"requester-{uuid.uuid4().hex[:8]}@example.com")
    response = client.http.post(
        "/consultations",
        headers={"Content-Type": "application/json"},
        body=json.dumps(valid_payload(**overrides)),
    )
    assert response.status_code == 201, response.body
    return str(response.json_body["receipt_number"])


def act(client: Any, headers: dict[str, str], receipt: str, action: str, **body: Any) -> Any:
    if isinstance(runtime.now, Clock):
        runtime.now.tick()
    if "version" not in body:
        body["version"] = version_of(receipt)
    return client.http.post(
        f"/admin/cases/{receipt}/actions/{action}", headers=headers, body=json.dumps(body)
    )


def version_of(receipt: str) -> int:
    case = runtime.case_store().get_case(receipt)
    assert case is not None
    return int(case["version"])


def listing(client: Any, headers: dict[str, str], query: str) -> Any:
    return client.http.get(f"/admin/cases?{query}", headers=headers)


def walk(client: Any, headers: dict[str, str], query: str) -> tuple[list[str], int]:
    """Every receipt a paged list returns, in order, and how many pages it took."""
    receipts: list[str] = []
    pages = 0
    cursor = None
    while True:
        suffix = f"&next={cursor}" if cursor else ""
        response = listing(client, headers, query + suffix)
        assert response.status_code == 200, response.body
        pages += 1
        receipts += [row["receipt_number"] for row in response.json_body["cases"]]
        cursor = response.json_body["next"]
        if cursor is None:
            return receipts, pages


def test_list_pages_through_every_case_newest_first_without_personal_data(
    client: Any, staff_headers: dict[str, str], clock: Clock
) -> None:
    submitted = []
    for day in (2, 4, 6, 9, 10):
        clock.set(jst(day))
        submitted.append(
            submit(
                client,
                name=f"相談者{day}",
                phone=f"059-000-00{day:02d}",
                message=f"相談内容その{day}です。",
            )
        )
    receipts, pages = walk(client, staff_headers, "limit=2")
    assert receipts == list(reversed(submitted))
    assert pages == 3

    oldest, _ = walk(client, staff_headers, "limit=3&order=oldest")
    assert oldest == submitted

    page = listing(client, staff_headers, "limit=5").json_body
    text = json.dumps(page, ensure_ascii=False)
    for day in (2, 4, 6, 9, 10):
        assert f"相談者{day}" not in text
        assert f"05900000{day:02d}" not in text
        assert f"相談内容その{day}" not in text
    assert "requester-" not in text
    row = page["cases"][0]
    assert row["organization"] == "株式会社サンプル商事"  # what staff recognise a case by
    assert row["status_label"] == "受付" and row["category_label"] == "働き方・コミュニケーション"
    assert row["sessions_used"] == 0 and row["version"] == 1
    assert {"name", "email", "phone", "message", "name_kana"}.isdisjoint(row)


def test_status_category_and_japan_time_date_filters(
    client: Any, staff_headers: dict[str, str], clock: Clock
) -> None:
    clock.set(jst(2, 23, 30))  # 11/2 late evening in Japan is 11/2 14:30 UTC
    late = submit(client, category="data")
    clock.set(jst(3, 0, 30))  # 11/3 00:30 in Japan is still 11/2 in UTC
    early = submit(client)
    clock.set(jst(5))
    later = submit(client, category="data")
    assert act(client, staff_headers, later, "start_hearing").status_code == 200

    assert walk(client, staff_headers, "status=hearing")[0] == [later]
    assert walk(client, staff_headers, "status=received")[0] == [early, late]
    assert walk(client, staff_headers, "category=data")[0] == [later, late]
    assert walk(client, staff_headers, "status=received&category=data")[0] == [late]
    assert walk(client, staff_headers, "from=2026-11-03&to=2026-11-04")[0] == [early]
    assert walk(client, staff_headers, "to=2026-11-02&from=2026-11-01")[0] == [late]
    assert walk(client, staff_headers, "status=received&from=2026-11-03")[0] == [early]
    assert walk(client, staff_headers, "from=2025-12-01&to=2026-10-31")[0] == []


def test_bad_queries_are_422_and_a_tampered_cursor_is_400(
    client: Any, staff_headers: dict[str, str], clock: Clock
) -> None:
    for day in (2, 3, 4):
        clock.set(jst(day))
        submit(client)
    first = listing(client, staff_headers, "limit=1").json_body
    cursor = first["next"]
    assert cursor
    assert listing(client, staff_headers, f"limit=1&next={cursor}").status_code == 200

    for bad in (
        "from=2024-01-01&to=2026-11-30",  # 35 months without a status
        "from=2026-11-05&to=2026-11-01",
        "status=unknown",
        "limit=0",
        "limit=101",
        "from=2026-13-01",
        "colour=blue",
        "category=DROP%20TABLE",
    ):
        response = listing(client, staff_headers, bad)
        assert response.status_code == 422, bad
        assert response.json_body["error"] == "validation_error"
        assert "blue" not in response.body.decode()

    flipped = cursor[:-3] + ("A" if cursor[-3] != "A" else "B") + cursor[-2:]
    for tampered in (
        flipped,
        cursor + "x",
        "bm90LWEtY3Vyc29y",
        "%20",
    ):
        response = listing(client, staff_headers, f"limit=1&next={tampered}")
        assert response.status_code in (400, 422), tampered
        if response.status_code == 400:
            assert response.json_body["error"] == "invalid_cursor"
    # Forged with the right query fingerprint: a position outside the range is refused,
    # one inside it (even of no existing case) is only a position.
    query = cases_admin.plan(cases_admin.CaseFilter(), clock.moment.date())
    outside = cases_admin.encode_cursor(
        query.fingerprint, 0, ("2020-01-01T00:00:00.000000Z", "DX-261102-000012")
    )
    assert listing(client, staff_headers, f"limit=1&next={outside}").status_code == 400
    inside = cases_admin.encode_cursor(query.fingerprint, 0, (iso(jst(3, 12)), "DX-261102-000012"))
    positioned = listing(client, staff_headers, f"limit=5&next={inside}")
    assert positioned.status_code == 200
    assert len(positioned.json_body["cases"]) == 2  # the cases of 11/3 10:00 and 11/2 before it
    # A cursor is bound to its query: the same cursor with another filter is refused.
    other = listing(client, staff_headers, f"limit=1&status=received&next={cursor}")
    assert other.status_code == 400
    assert other.json_body["message"].startswith("ページの指定")


def test_a_case_reads_with_its_timeline_mail_states_and_expert_assignments(
    client: Any, staff_headers: dict[str, str], clock: Clock, roster: None
) -> None:
    receipt = submit(client)
    sweep_once()
    clock.set(jst(3))
    assert act(client, staff_headers, receipt, "take", owner=STAFF_A).status_code == 200
    assert (
        act(client, staff_headers, receipt, "start_hearing", note="電話で聞き取り").status_code
        == 200
    )
    assert act(client, staff_headers, receipt, "start_matching").status_code == 200
    asked = act(client, staff_headers, receipt, "ask_expert", expert_id="advisor-d")
    assert asked.status_code == 200
    clock.set(jst(4))
    accepted = act(client, staff_headers, receipt, "expert_accepted", expert_id="advisor-d")
    assert accepted.status_code == 200, accepted.body
    assert accepted.json_body["case"]["status"] == "in_progress"

    response = client.http.get(f"/admin/cases/{receipt}", headers=staff_headers)
    assert response.status_code == 200
    detail = response.json_body
    assert detail["case"]["name"] == "相談者A"  # the case view is where staff see the person
    assert detail["case"]["expert_id"] == "advisor-d"
    actions = [e["action"] for e in detail["events"] if e.get("type") == "action"]
    assert actions == ["take", "start_hearing", "start_matching", "ask_expert", "expert_accepted"]
    assert {e["channel"] for e in detail["events"]} == {"admin"}
    assert detail["events"][1]["note"] == "電話で聞き取り"
    assert detail["events"][0]["actor"] == "職員A"
    states = {m["template"]: m["state"] for m in detail["mails"]}
    assert states["intake_ack"] == "SENT"  # sent by the sweep above
    assert states["expert_request"] == "PENDING"
    assert {"intro_requester", "intro_expert", "matching_staff"} <= set(states)
    assert all("context" not in m for m in detail["mails"])
    (assignment,) = detail["assignments"]
    assert assignment["expert_id"] == "advisor-d" and assignment["display_name"] == "アドバイザーD"
    assert assignment["answer"] == "accepted" and assignment["assigned"] is True
    assert assignment["answered_at"] == iso(jst(4, 10, 1))  # each action ticks a minute
    timeline_kinds = [entry["entry"] for entry in detail["timeline"]]
    assert timeline_kinds.count("event") == 5 and timeline_kinds.count("mail") == len(
        detail["mails"]
    )
    assert [a["action"] for a in detail["available_actions"]] == ["take", "close", "withdraw"]

    assert (
        client.http.get("/admin/cases/DX-261102-000012", headers=staff_headers).status_code == 404
    )
    assert client.http.get("/admin/cases/nonsense", headers=staff_headers).status_code == 404


def audit_of_case(client: Any, admin_headers: dict[str, str], receipt: str) -> list[dict[str, Any]]:
    response = client.http.get(f"/admin/audit/case/{receipt}", headers=admin_headers)
    assert response.status_code == 200
    return list(response.json_body["records"])


def test_every_action_is_audited_with_field_names_only(
    client: Any, staff_headers: dict[str, str], admin_headers: dict[str, str], clock: Clock
) -> None:
    receipt = submit(client)
    clock.set(jst(3))
    taken = act(client, staff_headers, receipt, "take", owner=STAFF_A, note="折り返し電話予定")
    assert taken.status_code == 200 and taken.json_body["case"]["owner"] == STAFF_A
    referred = act(client, staff_headers, receipt, "refer", outcome="よろず支援拠点")
    assert referred.json_body["case"]["status"] == "referred"

    records = audit_of_case(client, admin_headers, receipt)
    assert [r["action"] for r in records] == ["case.take", "case.refer"]
    take, refer = records
    assert take["actor"] == "職員A" and take["role"] == "staff"
    # The fields the action changed (names only; milestones the statistics derive are not listed).
    assert take["fields"] == ["owner"]
    assert refer["fields"] == ["outcome", "status"]
    assert refer["detail"] == {"from_status": "received", "to_status": "referred"}
    text = json.dumps(records, ensure_ascii=False)
    assert STAFF_A not in text and "よろず" not in text and "折り返し" not in text
    case = runtime.case_store().get_case(receipt)
    assert case is not None and case["outcome"] == "よろず支援拠点"


def test_a_stale_version_is_409_and_changes_nothing(
    client: Any, staff_headers: dict[str, str], admin_headers: dict[str, str], clock: Clock
) -> None:
    receipt = submit(client)
    read = client.http.get(f"/admin/cases/{receipt}", headers=staff_headers).json_body
    version = read["summary"]["version"]
    first = act(client, staff_headers, receipt, "start_hearing", version=version)
    assert first.status_code == 200
    second = act(client, staff_headers, receipt, "mark_spam", version=version)
    assert second.status_code == 409
    assert second.json_body["error"] == "conflict"
    case = runtime.case_store().get_case(receipt)
    assert case is not None and case["status"] == "hearing"
    assert [r["action"] for r in audit_of_case(client, admin_headers, receipt)] == [
        "case.start_hearing"
    ]


def test_refusals_say_why_in_japanese_and_change_nothing(
    client: Any, staff_headers: dict[str, str], clock: Clock, roster: None
) -> None:
    receipt = submit(client)
    illegal = act(client, staff_headers, receipt, "close")
    assert illegal.status_code == 409
    assert illegal.json_body["error"] == "illegal_transition"
    assert (
        illegal.json_body["message"] == "この案件は現在「受付」のため、「完了にする」はできません。"
    )
    assert act(client, staff_headers, receipt, "record_session").status_code == 404
    assert act(client, staff_headers, receipt, "launch").status_code == 404
    assert act(client, staff_headers, "DX-261102-000012", "take", version=1).status_code == 404
    no_version = client.http.post(
        f"/admin/cases/{receipt}/actions/start_hearing", headers=staff_headers, body="{}"
    )
    assert no_version.status_code == 422
    extra = act(client, staff_headers, receipt, "start_hearing", colour="blue")
    assert extra.status_code == 422
    control = act(client, staff_headers, receipt, "start_hearing", note="a\x1b[31m")
    assert control.status_code == 422
    assert act(client, staff_headers, receipt, "start_hearing").status_code == 200
    assert act(client, staff_headers, receipt, "start_matching").status_code == 200
    missing = act(client, staff_headers, receipt, "ask_expert")
    assert missing.status_code == 422 and missing.json_body["errors"][0]["field"] == "expert_id"
    unknown = act(client, staff_headers, receipt, "ask_expert", expert_id="advisor-zz")
    assert unknown.status_code == 422
    # An expert's answer is recorded only for an expert the desk asked.
    not_asked = act(client, staff_headers, receipt, "expert_accepted", expert_id="advisor-d")
    assert not_asked.status_code == 409
    case = runtime.case_store().get_case(receipt)
    assert case is not None and case["status"] == "matching" and "expert_id" not in case


def test_take_needs_a_desk_address_and_defaults_to_the_callers_own(
    client: Any, staff_headers: dict[str, str], admin_headers: dict[str, str], clock: Clock
) -> None:
    receipt = submit(client)
    nobody = act(client, staff_headers, receipt, "take")
    assert nobody.status_code == 422 and nobody.json_body["errors"][0]["field"] == "owner"
    stranger = act(client, staff_headers, receipt, "take", owner="someone@example.com")
    assert stranger.status_code == 422
    member = {
        "staff_id": "staff-a",
        "display_name": "職員A",  # the staff token's actor label
        "email": STAFF_A,
    }
    assert client.http.post(
        "/admin/staff", headers=admin_headers, body=json.dumps(member)
    ).status_code in (200, 201)
    runtime.forget_directory()
    taken = act(client, staff_headers, receipt, "take")
    assert taken.status_code == 200, taken.body
    assert taken.json_body["case"]["owner"] == STAFF_A


def test_the_audit_record_and_the_change_are_one_transaction(
    client: Any, staff_headers: dict[str, str], clock: Clock
) -> None:
    receipt = submit(client)
    store = runtime.case_store()
    case = store.get_case(receipt)
    assert case is not None
    actor = admin.Actor(role="staff", actor="職員A", token_id="0b0b0b0b", request_id="r1")
    entry = admin.audit_entry(
        actor, action="case.start_hearing", target_type="case", target_id=receipt, at=jst(2)
    )

    def change(audit: dict[str, Any], version_case: dict[str, Any]) -> dict[str, Any]:
        return store.apply_change(
            version_case,
            changes={"status": "hearing"},
            event={"at": iso(jst(2)), "event_id": uuid.uuid4().hex[:12], "type": "action"},
            messages=[],
            link_use=None,
            mail_expires_at=2**31,
            audit=audit,
            audit_expires=2**31,
        )

    written = change(entry, case)
    # The same audit record again cannot be written: the whole change is refused with it.
    with pytest.raises((StoreBusy, VersionConflict)):
        change(entry, written)
    after = store.get_case(receipt)
    assert after is not None and after["version"] == written["version"]
    counters = store.month_counters("2026-11")
    assert counters["status:hearing"] == 1 and counters["status:received"] == 0


def test_two_staff_acting_at_once_one_wins_the_other_is_told(
    client: Any, staff_headers: dict[str, str], clock: Clock
) -> None:
    receipt = submit(client)
    results: list[str] = []
    actor = admin.Actor(role="staff", actor="職員A", token_id="0b0b0b0b", request_id="r")

    def press(action: str) -> None:
        try:
            cases_admin.act(
                runtime.case_store(),
                runtime.roster_store(),
                actor,
                receipt,
                action,
                cases_admin.ActionInput(version=1, owner=STAFF_A),
                members=[],
                desk=runtime.desk().at(jst(2, 11)),
            )
            results.append("done")
        except VersionConflict:
            results.append("conflict")

    threads = [
        threading.Thread(target=press, args=(name,))
        for name in ("take", "start_hearing", "mark_spam", "refer", "withdraw")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["conflict"] * 4 + ["done"]
    assert version_of(receipt) == 2


def test_admin_actions_and_mail_links_work_on_the_same_case(
    client: Any, staff_headers: dict[str, str], clock: Clock, mailbox: Any, roster: None
) -> None:
    receipt = submit(client)
    assert act(client, staff_headers, receipt, "start_hearing").status_code == 200
    link = link_for(
        get_settings(),
        action=Action.TAKE,
        receipt_number=receipt,
        recipient=STAFF_A,
        now=runtime.now(),
    )
    pressed = client.http.post(link.removeprefix("http://desk.test"), headers=FORM, body="")
    assert pressed.status_code == 200
    case = runtime.case_store().get_case(receipt)
    assert case is not None and case["owner"] == STAFF_A and case["status"] == "hearing"
    again = act(client, staff_headers, receipt, "start_matching")
    assert again.status_code == 200
    # The suggestions mail goes to the owner the link made, as after the 調整開始 link.
    sweep_once()
    assert any(
        m["To"] == STAFF_A and receipt in m["Subject"] and "専門家" in m["Subject"]
        for m in mailbox()
    )


def test_suggestions_rank_with_reasons_like_the_staff_mail_and_say_who_is_left_out(
    client: Any,
    staff_headers: dict[str, str],
    admin_headers: dict[str, str],
    clock: Clock,
    roster: None,
) -> None:
    conflicted = {
        "expert_id": "advisor-x1",
        "kind": "advisor",
        "display_name": "アドバイザーX",
        "categories": ["workstyle"],
        "support_types": ["training", "consultation"],
        "areas": [],
        "online_ok": True,
        "contact_emails": ["advisor-x1@example.com"],
        "capacity": 3,
        "conflicts": ["サンプル商事"],
    }
    created = client.http.post("/admin/experts", headers=admin_headers, body=json.dumps(conflicted))
    assert created.status_code == 201
    receipt = submit(client)  # 株式会社サンプル商事, workstyle, online
    assert act(client, staff_headers, receipt, "take", owner=STAFF_A).status_code == 200
    assert act(client, staff_headers, receipt, "start_hearing").status_code == 200
    assert act(client, staff_headers, receipt, "start_matching").status_code == 200

    first = client.http.get(f"/admin/cases/{receipt}/suggestions", headers=staff_headers)
    assert first.status_code == 200
    again = client.http.get(f"/admin/cases/{receipt}/suggestions", headers=staff_headers)
    assert first.json_body == again.json_body  # deterministic
    found = first.json_body
    ranked = [s["expert_id"] for s in found["suggestions"]]
    assert len(ranked) == 5
    top = found["suggestions"][0]
    assert top["rank"] == 1 and top["score"] >= found["suggestions"][-1]["score"]
    codes = {reason["code"] for reason in top["reasons"]}
    assert {"category_fit", "support_types", "load", "recency"} <= codes
    assert all(reason["ja"] and reason["en"] for reason in top["reasons"])
    excluded = {e["expert_id"]: e["reason"]["code"] for e in found["excluded"]}
    assert excluded["advisor-x1"] == "conflict"
    assert excluded["advisor-m"] == "no_online"  # visits only; the case asks for online

    # The staff mail of 調整開始 carries the same ranking (one function for both).
    mail = next(
        item
        for item in runtime.case_store().case_items(receipt)
        if item.get("kind") == "message" and item.get("template") == "matching_staff"
    )
    assert [s["expert_id"] for s in mail["context"]["suggestions"]] == ranked

    # Asked experts are not suggested again; they are listed as skipped.
    assert act(client, staff_headers, receipt, "ask_expert", expert_id=ranked[0]).status_code == 200
    after = client.http.get(
        f"/admin/cases/{receipt}/suggestions?limit=3", headers=staff_headers
    ).json_body
    assert ranked[0] not in [s["expert_id"] for s in after["suggestions"]]
    assert after["suggestions"][0]["expert_id"] == ranked[1]
    assert len(after["suggestions"]) == 3
    assert after["skipped"] == [
        {
            "expert_id": ranked[0],
            "reason": "asked",
            "label": "依頼済み（回答待ち）",
            "display_name": found["suggestions"][0]["display_name"],
        }
    ]
    assert (
        client.http.get(
            f"/admin/cases/{receipt}/suggestions?limit=99", headers=staff_headers
        ).status_code
        == 422
    )
    assert (
        client.http.get(
            "/admin/cases/DX-261102-000012/suggestions", headers=staff_headers
        ).status_code
        == 404
    )


def test_lists_use_queries_only(client: Any, staff_headers: dict[str, str], clock: Clock) -> None:
    submit(client)
    calls: list[str] = []

    def record(model: Any, **_: Any) -> None:
        calls.append(model.name)

    runtime.dynamodb().meta.events.register("before-call.dynamodb.*", record)
    try:
        assert listing(client, staff_headers, "limit=10").status_code == 200
        assert listing(client, staff_headers, "status=received").status_code == 200
    finally:
        runtime.dynamodb().meta.events.unregister("before-call.dynamodb.*", record)
    assert "Scan" not in calls
    assert set(calls) <= {"Query", "GetItem"}
    # Twelve months by default, one Query each (the month with the case included).
    assert calls.count("Query") >= 12


def test_lists_skip_expired_cases(client: Any, staff_headers: dict[str, str], clock: Clock) -> None:
    receipt = submit(client)
    case = runtime.case_store().get_case(receipt)
    assert case is not None
    clock.set(datetime.fromtimestamp(int(case["expires_at"]) + 60, tz=JST))
    # Five years on, the case's month is outside the default range; ask for it.
    response = listing(client, staff_headers, "status=received")
    assert response.status_code == 200
    assert response.json_body["cases"] == []


def test_the_case_models_declare_every_field_the_api_returns(
    client: Any, staff_headers: dict[str, str]
) -> None:
    from chalicelib.admin.routes.cases import CaseDetail, CasePage

    receipt = submit(client)
    act(client, staff_headers, receipt, "take", owner=STAFF_A)
    listed = client.http.get("/admin/cases?status=received", headers=staff_headers).json_body
    page = CasePage.model_validate(listed)  # extra="forbid": an undeclared field fails
    assert [row.receipt_number for row in page.cases] == [receipt]
    detail = client.http.get(f"/admin/cases/{receipt}", headers=staff_headers).json_body
    typed = CaseDetail.model_validate(detail)
    assert typed.case.owner == STAFF_A and typed.case.status == "received"
    with pytest.raises(ValueError):
        CaseDetail.model_validate({**detail, "case": {**detail["case"], "undeclared": 1}})
