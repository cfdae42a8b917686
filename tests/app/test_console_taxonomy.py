"""Categories and support types in the console: admins relabel, deactivate and add entries
with the rules and audit of /admin/taxonomy; a stale form changes nothing."""

from __future__ import annotations

import re
from typing import Any

from chalicelib import runtime
from chalicelib.core import directory
from tests.app.console_helpers import html, post_form


def posted_form(page: str) -> dict[str, str | list[str]]:
    """The edit form's fields as the browser would post them (checked boxes only)."""
    fields: dict[str, str | list[str]] = {}
    for tag in re.findall(r"<input [^>]*>", page):
        name = re.search(r'name="([^"]+)"', tag)
        if not name:
            continue
        value = re.search(r'value="([^"]*)"', tag)
        if 'type="checkbox"' in tag and "checked" not in tag:
            continue
        fields[name.group(1)] = value.group(1) if value else ""
    return fields


def current() -> Any:
    return directory.current_taxonomy(
        runtime.admin_store(), runtime.get_deployment(), runtime.now()
    )


def test_an_admin_relabels_deactivates_and_adds_audited_as_the_person(
    client: Any, admin: tuple[str, str]
) -> None:
    cookie, _ = admin
    page = html(client.http.get("/console/taxonomy/edit", headers={"Cookie": cookie}))
    fields = posted_form(page)
    first = current().categories[0].id
    fields["categories-0-ja"] = "意識改革（改）"
    fields.pop("support_types-0-active", None)
    fields["categories-new-id"] = "security"
    fields["categories-new-ja"] = "情報セキュリティ"
    fields["categories-new-en"] = "Security"
    done = post_form(client, "/console/taxonomy", fields, cookie)
    assert done.status_code == 303, html(done)
    stored = current()
    assert stored.categories[0].id == first and stored.categories[0].ja == "意識改革（改）"
    assert stored.categories[-1].id == "security"
    assert stored.support_types[0].active is False
    records = runtime.admin_store().audit_of("taxonomy", "taxonomy", 0)
    assert [(r["action"], r["actor"]) for r in records] == [("taxonomy.update", "管理者B")]
    # The same (now stale) form again: someone saved first, nothing changes.
    again = post_form(client, "/console/taxonomy", fields, cookie)
    assert again.status_code == 409
    assert current().version == stored.version


def test_a_bad_new_id_is_named_and_nothing_is_saved(client: Any, admin: tuple[str, str]) -> None:
    cookie, _ = admin
    fields = posted_form(
        html(client.http.get("/console/taxonomy/edit", headers={"Cookie": cookie}))
    )
    fields["support_types-new-id"] = "Bad Id"
    fields["support_types-new-ja"] = "悪いID"
    refused = post_form(client, "/console/taxonomy", fields, cookie)
    assert refused.status_code == 422
    assert "支援の種類" in html(refused)
    assert current().version == 0


def test_staff_read_but_may_not_edit(client: Any, staff: tuple[str, str]) -> None:
    cookie, csrf = staff
    assert client.http.get("/console/taxonomy", headers={"Cookie": cookie}).status_code == 200
    assert client.http.get("/console/taxonomy/edit", headers={"Cookie": cookie}).status_code == 403
    refused = post_form(client, "/console/taxonomy", {"csrf": csrf, "version": "0"}, cookie)
    assert refused.status_code == 403
