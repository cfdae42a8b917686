"""One DynamoDB call per intake, the first after a cold start included; the taxonomy is checked
by that call and the desk's staff are addressed when the mail is sent."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib import runtime
from chalicelib.core.case import STAFF_FANOUT
from chalicelib.outbox.handler import sweep_once
from chalicelib.storage import keys
from tests.app.test_admin_taxonomy import AI, add_category, set_category
from tests.app.test_form_routes import form_body, post, receipt_on
from tests.conftest import valid_payload

JSON = {"Content-Type": "application/json"}


class DynamoCalls:
    """DynamoDB operations made through any client, counted by a botocore before-call hook."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def __call__(self, model: Any, **_: Any) -> None:
        if model.service_model.service_name == "dynamodb":
            self.calls[model.name] += 1


@pytest.fixture
def dynamo_calls(aws: dict[str, Any]) -> Iterator[DynamoCalls]:
    import boto3

    probe = DynamoCalls()
    # On the default session: every client built after this (the runtime's too) inherits it.
    events = boto3._get_default_session()._session.get_component("event_emitter")
    events.register("before-call", probe, unique_id="test-one-dynamodb-call")
    yield probe
    events.unregister("before-call", unique_id="test-one-dynamodb-call")


def cold() -> None:
    """What a new Lambda container has: no clients, no directory, no parameters."""
    runtime.reset()


def consult(client: Any, **overrides: Any) -> Any:
    return client.http.post(
        "/consultations", headers=JSON, body=json.dumps(valid_payload(**overrides))
    )


def cases(aws: dict[str, Any]) -> list[dict[str, Any]]:
    items = aws["dynamodb"].scan(TableName=aws["env"]["TABLE_NAME"])["Items"]
    return [item for item in items if item["kind"]["S"] == "case"]


def test_first_json_intake_after_a_cold_start_makes_one_dynamodb_call(
    client: Any, aws: dict[str, Any], dynamo_calls: DynamoCalls
) -> None:
    cold()
    response = consult(client)
    assert response.status_code == 201, response.body
    assert dynamo_calls.calls == {"TransactWriteItems": 1}
    dynamo_calls.calls.clear()
    assert consult(client, email="requester-b@example.com").status_code == 201
    assert dynamo_calls.calls == {"TransactWriteItems": 1}


def test_first_form_submission_after_a_cold_start_makes_one_dynamodb_call(
    client: Any, aws: dict[str, Any], dynamo_calls: DynamoCalls
) -> None:
    cold()
    response = post(client, "/form/submit", form_body(valid_payload()))
    assert response.status_code == 200, response.body
    assert receipt_on(response.body.decode())
    assert dynamo_calls.calls == {"TransactWriteItems": 1}


def test_a_category_an_admin_added_is_accepted_cold_in_one_call(
    client: Any, aws: dict[str, Any], admin_headers: dict[str, str], dynamo_calls: DynamoCalls
) -> None:
    add_category(client, admin_headers, AI)
    cold()
    dynamo_calls.calls.clear()
    response = consult(client, category="ai")
    assert response.status_code == 201, response.body
    assert dynamo_calls.calls == {"TransactWriteItems": 1}


def test_a_category_an_admin_deactivated_is_refused_cold_naming_the_field(
    client: Any, aws: dict[str, Any], admin_headers: dict[str, str], dynamo_calls: DynamoCalls
) -> None:
    set_category(client, admin_headers, "workstyle", active=False)
    cold()
    response = consult(client, category="workstyle")
    assert response.status_code == 422
    assert [error["field"] for error in response.json_body["errors"]] == ["category"]
    assert cases(aws) == []


def test_an_id_no_list_holds_is_refused_without_a_stored_taxonomy(
    client: Any, aws: dict[str, Any]
) -> None:
    cold()
    response = consult(client, support_types=["training", "astrology"])
    assert response.status_code == 422
    assert [error["field"] for error in response.json_body["errors"]] == ["support_types"]
    assert cases(aws) == []


def test_a_malformed_id_is_refused_before_any_call(
    client: Any, aws: dict[str, Any], dynamo_calls: DynamoCalls
) -> None:
    cold()
    response = consult(client, category="Not An Id")
    assert response.status_code == 422
    assert [error["field"] for error in response.json_body["errors"]] == ["category"]
    assert dynamo_calls.calls == {}


def test_a_form_choice_withdrawn_after_the_page_was_shown_returns_the_form_with_the_error(
    client: Any, aws: dict[str, Any], admin_headers: dict[str, str]
) -> None:
    set_category(client, admin_headers, "workstyle", active=False)
    cold()
    response = post(client, "/form/submit", form_body(valid_payload(category="workstyle")))
    assert response.status_code == 422
    page = response.body.decode()
    summary = page[
        page.index('id="error-summary"') : page.index("</ul>", page.index("error-summary"))
    ]
    assert 'href="#field-category"' in summary and "receipt-number" not in page
    assert cases(aws) == []


def test_a_taxonomy_item_stored_before_the_active_id_attributes_still_validates(
    client: Any, aws: dict[str, Any], admin_headers: dict[str, str]
) -> None:
    add_category(client, admin_headers, AI)
    set_category(client, admin_headers, "workstyle", active=False)
    # As an item written by an earlier version: the entries without the active-id lists.
    aws["dynamodb"].update_item(
        TableName=aws["env"]["TABLE_NAME"],
        Key={name: {"S": value} for name, value in keys.taxonomy_key().items()},
        UpdateExpression="REMOVE active_category_ids, active_support_type_ids",
    )
    cold()
    assert consult(client, category="ai").status_code == 201
    cold()
    refused = consult(client, category="workstyle", email="requester-b@example.com")
    assert refused.status_code == 422
    assert [error["field"] for error in refused.json_body["errors"]] == ["category"]
    assert len(cases(aws)) == 1


def test_staff_notices_go_to_the_staff_listed_when_the_mail_is_sent(
    client: Any, aws: dict[str, Any], admin_headers: dict[str, str], mailbox: Any
) -> None:
    assert consult(client).status_code == 201
    # A member added after the case was stored but before the sweep is the one told.
    added = client.http.post(
        "/admin/staff",
        headers=admin_headers,
        body=json.dumps(
            {"staff_id": "staff-c", "display_name": "職員C", "email": "staff-c@dx-desk.example.jp"}
        ),
    )
    assert added.status_code == 201, added.body
    counts = sweep_once()
    assert counts["sent"] == 2
    recipients = sorted(str(mail["To"]) for mail in mailbox())
    assert recipients == ["requester-a@example.com", "staff-c@dx-desk.example.jp"]


def test_a_fan_out_expands_once_however_often_it_is_delivered(
    client: Any, aws: dict[str, Any], mailbox: Any
) -> None:
    from chalicelib.outbox.service import send

    receipt = consult(client).json_body["receipt_number"]
    items = runtime.case_store().case_items(receipt)
    fanout = next(item for item in items if item.get("template") == STAFF_FANOUT)
    desk = runtime.desk()
    first = send(fanout, outbox=runtime.outbox_store(), mailer=runtime.mailer(), desk=desk)
    again = send(fanout, outbox=runtime.outbox_store(), mailer=runtime.mailer(), desk=desk)
    assert first == ["expanded", "sent", "sent"]
    assert again == ["skipped"]
    messages = [i for i in runtime.case_store().case_items(receipt) if i["kind"] == "message"]
    assert sorted(m["template"] for m in messages) == ["intake_ack", "intake_staff", "intake_staff"]
    assert len(mailbox()) == 2
