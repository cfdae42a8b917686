"""Roster CSV through the API: dry run, import, edit, deactivate, export, audit; bad files change nothing."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib import runtime
from chalicelib.core.roster import Expert
from chalicelib.core.rostercsv import BOM
from infra.local.demo_roster import ROSTER

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "roster"
ROSTER_CSV = (FIXTURES / "roster-29.csv").read_bytes()
BAD_CSV = (FIXTURES / "roster-bad.csv").read_bytes()


def csv_headers(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "Content-Type": "text/csv; charset=utf-8"}


def import_csv(client: Any, headers: dict[str, str], body: bytes, *, dry_run: bool) -> Any:
    return client.http.post(
        f"/admin/experts/import?dry_run={'true' if dry_run else 'false'}",
        headers=csv_headers(headers),
        body=body,
    )


def roster_ids(client: Any, headers: dict[str, str]) -> list[str]:
    listed = client.http.get("/admin/experts", headers=headers).json_body
    return [row["expert"]["expert_id"] for row in listed["experts"]]


def audit_records(client: Any, headers: dict[str, str]) -> list[dict[str, Any]]:
    month = runtime.now().strftime("%Y-%m")
    response = client.http.get(f"/admin/audit?month={month}&limit=500", headers=headers)
    assert response.status_code == 200
    assert response.json_body["next"] is None
    return list(response.json_body["records"])


def exported_rows(body: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(body.removeprefix(BOM), newline=""))
    return [
        {name.split("[")[1].rstrip("]"): value for name, value in row.items()} for row in reader
    ]


def test_dry_run_import_edit_deactivate_export_and_audit(
    client: Any, admin_headers: dict[str, str]
) -> None:
    dry = import_csv(client, admin_headers, ROSTER_CSV, dry_run=True)
    assert dry.status_code == 200, dry.body
    assert dry.json_body["dry_run"] is True and dry.json_body["applied"] is False
    assert dry.json_body["rows"] == 29
    assert dry.json_body["counts"] == {"create": 29, "update": 0, "unchanged": 0}
    assert dry.json_body["errors"] == []
    assert "削除も無効化もされません" in dry.json_body["message"]
    assert roster_ids(client, admin_headers) == []  # a dry run changes nothing
    assert [r["action"] for r in audit_records(client, admin_headers)] == ["token.bootstrap"]

    applied = import_csv(client, admin_headers, ROSTER_CSV, dry_run=False)
    assert applied.status_code == 200, applied.body
    assert applied.json_body["applied"] is True
    assert applied.json_body["counts"] == {"create": 29, "update": 0, "unchanged": 0}
    store = runtime.roster_store()
    # はい/いいえ and full-width digits in the fixture read as the demo roster's values.
    assert store.list_all() == [Expert.model_validate(entry) for entry in ROSTER]
    kinds = [e.kind for e in store.list_all()]
    assert (kinds.count("advisor"), kinds.count("partner")) == (18, 11)

    edited = {**store.get("advisor-c").model_dump(), "capacity": 5, "organization": "サンプル大学"}  # type: ignore[union-attr]
    put = client.http.put(
        "/admin/experts/advisor-c", headers=admin_headers, body=json.dumps(edited)
    )
    assert put.status_code == 200 and put.json_body["changed"] == ["capacity", "organization"]
    off = client.http.post("/admin/experts/partner-b/deactivate", headers=admin_headers)
    assert off.status_code == 200

    exported = client.http.get("/admin/experts.csv", headers=admin_headers)
    assert exported.status_code == 200
    assert exported.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert exported.headers["Content-Disposition"].startswith('attachment; filename="experts-')
    assert exported.headers["Cache-Control"] == "no-store"
    assert exported.body.startswith(BOM.encode("utf-8"))
    text = exported.body.decode("utf-8")
    assert text.count("\r\n") == 30 and "\n" not in text.replace("\r\n", "")
    rows = exported_rows(text)
    assert len(rows) == 29
    by_id = {row["expert_id"]: row for row in rows}
    assert by_id["advisor-c"]["capacity"] == "5"
    assert by_id["advisor-c"]["organization"] == "サンプル大学"
    assert by_id["partner-b"]["active"] == "0"
    assert by_id["advisor-m"]["areas"] == "24201|24204"
    assert {row["active"] for id_, row in by_id.items() if id_ != "partner-b"} == {"1"}

    # The export reads back as no change at all.
    again = import_csv(client, admin_headers, exported.body, dry_run=True)
    assert again.status_code == 200, again.body
    assert again.json_body["counts"] == {"create": 0, "update": 0, "unchanged": 29}

    records = audit_records(client, admin_headers)
    actions = [r["action"] for r in records]
    created = {r["target_id"] for r in records if r["action"] == "expert.create"}
    assert created == {entry["expert_id"] for entry in ROSTER}
    assert actions.count("expert.create") == 29
    update = [r for r in records if r["action"] == "expert.update"]
    assert [(r["target_id"], r["fields"]) for r in update] == [
        ("advisor-c", ["capacity", "organization"])
    ]
    off_records = [r for r in records if r["action"] == "expert.deactivate"]
    assert [(r["target_id"], r["fields"]) for r in off_records] == [("partner-b", ["active"])]
    summary = [r for r in records if r["action"] == "roster.import"]
    assert len(summary) == 1
    assert summary[0]["detail"] == {"rows": 29, "created": 29, "updated": 0, "complete": True}
    assert actions.count("roster.export") == 1
    expert_changes = [r for r in records if r["target_type"] in ("expert", "roster")]
    assert {r["actor"] for r in expert_changes} == {"管理者A"}
    assert all(r["request_id"] and r["token_id"] == "0a0a0a0a" for r in expert_changes)
    dumped = json.dumps(records, ensure_ascii=False)
    assert "@example" not in dumped and "サンプル大学" not in dumped


def test_bad_rows_are_reported_per_row_and_nothing_changes(
    client: Any, admin_headers: dict[str, str]
) -> None:
    for dry_run in (True, False):
        response = import_csv(client, admin_headers, BAD_CSV, dry_run=dry_run)
        assert response.status_code == 422, response.body
        body = response.json_body
        assert body["error"] == "validation_error" and body["applied"] is False
        assert "何も変更していません" in body["message"]
        found = {(e["row"], e["field"], e["code"]) for e in body["errors"]}
        assert found == {
            (2, "categories", "unknown_id"),
            (3, "contact_emails", "too_short"),
            (4, "capacity", "not_a_number"),
            (5, "expert_id", "duplicate_id"),
            (6, "display_name", "formula_like"),
        }
        for error in body["errors"]:
            assert error["message"].startswith(f"「{error['column']}」")
            assert error["message_en"]
        # The valid last row is planned, never applied.
        assert [(c["row"], c["action"]) for c in body["changes"]] == [(7, "create")]
        # Values are never repeated back.
        raw = response.body.decode("utf-8")
        for value in ("astrology", "たくさん", "HYPERLINK", "x1b@example.com", "X1（重複）"):
            assert value not in raw
    assert roster_ids(client, admin_headers) == []
    assert [r["action"] for r in audit_records(client, admin_headers)] == ["token.bootstrap"]


def test_formula_like_values_are_escaped_on_export_and_read_back(
    client: Any, admin_headers: dict[str, str]
) -> None:
    expert = {
        "expert_id": "advisor-f1",
        "kind": "advisor",
        "display_name": "=1+2",
        "organization": "@サンプル",
        "categories": ["data"],
        "support_types": ["consultation"],
        "online_ok": True,
        "contact_emails": ["advisor-f1@example.com"],
        "capacity": 2,
        "conflict_notes": "-負の印象を与えない書き方\n二行目",
        "conflicts": ["+サンプル商事", "'引用"],
    }
    created = client.http.post("/admin/experts", headers=admin_headers, body=json.dumps(expert))
    assert created.status_code == 201, created.body
    text = client.http.get("/admin/experts.csv", headers=admin_headers).body.decode("utf-8")
    row = exported_rows(text)[0]
    assert row["display_name"] == "'=1+2"
    assert row["organization"] == "'@サンプル"
    assert row["conflict_notes"] == "'-負の印象を与えない書き方\n二行目"
    assert row["conflicts"] == "'+サンプル商事|'引用"
    back = import_csv(client, admin_headers, text.encode("utf-8"), dry_run=True)
    assert back.json_body["counts"] == {"create": 0, "update": 0, "unchanged": 1}, back.body


def test_full_width_and_padded_formulas_are_escaped_and_refused_by_the_dry_run(
    client: Any, admin_headers: dict[str, str]
) -> None:
    expert = {
        "expert_id": "advisor-f2",
        "kind": "advisor",
        "display_name": '＝HYPERLINK("http://evil.example")',
        "organization": " =1+1",
        "categories": ["data"],
        "support_types": ["consultation"],
        "online_ok": True,
        "contact_emails": ["advisor-f2@example.com"],
        "capacity": 2,
    }
    created = client.http.post("/admin/experts", headers=admin_headers, body=json.dumps(expert))
    assert created.status_code == 201, created.body
    text = client.http.get("/admin/experts.csv", headers=admin_headers).body.decode("utf-8")
    row = exported_rows(text)[0]
    assert row["display_name"] == "'" + expert["display_name"]
    assert row["organization"] == "' =1+1"
    unescaped = text.replace("'＝HYPERLINK", "＝HYPERLINK")
    refused = import_csv(client, admin_headers, unescaped.encode("utf-8"), dry_run=True)
    assert refused.status_code == 422, refused.body
    assert [(e["field"], e["code"]) for e in refused.json_body["errors"]] == [
        ("display_name", "formula_like")
    ]
    assert "HYPERLINK" not in refused.body.decode("utf-8")


def test_the_same_file_as_json_and_an_update_through_the_csv(
    client: Any, admin_headers: dict[str, str]
) -> None:
    text = ROSTER_CSV.decode("utf-8-sig")
    first = client.http.post(
        "/admin/experts/import?dry_run=false",
        headers=admin_headers,
        body=json.dumps({"csv": text}),
    )
    assert first.status_code == 200 and first.json_body["counts"]["create"] == 29
    lines = text.split("\r\n")
    header, rows = lines[0], [line for line in lines[1:] if line]
    changed = rows[0].replace(
        ",はい,advisor-a@example.com,３,はい,", ",いいえ,advisor-a@example.com,４,はい,"
    )
    assert changed != rows[0]
    subset = "\r\n".join([header, changed, rows[1]]) + "\r\n"
    second = client.http.post(
        "/admin/experts/import?dry_run=false",
        headers=csv_headers(admin_headers),
        body=subset.encode("utf-8"),
    )
    assert second.status_code == 200, second.body
    assert [(c["expert_id"], c["action"], c["fields"]) for c in second.json_body["changes"]] == [
        ("advisor-a", "update", ["capacity", "online_ok"]),
        ("advisor-b", "unchanged", []),
    ]
    # Experts missing from the file are kept, active.
    assert len(second.json_body["not_in_file"]) == 27
    assert all(e.active for e in runtime.roster_store().list_all())
    assert runtime.roster_store().get("advisor-a").capacity == 4  # type: ignore[union-attr]


def test_size_encoding_and_shape_limits(client: Any, admin_headers: dict[str, str]) -> None:
    huge = ROSTER_CSV + b"x" * 1_100_000
    assert import_csv(client, admin_headers, huge, dry_run=True).status_code == 413
    shift_jis = ROSTER_CSV.decode("utf-8-sig").encode("cp932")
    refused = import_csv(client, admin_headers, shift_jis, dry_run=True)
    assert refused.status_code == 400 and refused.json_body["error"] == "not_utf8"
    header = ROSTER_CSV.decode("utf-8-sig").split("\r\n")[0]
    many = (
        header
        + "\r\n"
        + "".join(
            f"advisor-z{i},advisor,Z,,data,training,,1,z{i}@example.com,1,1,,\r\n"
            for i in range(2001)
        )
    )
    too_many = import_csv(client, admin_headers, many.encode("utf-8"), dry_run=True)
    assert too_many.status_code == 422
    assert [e["code"] for e in too_many.json_body["errors"]] == ["too_many_rows"]
    unknown_column = import_csv(
        client, admin_headers, ("メモ," + header + "\r\n").encode("utf-8"), dry_run=True
    )
    assert unknown_column.status_code == 422
    assert unknown_column.json_body["errors"][0]["code"] == "unknown_column"
    bad_query = client.http.post(
        "/admin/experts/import?dry_run=maybe", headers=csv_headers(admin_headers), body=ROSTER_CSV
    )
    assert bad_query.status_code == 422
    wrong_type = client.http.post(
        "/admin/experts/import",
        headers={**admin_headers, "Content-Type": "text/plain"},
        body=ROSTER_CSV,
    )
    assert wrong_type.status_code == 415
    assert roster_ids(client, admin_headers) == []


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/admin/experts.csv"), ("POST", "/admin/experts/import")]
)
def test_staff_may_neither_export_nor_import(
    client: Any, staff_headers: dict[str, str], method: str, path: str
) -> None:
    response = client.http.request(
        method, path, headers={**staff_headers, "Content-Type": "text/csv"}, body=ROSTER_CSV
    )
    assert response.status_code == 403
