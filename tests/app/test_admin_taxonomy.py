"""/admin/taxonomy: categories and support types as data, on the form, in intake, mail and experts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib import runtime
from chalicelib.outbox.handler import sweep_once
from tests.app.test_action_links import links_in_staff_mail
from tests.app.test_admin_experts import EXPERT
from tests.conftest import valid_payload

JSON = {"Content-Type": "application/json"}
AI = {"id": "ai", "ja": "生成AIの活用", "en": "Using generative AI", "active": True}
STAFF_A = "staff-a@dx-desk.example.jp"


def read(client: Any, headers: dict[str, str]) -> dict[str, Any]:
    response = client.http.get("/admin/taxonomy", headers=headers)
    assert response.status_code == 200
    return dict(response.json_body)


def put(client: Any, headers: dict[str, str], body: dict[str, Any]) -> Any:
    return client.http.put("/admin/taxonomy", headers=headers, body=json.dumps(body))


def edited(current: dict[str, Any], **lists: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "version": current["version"],
        "categories": lists.get("categories", current["categories"]),
        "support_types": lists.get("support_types", current["support_types"]),
    }


def add_category(client: Any, headers: dict[str, str], entry: dict[str, Any]) -> dict[str, Any]:
    current = read(client, headers)
    response = put(client, headers, edited(current, categories=[*current["categories"], entry]))
    assert response.status_code == 200, response.body
    return dict(response.json_body)


def set_category(
    client: Any, headers: dict[str, str], category_id: str, **changes: Any
) -> dict[str, Any]:
    current = read(client, headers)
    categories = [
        {**entry, **changes} if entry["id"] == category_id else entry
        for entry in current["categories"]
    ]
    response = put(client, headers, edited(current, categories=categories))
    assert response.status_code == 200, response.body
    return dict(response.json_body)


def consult(client: Any, **overrides: Any) -> Any:
    return client.http.post(
        "/consultations", headers=JSON, body=json.dumps(valid_payload(**overrides))
    )


def form_page(client: Any, lang: str = "ja") -> str:
    response = client.http.get(f"/form/input?lang={lang}")
    assert response.status_code == 200
    return str(response.body.decode("utf-8"))


def test_until_edited_the_lists_are_the_deployment_files(
    client: Any, staff_headers: dict[str, str]
) -> None:
    body = read(client, staff_headers)
    assert body["version"] == 0 and body["source"] == "deployment"
    assert [e["id"] for e in body["categories"]] == [
        "mindset",
        "talent",
        "workstyle",
        "data",
        "technology",
        "unknown",
    ]
    assert [e["id"] for e in body["support_types"]] == ["training", "information", "consultation"]
    assert all(e["active"] for e in body["categories"] + body["support_types"])


def test_an_added_category_appears_on_the_form_and_is_accepted_by_intake(
    client: Any, admin_headers: dict[str, str]
) -> None:
    assert consult(client, category="ai").status_code == 422
    assert 'value="ai"' not in form_page(client)

    saved = add_category(client, admin_headers, AI)
    assert saved["version"] == 1 and saved["changed"] == ["categories"]

    page = form_page(client)
    assert 'value="ai"' in page and "生成AIの活用" in page
    assert "Using generative AI" in form_page(client, "en")
    response = consult(client, category="ai")
    assert response.status_code == 201, response.body
    case = runtime.case_store().get_case(response.json_body["receipt_number"])
    assert case is not None and case["category"] == "ai"


def test_an_added_support_type_works_for_intake_and_for_experts(
    client: Any, admin_headers: dict[str, str]
) -> None:
    mentoring = {"id": "mentoring", "ja": "伴走支援", "en": "Mentoring", "active": True}
    expert = {**EXPERT, "support_types": ["mentoring"]}
    refused = client.http.post("/admin/experts", headers=admin_headers, body=json.dumps(expert))
    assert refused.status_code == 422

    current = read(client, admin_headers)
    types = [*current["support_types"], mentoring]
    assert put(client, admin_headers, edited(current, support_types=types)).status_code == 200

    assert consult(client, support_types=["mentoring"]).status_code == 201
    created = client.http.post("/admin/experts", headers=admin_headers, body=json.dumps(expert))
    assert created.status_code == 201, created.body
    assert created.json_body["expert"]["support_types"] == ["mentoring"]


def test_a_relabelled_category_shows_its_new_label_in_the_staff_mail(
    client: Any, admin_headers: dict[str, str], mailbox: Any
) -> None:
    set_category(client, admin_headers, "data", ja="データ活用・オープンデータ", en="Data use")
    receipt = consult(client, category="data").json_body["receipt_number"]
    sweep_once()
    staff = next(m for m in mailbox() if m["To"] == STAFF_A and receipt in m["Subject"])
    text = staff.get_body(("plain",)).get_content()
    assert "データ活用・オープンデータ" in text
    assert "データ利活用" not in text


def test_a_deactivated_category_leaves_the_form_but_old_cases_keep_its_label(
    client: Any, admin_headers: dict[str, str], mailbox: Any
) -> None:
    add_category(client, admin_headers, AI)
    old = consult(client, category="ai").json_body["receipt_number"]

    saved = set_category(client, admin_headers, "ai", active=False)
    assert next(e for e in saved["categories"] if e["id"] == "ai")["active"] is False
    assert 'value="ai"' not in form_page(client)
    refused = consult(client, category="ai", email="requester-b@example.com")
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json_body["errors"]] == ["category"]

    # The case from before still reads well: in mail and on the link page.
    sweep_once()
    staff = next(m for m in mailbox() if m["To"] == STAFF_A and old in m["Subject"])
    assert "生成AIの活用" in staff.get_body(("plain",)).get_content()
    page = client.http.get(links_in_staff_mail(mailbox, old)["担当する"])
    assert page.status_code == 200
    assert "生成AIの活用" in page.body.decode("utf-8")


def test_ids_can_be_neither_removed_nor_duplicated(
    client: Any, admin_headers: dict[str, str]
) -> None:
    current = read(client, admin_headers)
    without_unknown = [e for e in current["categories"] if e["id"] != "unknown"]
    removed = put(client, admin_headers, edited(current, categories=without_unknown))
    assert removed.status_code == 422
    assert removed.json_body["errors"][0]["code"] == "id_removed"
    assert "unknown" in removed.json_body["errors"][0]["message"]

    twice = [*current["categories"], {**AI, "id": "data"}]
    duplicated = put(client, admin_headers, edited(current, categories=twice))
    assert duplicated.status_code == 422
    assert duplicated.json_body["errors"][0]["code"] == "duplicate_id"

    none_active = [{**e, "active": False} for e in current["support_types"]]
    inactive = put(client, admin_headers, edited(current, support_types=none_active))
    assert inactive.status_code == 422
    assert inactive.json_body["errors"][0]["code"] == "none_active"
    assert read(client, admin_headers)["version"] == 0


@pytest.mark.parametrize(
    ("entry", "code"),
    [
        ({**AI, "id": "AI"}, "string_pattern_mismatch"),
        ({**AI, "id": "a"}, "string_pattern_mismatch"),
        ({**AI, "ja": "生成AI\r\nBcc: x@example.com"}, "value_error"),
        ({**AI, "en": ""}, "value_error"),
        ({**AI, "colour": "red"}, "extra_forbidden"),
    ],
)
def test_bad_entries_are_field_errors_and_nothing_is_stored(
    client: Any, admin_headers: dict[str, str], entry: dict[str, Any], code: str
) -> None:
    current = read(client, admin_headers)
    response = put(
        client, admin_headers, edited(current, categories=[*current["categories"], entry])
    )
    assert response.status_code == 422
    assert [e["code"] for e in response.json_body["errors"]] == [code]
    assert "Bcc" not in response.body.decode("utf-8")
    assert read(client, admin_headers)["version"] == 0


def test_an_edit_from_an_old_copy_is_a_conflict(client: Any, admin_headers: dict[str, str]) -> None:
    copy = read(client, admin_headers)
    first = put(client, admin_headers, edited(copy, categories=[*copy["categories"], AI]))
    assert first.status_code == 200
    other = {**AI, "id": "security", "ja": "情報セキュリティ", "en": "Security"}
    late = put(client, admin_headers, edited(copy, categories=[*copy["categories"], other]))
    assert late.status_code == 409
    assert [e["id"] for e in read(client, admin_headers)["categories"]][-1] == "ai"


def test_a_staff_token_reads_but_cannot_put_the_taxonomy(
    client: Any, staff_headers: dict[str, str]
) -> None:
    current = read(client, staff_headers)
    response = put(client, staff_headers, edited(current, categories=[*current["categories"], AI]))
    assert response.status_code == 403
    assert read(client, staff_headers)["version"] == 0


def test_an_edit_is_in_the_audit_log_by_id_without_labels(
    client: Any, admin_headers: dict[str, str]
) -> None:
    add_category(client, admin_headers, AI)
    set_category(client, admin_headers, "data", ja="データ活用", active=False)
    records = client.http.get("/admin/audit/taxonomy/taxonomy", headers=admin_headers).json_body[
        "records"
    ]
    assert [(r["action"], r["fields"], r["actor"]) for r in records] == [
        ("taxonomy.update", ["categories"], "管理者A"),
        ("taxonomy.update", ["categories"], "管理者A"),
    ]
    assert records[0]["detail"]["added"] == ["categories.ai"]
    assert records[1]["detail"]["relabelled"] == ["categories.data"]
    assert records[1]["detail"]["deactivated"] == ["categories.data"]
    dumped = json.dumps(records, ensure_ascii=False)
    assert "生成AI" not in dumped and "データ活用" not in dumped
