"""Action links in staff mail: scanners change nothing, a real button acts once, forgeries fail."""

from __future__ import annotations

import dataclasses
import re
import threading
from datetime import timedelta
from typing import Any

import pytest

from chalicelib import runtime
from chalicelib.core import actiontoken
from chalicelib.core.actiontoken import link_for
from chalicelib.core.errors import LinkAlreadyUsed, VersionConflict
from chalicelib.core.lifecycle import Action, IllegalTransition
from chalicelib.links.service import act_by_link
from chalicelib.outbox.handler import sweep_once
from chalicelib.runtime import get_settings
from tests.conftest import valid_payload

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def submit(client: Any, **overrides: Any) -> str:
    import json

    response = client.http.post(
        "/consultations",
        headers={"Content-Type": "application/json"},
        body=json.dumps(valid_payload(**overrides)),
    )
    assert response.status_code == 201
    return str(response.json_body["receipt_number"])


def links_in_staff_mail(
    mailbox: Any, receipt: str, staff: str = "staff-a@dx-desk.example.jp"
) -> dict[str, str]:
    """action label → path of the link, read from the plain-text part of the mail `staff` got."""
    mail = next(m for m in mailbox() if m["To"] == staff and receipt in m["Subject"])
    body = mail.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    found = dict(re.findall(r"・(\S+)\n\s+http://desk\.test(/actions/\S+)", text))
    assert found, text
    return found


def act(settings: Any, token: str, store: Any = None) -> Any:
    """Press a link through the service, as the POST route does."""
    return act_by_link(
        token,
        note="",
        store=store or runtime.case_store(),
        roster=runtime.roster_store(),
        desk=dataclasses.replace(runtime.desk(), settings=settings),
    )


def case(receipt: str) -> dict[str, Any]:
    found = runtime.case_store().get_case(receipt)
    assert found is not None
    return found


def events(receipt: str) -> list[dict[str, Any]]:
    return [i for i in runtime.case_store().case_items(receipt) if i["kind"] == "event"]


def test_scanners_and_previews_change_nothing_and_a_button_acts_once(
    client: Any, mailbox: Any
) -> None:
    receipt = submit(client)
    sweep_once()
    take = links_in_staff_mail(mailbox, receipt)["担当する"]
    before = case(receipt)

    for _ in range(3):
        page = client.http.get(take)
        assert page.status_code == 200
        assert client.http.head(take).status_code == 200
    body = page.body.decode()
    assert "開いただけでは、何も変更されません" in body
    assert "<script" not in body  # nothing can submit the form by itself
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert case(receipt) == before
    assert events(receipt) == []

    done = client.http.post(
        take, headers=FORM, body="note=%E9%9B%BB%E8%A9%B1%E3%81%97%E3%81%BE%E3%81%99"
    )
    assert done.status_code == 200
    assert "「担当する」を実行しました" in done.body.decode()
    after = case(receipt)
    assert after["owner"] == "staff-a@dx-desk.example.jp"
    assert after["version"] == before["version"] + 1
    (event,) = events(receipt)
    assert event["action"] == "take"
    assert event["actor"] == "staff-a@dx-desk.example.jp"
    assert event["channel"] == "link"
    assert event["note"] == "電話します"

    again = client.http.post(take, headers=FORM, body="")
    assert again.status_code == 409
    assert "すでに使われています" in again.body.decode()
    assert case(receipt)["version"] == after["version"]
    shown = client.http.get(take).body.decode()
    assert "このリンクはすでに使われています" in shown


def test_status_moves_through_the_lifecycle_and_illegal_steps_are_refused(
    client: Any, mailbox: Any
) -> None:
    receipt = submit(client)
    sweep_once()
    links = links_in_staff_mail(mailbox, receipt)
    assert client.http.post(links["ヒアリングを開始する"], headers=FORM, body="").status_code == 200
    assert case(receipt)["status"] == "hearing"
    assert case(receipt)["gsi1pk"] == "STATUS#hearing"  # the status index follows
    refused = client.http.post(links["スパムとして破棄する"], headers=FORM, body="")
    assert refused.status_code == 409
    assert "「ヒアリング」のため、「スパムとして破棄する」はできません" in refused.body.decode()
    assert case(receipt)["status"] == "hearing"
    preview = client.http.get(links["スパムとして破棄する"]).body.decode()
    assert "はできません" in preview and "<form" not in preview


def test_ten_parallel_posts_of_one_link_change_the_case_once(
    aws: dict[str, Any], stage_env: dict[str, str]
) -> None:
    import json

    from chalice.test import Client

    from app import app
    from tests.conftest import ROOT

    with Client(app, project_dir=str(ROOT), stage_name="local") as client:
        receipt = submit(client)
    settings = get_settings()
    token = link_for(
        settings,
        action=Action.START_HEARING,
        receipt_number=receipt,
        recipient="staff-b@dx-desk.example.jp",
        now=runtime.now(),
    ).rsplit("/", 1)[1]
    barrier = threading.Barrier(10)
    outcomes: list[str] = []

    def press() -> None:
        barrier.wait()
        try:
            act(settings, token, store=runtime.case_store())
            outcomes.append("done")
        except LinkAlreadyUsed as exc:
            outcomes.append(f"used:{exc.previous['action']}")

    threads = [threading.Thread(target=press) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["done"] + ["used:start_hearing"] * 9, json.dumps(outcomes)
    assert case(receipt)["version"] == 2
    assert len(events(receipt)) == 1


def test_two_staff_acting_at_once_one_wins_the_other_is_told(client: Any) -> None:
    receipt = submit(client)
    settings = get_settings()
    store = runtime.case_store()
    take_a = link_for(
        settings,
        action=Action.TAKE,
        receipt_number=receipt,
        recipient="staff-a@dx-desk.example.jp",
        now=runtime.now(),
    ).rsplit("/", 1)[1]
    take_b = link_for(
        settings,
        action=Action.TAKE,
        receipt_number=receipt,
        recipient="staff-b@dx-desk.example.jp",
        now=runtime.now(),
    ).rsplit("/", 1)[1]

    class StaleRead:
        """Hands out the case as it was before B's change: the read-then-write race."""

        def __init__(self) -> None:
            self.snapshot = store.get_case(receipt)

        def get_case(
            self, receipt_number: str, now_epoch: int | None = None
        ) -> dict[str, Any] | None:
            return self.snapshot

        def __getattr__(self, name: str) -> Any:
            return getattr(store, name)

    stale = StaleRead()
    act(settings, take_b, store=store)
    with pytest.raises(VersionConflict):
        act(settings, take_a, store=stale)
    assert case(receipt)["owner"] == "staff-b@dx-desk.example.jp"


def test_tampered_expired_cross_case_and_cross_recipient_links_are_refused(client: Any) -> None:
    first = submit(client)
    other = submit(client, email="someone-else@example.com")
    settings = get_settings()
    key_id, keys = settings.link_keys()
    now = runtime.now()
    good = link_for(
        settings,
        action=Action.START_HEARING,
        receipt_number=first,
        recipient="staff-a@dx-desk.example.jp",
        now=now,
    ).rsplit("/", 1)[1]
    prefix, kid, payload, mac = good.split(".")

    def forged(**claims: Any) -> str:
        import base64
        import json

        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        data.update(claims)
        body = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
        return f"{prefix}.{kid}.{body}.{mac}"  # the old signature: must not verify

    def signed(**overrides: Any) -> str:
        claims: dict[str, Any] = {
            "purpose": "case:start_hearing",
            "receipt_number": first,
            "recipient": actiontoken.recipient_id("staff-a@dx-desk.example.jp", keys[key_id]),
            "expires_at": int((now + timedelta(days=1)).timestamp()),
        }
        claims.update(overrides)
        return actiontoken.sign(keys, key_id, **claims)

    cases = {
        "tampered: other case": forged(c=other),
        "tampered: other purpose": forged(p="case:mark_spam"),
        "tampered: flipped mac": f"{prefix}.{kid}.{payload}.{mac[:-2]}{'AA' if mac[-2:] != 'AA' else 'BB'}",
        "unknown key": f"{prefix}.k9.{payload}.{mac}",
        "garbage": "not-a-token",
        "expired": signed(expires_at=int((now - timedelta(seconds=1)).timestamp())),
        "not staff": signed(
            recipient=actiontoken.recipient_id("outsider@example.com", keys[key_id])
        ),
        "not a case action": signed(purpose="expert:accept"),
    }
    for name, token in cases.items():
        for method in ("GET", "POST"):
            response = (
                client.http.get(f"/actions/{token}")
                if method == "GET"
                else client.http.post(f"/actions/{token}", headers=FORM, body="")
            )
            expected = 410 if name == "expired" else 404
            assert response.status_code == expected, (name, method, response.status_code)
            assert "何も変更されていません" in response.body.decode()
    assert case(first)["status"] == "received" and case(first)["version"] == 1
    assert case(other)["status"] == "received" and case(other)["version"] == 1
    # The genuine link still works afterwards.
    assert client.http.post(f"/actions/{good}", headers=FORM, body="").status_code == 200


def test_a_valid_link_to_a_case_that_is_gone_says_so_on_get_and_post(client: Any) -> None:
    token = link_for(
        get_settings(),
        action=Action.TAKE,
        receipt_number="DX-000101-000001",  # signed correctly, but no such case (any more)
        recipient="staff-a@dx-desk.example.jp",
        now=runtime.now(),
    ).rsplit("/", 1)[1]
    for response in (
        client.http.get(f"/actions/{token}"),
        client.http.post(f"/actions/{token}", headers=FORM, body=""),
    ):
        assert response.status_code == 404
        page = response.body.decode()
        assert "<h1>案件が見つかりません</h1>" in page
        assert "何も変更されていません" in page and "事務局にお問い合わせください" in page


def test_a_link_keeps_working_after_key_rotation(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    receipt = submit(client)
    old = link_for(
        get_settings(),
        action=Action.TAKE,
        receipt_number=receipt,
        recipient="staff-a@dx-desk.example.jp",
        now=runtime.now(),
    ).rsplit("/", 1)[1]
    monkeypatch.setenv(
        "LINK_SIGNING_KEYS",
        "local2:a-brand-new-link-signing-key,local1:local-development-link-key-not-secret",
    )
    settings = get_settings()
    assert settings.link_keys()[0] == "local2"
    done = act(settings, old, store=runtime.case_store())
    assert done.case["owner"] == "staff-a@dx-desk.example.jp"


def test_illegal_transition_message_is_japanese_first() -> None:
    from chalicelib.core.case import Status
    from chalicelib.core.lifecycle import apply

    with pytest.raises(IllegalTransition) as info:
        apply(Action.CLOSE, Status.RECEIVED)
    assert info.value.message.startswith("この案件は現在「受付」のため")


def test_the_confirmation_button_posts_with_a_null_origin_and_foreign_origins_are_refused(
    client: Any, mailbox: Any
) -> None:
    receipt = submit(client)
    sweep_once()
    take = links_in_staff_mail(mailbox, receipt)["担当する"]
    foreign = client.http.post(take, headers={**FORM, "Origin": "https://evil.example"}, body="")
    assert foreign.status_code == 403
    # The scheme counts, and the Host header (the caller's to choose) never vouches for an origin.
    for forged in (
        {"Origin": "evil://desk.test", "Host": "desk.test"},
        {"Origin": "https://evil.example", "Host": "evil.example"},
    ):
        refused = client.http.post(take, headers={**FORM, **forged}, body="")
        assert refused.status_code == 403, forged
    assert case(receipt)["version"] == 1
    # The page sends no referrer (its URL holds the token), so its button posts `Origin: null`.
    own = client.http.post(take, headers={**FORM, "Origin": "null"}, body="")
    assert own.status_code == 200
    assert case(receipt)["owner"] == "staff-a@dx-desk.example.jp"
