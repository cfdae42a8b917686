"""The roster store under moto: profiles, the gsi1 listing (no Scan), load and recency."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.core.roster import Expert, suggest
from chalicelib.storage import keys
from chalicelib.storage.dynamo import to_item, values
from chalicelib.storage.roster import RosterStore
from tests.conftest import valid_payload


@pytest.fixture
def store(aws: dict[str, Any]) -> RosterStore:
    from chalicelib import runtime

    return RosterStore(runtime.dynamodb(), aws["env"]["TABLE_NAME"])


@pytest.fixture
def operations(aws: dict[str, Any]) -> Iterator[list[str]]:
    """The names of the DynamoDB operations the app's client makes."""
    from chalicelib import runtime

    seen: list[str] = []

    def count(model: Any, **_: Any) -> None:
        seen.append(model.name)

    events = runtime.dynamodb().meta.events
    events.register("before-call.dynamodb", count)
    yield seen
    events.unregister("before-call.dynamodb", count)


def make_expert(expert_id: str, **overrides: Any) -> Expert:
    data: dict[str, Any] = {
        "expert_id": expert_id,
        "kind": "partner" if expert_id.startswith("partner") else "advisor",
        "display_name": f"専門家{expert_id}",
        "organization": "架空大学",
        "categories": ["data"],
        "support_types": ["consultation"],
        "online_ok": True,
        "contact_emails": [f"{expert_id}@example.com"],
        "capacity": 3,
    }
    data.update(overrides)
    return Expert.model_validate(data)


def set_workflow_attributes(aws: dict[str, Any], expert_id: str, **attributes: Any) -> None:
    """What the case workflow maintains on the expert item (open_cases, last_asked_at)."""
    names = {f"#n{i}": name for i, name in enumerate(attributes)}
    aws["dynamodb"].update_item(
        TableName=aws["env"]["TABLE_NAME"],
        Key=to_item(keys.expert_key(expert_id)),
        UpdateExpression="SET " + ", ".join(f"#n{i} = :v{i}" for i in range(len(names))),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values(
            **{f"v{i}": value for i, value in enumerate(attributes.values())}
        ),
    )


def test_put_then_get_returns_the_same_expert(store: RosterStore) -> None:
    expert = make_expert("advisor-x", conflicts=["架空商事"], conflict_notes="顧問先")
    store.put(expert)
    assert store.get("advisor-x") == expert
    assert store.get("advisor-missing") is None


def test_the_item_has_its_key_index_and_item_kind(aws: dict[str, Any], store: RosterStore) -> None:
    store.put(make_expert("partner-x"))
    item = aws["dynamodb"].get_item(
        TableName=aws["env"]["TABLE_NAME"], Key=to_item(keys.expert_key("partner-x"))
    )["Item"]
    assert item["pk"] == {"S": "EXPERT#partner-x"}
    assert item["gsi1pk"] == {"S": "ROSTER"}
    assert item["gsi1sk"] == {"S": "partner#partner-x"}
    assert item["kind"] == {"S": "expert"}
    assert item["role"] == {"S": "partner"}


def test_put_replaces_the_profile_but_keeps_the_workflow_attributes(
    aws: dict[str, Any], store: RosterStore
) -> None:
    store.put(make_expert("advisor-x", conflict_notes="顧問先"))
    set_workflow_attributes(
        aws, "advisor-x", open_cases=2, last_asked_at="2026-11-20T00:00:00.000000Z"
    )
    edited = make_expert("advisor-x", display_name="専門家X（改）", capacity=4)
    store.put(edited)
    assert store.get("advisor-x") == edited
    assert store.load_of(["advisor-x"]) == {"advisor-x": 2}
    assert store.last_asked(["advisor-x"]) == {"advisor-x": "2026-11-20T00:00:00.000000Z"}


def test_list_active_queries_the_roster_index_without_scanning(
    store: RosterStore, operations: list[str]
) -> None:
    store.put(make_expert("partner-a"))
    store.put(make_expert("advisor-b"))
    store.put(make_expert("advisor-a"))
    store.put(make_expert("advisor-c", active=False))
    operations.clear()

    active = store.list_active()

    assert [e.expert_id for e in active] == ["advisor-a", "advisor-b", "partner-a"]
    assert [e.expert_id for e in store.list_all()] == [
        "advisor-a",
        "advisor-b",
        "advisor-c",
        "partner-a",
    ]
    assert operations == ["Query", "Query"]


def test_load_and_last_asked_default_for_experts_not_yet_asked(
    aws: dict[str, Any], store: RosterStore
) -> None:
    for expert_id in ("advisor-a", "advisor-b"):
        store.put(make_expert(expert_id))
    set_workflow_attributes(
        aws, "advisor-a", open_cases=1, last_asked_at="2026-11-01T00:00:00.000000Z"
    )
    assert store.load_of(["advisor-a", "advisor-b", "advisor-z"]) == {
        "advisor-a": 1,
        "advisor-b": 0,
        "advisor-z": 0,
    }
    assert store.last_asked(["advisor-a", "advisor-b"]) == {
        "advisor-a": "2026-11-01T00:00:00.000000Z"
    }


def test_load_of_many_experts_spans_batches(aws: dict[str, Any], store: RosterStore) -> None:
    ids = [f"advisor-{i:03d}" for i in range(130)]
    for expert_id in ids:
        store.put(make_expert(expert_id))
    set_workflow_attributes(aws, "advisor-129", open_cases=2)
    load = store.load_of(ids)
    assert len(load) == 130
    assert load["advisor-129"] == 2


def test_the_demo_roster_seeds_experts_that_match_a_case_by_category(
    aws: dict[str, Any], store: RosterStore, operations: list[str]
) -> None:
    from chalicelib import runtime
    from infra.local.demo_roster import ROSTER, seed

    assert seed(runtime.dynamodb(), aws["env"]["TABLE_NAME"]) == 29
    operations.clear()
    experts = store.list_active()
    ids = [e.expert_id for e in experts]
    result = suggest(valid_payload(), experts, store.load_of(ids), store.last_asked(ids))

    assert "Scan" not in operations
    assert len(experts) == len(ROSTER) == 29
    assert sum(e.kind == "advisor" for e in experts) == 18
    category = valid_payload()["category"]
    fits = [s for s in result.suggestions if s.reasons[0].code == "category_fit"]
    assert fits and result.suggestions[: len(fits)] == fits
    by_id = {e.expert_id: e for e in experts}
    for suggestion in fits:
        assert category in by_id[suggestion.expert_id].categories
    # アドバイザーM visits only and the demo case is online.
    assert ("advisor-m", "no_online") in {(e.expert_id, e.reason.code) for e in result.excluded}
