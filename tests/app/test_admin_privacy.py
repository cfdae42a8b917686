"""Personal data requests: export and erasure of a requester's data through /admin/requesters."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from chalicelib import runtime
from chalicelib.core import privacy as privacy_rules
from chalicelib.core import privacy_admin as privacy
from chalicelib.core.access import Actor
from chalicelib.core.case import OutgoingMessage, month_of
from chalicelib.core.timefmt import iso
from chalicelib.outbox.handler import sweep_once
from chalicelib.runtime import get_settings
from chalicelib.storage.dynamo import from_item
from chalicelib.storage.privacy import PrivacyStore
from tests.conftest import valid_payload

JSON = {"Content-Type": "application/json"}
STAFF = "staff-a@dx-desk.example.jp"

# The requester whose data is asked for (two cases), and someone else (one case).
ASKER = {
    "name": "相談者A",
    "name_kana": "ソウダンシャエー",
    "email": "requester-a@example.com",
    "phone": "059-111-2222",
    "organization": "株式会社サンプル商事",
}
OTHER = {
    "name": "相談者B",
    "name_kana": "ソウダンシャビー",
    "email": "requester-b@example.jp",
    "phone": "059-333-4444",
    "organization": "パートナー企業B",
}
MESSAGES = (
    "社内の紙の申請書を減らしたいです。",
    "職員向けのオンライン会議研修を相談したいです。",
    "データ活用の進め方を知りたいです。",
)
NOTE = "相談者Aさん（株式会社サンプル商事）に電話、059-111-2222 で折り返し"
REPORT = "相談者Aさんと申請書の電子化を相談"
# Everything the asker typed or staff wrote about them, as stored (phone normalised).
ASKER_STRINGS = (
    "相談者A",
    "ソウダンシャエー",
    "requester-a@example.com",
    "0591112222",
    "059-111-2222",
    "株式会社サンプル商事",
    MESSAGES[0],
    MESSAGES[1],
    NOTE,
    REPORT,
)


def submit(client: Any, person: dict[str, str], message: str) -> str:
    body = json.dumps(valid_payload(**person, message=message), ensure_ascii=False)
    response = client.http.post("/consultations", headers=JSON, body=body.encode("utf-8"))
    assert response.status_code == 201, response.body
    return str(response.json_body["receipt_number"])


def partition(aws: dict[str, Any], pk: str) -> list[dict[str, Any]]:
    response = aws["dynamodb"].query(
        TableName=aws["env"]["TABLE_NAME"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
        ConsistentRead=True,
    )
    return [from_item(item) for item in response["Items"]]


def inbound_item(aws: dict[str, Any], ses_id: str) -> dict[str, Any]:
    response = aws["dynamodb"].get_item(
        TableName=aws["env"]["TABLE_NAME"],
        Key={"pk": {"S": f"INBOUND#{ses_id}"}, "sk": {"S": "INBOUND"}},
    )
    return from_item(response["Item"])


def strings_in(value: Any) -> Iterator[str]:
    """Every string anywhere in a stored value (attribute names too)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield str(key)
            yield from strings_in(inner)
    elif isinstance(value, list | set | tuple):
        for inner in value:
            yield from strings_in(inner)


def leaks(items: list[dict[str, Any]], secrets: tuple[str, ...]) -> list[str]:
    return sorted(
        {
            secret
            for item in items
            for text in strings_in(item)
            for secret in secrets
            if secret in text
        }
    )


def staff_work(receipt: str) -> None:
    """What the desk does with a case: a hearing with a note from a staff reply, a session report."""
    store = runtime.case_store()
    case = store.get_case(receipt)
    assert case is not None
    now = runtime.now()
    expires = int((now + timedelta(days=30)).timestamp())
    store.apply_change(
        case,
        changes={
            "status": "hearing",
            "owner": STAFF,
            "sessions": [{"no": 1, "date": "2026-11-30", "format": "online", "report": REPORT}],
        },
        event={
            "at": iso(now),
            "event_id": "evt000000001",
            "type": "mail_command",
            "action": "start_hearing",
            "actor": STAFF,
            "channel": "mail",
            "from_status": "received",
            "to_status": "hearing",
            "ses_message_id": f"ses-{receipt}",
            "note": NOTE,
        },
        messages=[
            OutgoingMessage(
                template="matching_staff",
                to=(STAFF,),
                context={"case": {**case, "note": NOTE}, "recipient": STAFF},
            )
        ],
        link_use=None,
        mail_expires_at=expires,
        inbound={"ses_message_id": f"ses-{receipt}", "at": iso(now), "outcome": "applied"},
    )


@pytest.fixture
def three_cases(client: Any) -> dict[str, Any]:
    mine = [submit(client, ASKER, MESSAGES[0]), submit(client, ASKER, MESSAGES[1])]
    other = submit(client, OTHER, MESSAGES[2])
    staff_work(mine[0])
    return {"mine": mine, "other": other}


def post(client: Any, path: str, headers: dict[str, str], body: dict[str, Any]) -> Any:
    return client.http.post(
        path, headers=headers, body=json.dumps(body, ensure_ascii=False).encode("utf-8")
    )


def test_export_by_email_returns_exactly_the_requesters_cases_with_their_timelines(
    client: Any, admin_headers: dict[str, str], three_cases: dict[str, Any]
) -> None:
    # Full-width and capitals, as someone might type the address from a letter.
    response = post(
        client,
        "/admin/requesters/export",
        admin_headers,
        {"email": "ＲＥＱＵＥＳＴＥＲ-A@EXAMPLE.COM"},
    )
    assert response.status_code == 200, response.body
    body = response.json_body
    assert body["found_by"] == "email"
    assert body["count"] == 2
    exported = {entry["case"]["receipt_number"]: entry for entry in body["cases"]}
    assert set(exported) == set(three_cases["mine"])
    worked, untouched = (exported[r] for r in three_cases["mine"])
    # Each case with all its fields, as stored.
    assert worked["case"]["name"] == ASKER["name"]
    assert worked["case"]["email"] == ASKER["email"]
    assert worked["case"]["organization"] == ASKER["organization"]
    assert worked["case"]["message"] == MESSAGES[0]
    assert untouched["case"]["message"] == MESSAGES[1]
    # The timeline, the mail with its rendering context, the inbound mail that acted.
    assert [e["note"] for e in worked["timeline"]] == [NOTE]
    assert untouched["timeline"] == []
    templates = sorted(m["template"] for m in worked["mail"])
    # Nothing sent yet: the desk's notices are still the one fan-out the outbox addresses.
    assert templates == ["intake_ack", "intake_staff_fanout", "matching_staff"]
    ack = next(m for m in worked["mail"] if m["template"] == "intake_ack")
    assert ack["to"] == [ASKER["email"]]
    assert ack["context"]["case"]["name"] == ASKER["name"]
    assert [m["ses_message_id"] for m in worked["inbound"]] == [f"ses-{three_cases['mine'][0]}"]
    # Nothing of the other requester, no key attributes.
    assert "相談者B" not in json.dumps(body, ensure_ascii=False)
    assert "pk" not in worked["case"] and "gsi1pk" not in worked["case"]

    by_receipt = post(
        client,
        "/admin/requesters/export",
        admin_headers,
        {"receipt_number": three_cases["other"]},
    )
    assert by_receipt.status_code == 200
    assert [c["case"]["name"] for c in by_receipt.json_body["cases"]] == [OTHER["name"]]


def test_erase_by_email_removes_personal_data_and_keeps_the_statistics(
    client: Any,
    aws: dict[str, Any],
    admin_headers: dict[str, str],
    three_cases: dict[str, Any],
    mailbox: Any,
) -> None:
    month = month_of(runtime.now())
    counters_before = runtime.case_store().month_counters(month)
    other_before = partition(aws, f"CASE#{three_cases['other']}")
    mine_before = {r: runtime.case_store().get_case(r) for r in three_cases["mine"]}

    response = post(
        client,
        "/admin/requesters/erase",
        admin_headers,
        {"email": ASKER["email"], "confirm": True},
    )
    assert response.status_code == 200, response.body
    body = response.json_body
    assert body["count"] == 2
    assert all(case["changed"] for case in body["cases"])
    # Nothing had been sent yet: each case's acknowledgement and the fan-out of its staff
    # notices (one pending item until the outbox addresses them) were cancelled.
    assert sorted(case["cancelled_mail"] for case in body["cases"]) == [2, 3]
    assert "case.email" in body["cases"][0]["removed_fields"]

    stored: list[dict[str, Any]] = []
    for receipt in three_cases["mine"]:
        stored += partition(aws, f"CASE#{receipt}")
        stored.append(
            inbound_item(aws, f"ses-{receipt}") if receipt == three_cases["mine"][0] else {}
        )
    digest = privacy_rules.requester_digest(ASKER["email"])
    assert partition(aws, f"REQUESTER#{digest}") == []
    assert leaks(stored, ASKER_STRINGS) == []

    # What the statistics and lead times need stays.
    for receipt in three_cases["mine"]:
        case = runtime.case_store().get_case(receipt)
        before = mine_before[receipt]
        assert case is not None and before is not None
        for name in (
            "receipt_number",
            "status",
            "created_at",
            "month",
            "requester_type",
            "municipality",
            "category",
            "support_types",
            "preferred_format",
            "channel",
        ):
            assert case[name] == before[name], name
        assert case["anonymised_at"]
        for name in ("name", "name_kana", "email", "phone", "organization", "message"):
            assert name not in case
    worked = runtime.case_store().get_case(three_cases["mine"][0])
    assert worked is not None
    assert worked["sessions"] == [{"no": 1, "date": "2026-11-30", "format": "online"}]
    assert worked["owner"] == STAFF
    events = [i for i in partition(aws, f"CASE#{three_cases['mine'][0]}") if i["kind"] == "event"]
    assert {e["type"] for e in events} == {"mail_command", "personal_data_erased"}
    assert runtime.case_store().month_counters(month) == counters_before

    # The other requester's case is exactly as it was.
    assert partition(aws, f"CASE#{three_cases['other']}") == other_before

    # Cancelled mail is never sent; the other requester's still is.
    sweep_once()
    addresses = {a.addr_spec for message in mailbox() for a in message["To"].addresses}
    assert ASKER["email"] not in addresses
    assert OTHER["email"] in addresses
    mine_mail = [
        i
        for r in three_cases["mine"]
        for i in partition(aws, f"CASE#{r}")
        if i["kind"] == "message"
    ]
    assert {m["state"] for m in mine_mail} == {"CANCELLED"}
    assert all("gsi2pk" not in m and "context" not in m for m in mine_mail)


def test_erasure_is_audited_without_the_address_and_export_too(
    client: Any, admin_headers: dict[str, str], three_cases: dict[str, Any]
) -> None:
    post(client, "/admin/requesters/export", admin_headers, {"email": ASKER["email"]})
    post(
        client,
        "/admin/requesters/erase",
        admin_headers,
        {"email": ASKER["email"], "confirm": True},
    )
    digest = privacy_rules.requester_digest(ASKER["email"])
    about = client.http.get(f"/admin/audit/requester/{digest}", headers=admin_headers)
    assert about.status_code == 200
    records = about.json_body["records"]
    assert [r["action"] for r in records] == [
        "requester.export",
        "requester.erase",
        "requester.erase",
    ]
    assert {r["actor"] for r in records} == {"管理者A"}
    assert sorted(r["detail"]["receipt_number"] for r in records[1:]) == sorted(three_cases["mine"])
    month = runtime.now().strftime("%Y-%m")
    log = client.http.get(f"/admin/audit?month={month}", headers=admin_headers).json_body
    text = json.dumps(log, ensure_ascii=False)
    for secret in ASKER_STRINGS:
        assert secret not in text
    case_history = client.http.get(
        f"/admin/audit/case/{three_cases['mine'][0]}", headers=admin_headers
    ).json_body["records"]
    assert [r["action"] for r in case_history] == ["requester.erase"]


def test_erasing_twice_changes_nothing_more(
    client: Any, aws: dict[str, Any], admin_headers: dict[str, str], three_cases: dict[str, Any]
) -> None:
    receipt = three_cases["mine"][0]
    first = post(
        client,
        "/admin/requesters/erase",
        admin_headers,
        {"receipt_number": receipt, "confirm": True},
    )
    assert first.status_code == 200
    assert first.json_body["cases"][0]["changed"] is True
    after_first = partition(aws, f"CASE#{receipt}")

    again = post(
        client,
        "/admin/requesters/erase",
        admin_headers,
        {"receipt_number": receipt, "confirm": True},
    )
    assert again.status_code == 200
    assert again.json_body["cases"][0]["changed"] is False
    assert partition(aws, f"CASE#{receipt}") == after_first
    # By email, only the case not erased yet is still found.
    by_email = post(
        client,
        "/admin/requesters/erase",
        admin_headers,
        {"email": ASKER["email"], "confirm": True},
    )
    assert [c["receipt_number"] for c in by_email.json_body["cases"]] == [three_cases["mine"][1]]
    nothing_left = post(
        client,
        "/admin/requesters/erase",
        admin_headers,
        {"email": ASKER["email"], "confirm": True},
    )
    assert nothing_left.status_code == 200
    assert nothing_left.json_body["count"] == 0


def test_the_case_and_the_reports_still_work_after_erasure(
    client: Any, admin_headers: dict[str, str], three_cases: dict[str, Any]
) -> None:
    import app as application

    receipt = three_cases["mine"][0]
    post(
        client,
        "/admin/requesters/erase",
        admin_headers,
        {"receipt_number": receipt, "confirm": True},
    )
    export = post(client, "/admin/requesters/export", admin_headers, {"receipt_number": receipt})
    assert export.status_code == 200
    assert export.json_body["cases"][0]["case"]["anonymised_at"]
    routes = application.app.routes
    if "/admin/cases/{receipt_number}" in routes:
        view = client.http.get(f"/admin/cases/{receipt}", headers=admin_headers)
        assert view.status_code == 200, view.body
        assert ASKER["name"] not in view.body.decode("utf-8")
    month = month_of(runtime.now())
    for path in sorted(routes):
        if path.startswith("/admin/reports/") and "{month}" in path and "GET" in routes[path]:
            report = client.http.get(path.replace("{month}", month), headers=admin_headers)
            assert report.status_code == 200, (path, report.body)


def test_staff_may_neither_export_nor_erase(
    client: Any, staff_headers: dict[str, str], three_cases: dict[str, Any]
) -> None:
    for path, body in (
        ("/admin/requesters/export", {"email": ASKER["email"]}),
        ("/admin/requesters/erase", {"email": ASKER["email"], "confirm": True}),
    ):
        assert post(client, path, staff_headers, body).status_code == 403
    assert runtime.case_store().get_case(three_cases["mine"][0])["name"] == ASKER["name"]  # type: ignore[index]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"email": ASKER["email"], "receipt_number": "DX-261126-000000"},
        {"email": "not an address"},
        {"receipt_number": "DX-1"},
        {"email": ASKER["email"]},  # no confirmation
        {"email": ASKER["email"], "confirm": False},
        {"email": ASKER["email"], "confirm": True, "also": 1},
    ],
)
def test_unclear_erasure_requests_are_refused_and_change_nothing(
    client: Any, admin_headers: dict[str, str], body: dict[str, Any]
) -> None:
    receipt = submit(client, ASKER, MESSAGES[0])
    response = post(client, "/admin/requesters/erase", admin_headers, body)
    assert response.status_code == 422
    assert response.json_body["errors"]
    assert "not an address" not in response.body.decode("utf-8")
    case = runtime.case_store().get_case(receipt)
    assert case is not None and case["name"] == ASKER["name"]


def test_an_unknown_receipt_number_is_404_and_an_unknown_address_has_no_cases(
    client: Any, admin_headers: dict[str, str]
) -> None:
    unknown = post(
        client, "/admin/requesters/export", admin_headers, {"receipt_number": "DX-261126-000000"}
    )
    assert unknown.status_code == 404
    nobody = post(
        client, "/admin/requesters/export", admin_headers, {"email": "nobody@example.com"}
    )
    assert nobody.status_code == 200
    assert nobody.json_body["count"] == 0


class SendsWhileRead(PrivacyStore):
    """Sends the outbox right after the first read: the plan made from that read is stale."""

    reads = 0

    def case_partition(
        self, receipt_number: str, now_epoch: int, *, include_expired: bool = False
    ) -> list[dict[str, Any]]:
        items = super().case_partition(receipt_number, now_epoch, include_expired=include_expired)
        self.reads += 1
        if self.reads == 2:  # the first read only checks the case exists
            sweep_once()
        return items


def test_mail_sent_between_read_and_erasure_is_reread_not_overwritten(
    client: Any, aws: dict[str, Any], three_cases: dict[str, Any], mailbox: Any
) -> None:
    receipt = three_cases["other"]
    store = SendsWhileRead(runtime.dynamodb(), aws["env"]["TABLE_NAME"])
    actor = Actor(role="admin", actor="管理者A", token_id="0a0a0a0a", request_id="r1")
    result = privacy.erase_requester(
        store, actor, receipt_number=receipt, email=None, now=runtime.now(), settings=get_settings()
    )
    assert store.reads == 3  # planned, conflicted, read again
    assert result["cases"][0]["cancelled_mail"] == 0  # all had gone out meanwhile
    messages = [i for i in partition(aws, f"CASE#{receipt}") if i["kind"] == "message"]
    assert {m["state"] for m in messages} == {"SENT"}
    assert all(OTHER["email"] not in m["to"] and "context" not in m for m in messages)
    sent_to_other = [m for m in mailbox() if OTHER["email"] in str(m["To"])]
    assert len(sent_to_other) == 1  # sent once, not again, not lost


# More items than one transaction takes (100, two of them audit records).
HISTORY = 100


def test_a_case_with_a_long_history_is_erased_in_several_audited_transactions(
    client: Any, aws: dict[str, Any], admin_headers: dict[str, str]
) -> None:
    receipt = submit(client, ASKER, MESSAGES[0])
    table = aws["env"]["TABLE_NAME"]
    events = [
        {
            "pk": {"S": f"CASE#{receipt}"},
            "sk": {"S": f"EVENT#2026-11-26T10:{n // 60:02d}:{n % 60:02d}.000000Z#{n:012d}"},
            "kind": {"S": "event"},
            "receipt_number": {"S": receipt},
            "type": {"S": "note"},
            "at": {"S": f"2026-11-26T10:{n // 60:02d}:{n % 60:02d}.000000Z"},
            "note": {"S": NOTE},
        }
        for n in range(HISTORY)
    ]
    for start in range(0, HISTORY, 25):
        aws["dynamodb"].batch_write_item(
            RequestItems={table: [{"PutRequest": {"Item": e}} for e in events[start : start + 25]]}
        )
    response = post(
        client,
        "/admin/requesters/erase",
        admin_headers,
        {"receipt_number": receipt, "confirm": True},
    )
    assert response.status_code == 200, response.body
    # Events, mail (the reply and the staff fan-out, nothing sent yet), the case.
    assert response.json_body["cases"][0]["items"] == HISTORY + 2 + 1
    assert leaks(partition(aws, f"CASE#{receipt}"), ASKER_STRINGS) == []
    history = client.http.get(f"/admin/audit/case/{receipt}", headers=admin_headers).json_body
    parts = [r["detail"].get("part") for r in history["records"]]
    assert sorted(parts) == [1, 2]


def test_erasure_plan_keeps_numbers_dates_and_flags_of_fields_added_later() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 12, 1, tzinfo=UTC)
    case = {
        "pk": "CASE#DX-261126-000000",
        "sk": "CASE",
        "kind": "case",
        "receipt_number": "DX-261126-000000",
        "status": "closed",
        "version": 4,
        "email": "requester-a@example.com",
        "name": "相談者A",
        "hearing_done_at": "2026-11-27T01:00:00.000000Z",  # a later milestone: kept
        "hearing_minutes": 45,  # a number: kept
        "remote": True,  # a flag: kept
        "hearing_summary": "相談者Aさんの会社では",  # free text nobody listed: dropped
        "closing_remark_at": "相談者Aさんより御礼",  # not a timestamp, whatever its name
    }
    plan = privacy_rules.plan_erasure([case], now=now, actor="管理者A")
    assert plan is not None
    (rewrite,) = plan.rewrites
    assert rewrite.expect == {"version": 4}
    kept = rewrite.item
    assert kept["hearing_done_at"] == case["hearing_done_at"]
    assert kept["hearing_minutes"] == 45 and kept["remote"] is True
    assert kept["version"] == 5 and kept["anonymised_at"] == iso(now)
    for gone in ("email", "name", "hearing_summary", "closing_remark_at"):
        assert gone not in kept
    assert plan.requester_digests == [privacy_rules.requester_digest("requester-a@example.com")]


def test_an_erased_case_that_was_still_open_takes_no_more_actions(
    client: Any, admin_headers: dict[str, str], staff_headers: dict[str, str]
) -> None:
    """Every action mails or names the requester: after erasure, links and the admin API refuse."""
    from chalicelib.core.actiontoken import link_for
    from chalicelib.core.lifecycle import Action

    receipt = submit(client, ASKER, MESSAGES[0])
    url = link_for(
        get_settings(),
        action=Action.TAKE,
        receipt_number=receipt,
        recipient=STAFF,
        now=runtime.now(),
    )
    path = "/actions/" + url.rsplit("/", 1)[1]
    erased = post(
        client,
        "/admin/requesters/erase",
        admin_headers,
        {"receipt_number": receipt, "confirm": True},
    )
    assert erased.status_code == 200
    before = runtime.case_store().get_case(receipt)
    assert before is not None and before["status"] == "received"

    page = client.http.get(path)
    assert "個人情報を消去済み" in page.body.decode("utf-8")
    pressed = client.http.post(
        path, headers={"Content-Type": "application/x-www-form-urlencoded"}, body=b""
    )
    assert "個人情報を消去済み" in pressed.body.decode("utf-8")
    by_api = post(
        client,
        f"/admin/cases/{receipt}/actions/start_hearing",
        staff_headers,
        {"version": before["version"]},
    )
    assert by_api.status_code == 409
    after = runtime.case_store().get_case(receipt)
    assert after == before
