"""Suspected spam (a filled honeypot): kept apart, mails nobody, counts nowhere, until staff
release it (a normal case with the usual mail) or discard it, from the digest or the admin API."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from typing import Any

from chalicelib import runtime
from chalicelib.core.case import month_of
from chalicelib.intake import formtoken
from chalicelib.outbox import service as outbox_service
from chalicelib.outbox.handler import sweep_once
from chalicelib.runtime import get_settings
from chalicelib.scheduled import jobs as digest
from tests.conftest import valid_payload

STAFF_A = "staff-a@dx-desk.example.jp"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def token() -> str:
    key_id, keys = get_settings().form_keys()
    return formtoken.sign(keys, key_id, int(time.time()) - 10)


def submit_held(client: Any, **overrides: Any) -> str:
    response = client.http.post(
        "/consultations",
        headers={"Content-Type": "application/json"},
        body=json.dumps({**valid_payload(**overrides), "form_token": token(), "website": "x"}),
    )
    assert response.status_code == 201, response.body
    assert response.json_body["status"] == "suspected_spam"
    return str(response.json_body["receipt_number"])


def status_of(receipt: str) -> str:
    case = runtime.case_store().get_case(receipt)
    assert case is not None
    return str(case["status"])


def report_counters() -> dict[str, int]:
    return runtime.case_store().month_counters(month_of(datetime.now(UTC)))


def test_a_held_case_counts_on_the_shelf_only_and_is_no_open_case(
    client: Any, mailbox: Any
) -> None:
    receipt = submit_held(client)
    counters = report_counters()
    assert counters.get("cases", 0) == 0
    assert counters["held:received"] == 1
    assert receipt not in [c["receipt_number"] for c in runtime.case_store().open_cases()]
    assert [c["receipt_number"] for c in runtime.case_store().held_cases()] == [receipt]
    assert sweep_once()["sent"] == 0 and mailbox() == []


def test_staff_list_held_cases_and_release_one_through_the_admin_api(
    client: Any, staff_headers: dict[str, str], mailbox: Any
) -> None:
    receipt = submit_held(client, email="held-person@example.com")
    listed = client.http.get("/admin/cases?status=suspected_spam", headers=staff_headers)
    assert listed.status_code == 200, listed.body
    assert [row["receipt_number"] for row in listed.json_body["cases"]] == [receipt]
    case = runtime.case_store().get_case(receipt)
    assert case is not None
    released = client.http.post(
        f"/admin/cases/{receipt}/actions/release",
        headers=staff_headers,
        body=json.dumps({"version": case["version"]}),
    )
    assert released.status_code == 200, released.body
    assert status_of(receipt) == "received"
    # The usual mail of a new case, now: the automatic reply and the desk's notices.
    assert sweep_once()["sent"] >= 2
    recipients = {m["To"] for m in mailbox()}
    assert "held-person@example.com" in recipients and STAFF_A in recipients
    counters = report_counters()
    assert counters["cases"] == 1 and counters["status:received"] == 1
    assert counters["held:released"] == 1 and counters.get("status:suspected_spam", 0) == 0


def test_the_digest_lists_held_cases_with_links_that_release_or_discard(
    client: Any, mailbox: Any
) -> None:
    keep = submit_held(client, email="person@example.com", message="研修の相談です。")
    drop = submit_held(client, email="bot@example.com", message="buy cheap things")
    # The digest runs at 08:00 in Japan on a business day (Tuesday 2026-12-08 here).
    tuesday = datetime(2026, 12, 7, 23, tzinfo=UTC)
    report = digest.daily_digest(
        runtime.case_store(),
        desk=runtime.desk().at(tuesday),
    )
    assert report.due and report.enqueued >= 1
    outbox_service.drain(
        outbox=runtime.outbox_store(),
        mailer=runtime.mailer(),
        desk=runtime.desk().at(tuesday),
    )
    mail = next(m for m in mailbox() if m["To"] == STAFF_A and "保留 2件" in m["Subject"])
    body = mail.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "迷惑投稿の疑いで保留中の相談（2件）" in text and "研修の相談です。" in text
    assert len(set(re.findall(r"http://desk\.test(/actions/\S+)", text))) == 4
    # Each case has its own pair of links, signed for that case (newest first).
    assert text.index(drop) < text.index(keep)
    keep_part = text[text.index(keep) :]
    release = re.search(r"通常の相談として受け付ける：http://desk\.test(/actions/\S+)", keep_part)
    assert release is not None
    before = len(mailbox())
    # A scanner's GET changes nothing; the button's POST releases the case.
    assert client.http.get(release.group(1)).status_code == 200
    assert status_of(keep) == "suspected_spam"
    pressed = client.http.post(release.group(1), headers=FORM, body="note=")
    assert pressed.status_code == 200, pressed.body
    assert status_of(keep) == "received"
    sweep_once()
    assert "person@example.com" in {m["To"] for m in mailbox()[before:]}
    drop_part = text[text.index(drop) :]
    discard = re.search(r"破棄する：http://desk\.test(/actions/\S+)", drop_part)
    assert discard is not None
    assert client.http.post(discard.group(1), headers=FORM, body="note=").status_code == 200
    assert status_of(drop) == "spam"
    sweep_once()
    assert "bot@example.com" not in {m["To"] for m in mailbox()}
    counters = report_counters()
    assert counters["held:discarded"] == 1 and counters["held:released"] == 1
    assert counters.get("outcome:spam", 0) == 0 and counters["cases"] == 1


def test_a_held_case_takes_no_ordinary_action(client: Any, staff_headers: dict[str, str]) -> None:
    receipt = submit_held(client)
    case = runtime.case_store().get_case(receipt)
    assert case is not None
    for action in ("take", "start_hearing", "withdraw"):
        answer = client.http.post(
            f"/admin/cases/{receipt}/actions/{action}",
            headers=staff_headers,
            body=json.dumps({"version": case["version"], "owner": STAFF_A}),
        )
        assert answer.status_code == 409, (action, answer.body)
    assert status_of(receipt) == "suspected_spam"
    detail = client.http.get(f"/admin/cases/{receipt}", headers=staff_headers).json_body
    offered = [a["action"] for a in detail["available_actions"]]
    assert offered == ["mark_spam", "release"]


def test_the_same_held_post_twice_answers_the_same_held_receipt(client: Any) -> None:
    body = {**valid_payload(), "form_token": token(), "website": "x"}
    answers = [
        client.http.post(
            "/consultations", headers={"Content-Type": "application/json"}, body=json.dumps(body)
        ).json_body
        for _ in range(2)
    ]
    assert answers[0]["receipt_number"] == answers[1]["receipt_number"]
    assert answers[1]["status"] == "suspected_spam"
    assert len(runtime.case_store().held_cases()) == 1


def test_the_release_page_shows_what_was_sent_so_staff_can_judge(client: Any) -> None:
    from chalicelib.core.actiontoken import link_for
    from chalicelib.core.lifecycle import Action

    receipt = submit_held(
        client, message="<script>x</script>研修の相談です。", organization="架空商会"
    )
    token = link_for(
        get_settings(),
        action=Action.RELEASE,
        receipt_number=receipt,
        recipient=STAFF_A,
        now=runtime.now(),
    ).rsplit("/", 1)[1]
    page = client.http.get(f"/actions/{token}").body.decode()
    assert "研修の相談です。" in page and "架空商会" in page
    assert "<script>x</script>" not in page and "&lt;script&gt;" in page
    assert status_of(receipt) == "suspected_spam"
