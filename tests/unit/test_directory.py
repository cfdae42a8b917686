"""The desk directory: resolving the staff list and taxonomy, the per-process cache, the edit rules."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.core import staff as staff_rules
from chalicelib.core import taxonomy as taxonomy_rules
from chalicelib.core.consultation import parse_consultation
from chalicelib.core.directory import (
    DirectoryCache,
    apply_taxonomy,
    default_taxonomy,
    load_directory,
)
from chalicelib.core.errors import InvalidSubmission
from chalicelib.core.roster import Expert
from chalicelib.core.settings import DEFAULT_DEPLOYMENT_FILE, settings_from
from chalicelib.core.staff import StaffMember
from chalicelib.core.taxonomy import Entry, Taxonomy
from chalicelib.runtime import load_deployment
from tests.conftest import local_stage_env, valid_payload

DEPLOYMENT = load_deployment(DEFAULT_DEPLOYMENT_FILE)
SETTINGS = settings_from(local_stage_env())
ENV_STAFF = ("staff-a@dx-desk.example.jp", "staff-b@dx-desk.example.jp")


def person(staff_id: str, **overrides: Any) -> StaffMember:
    return StaffMember(
        staff_id=staff_id,
        display_name=f"職員{staff_id[-1].upper()}",
        email=f"{staff_id}@dx-desk.example.jp",
        **overrides,
    )


class FakeReference:
    """The REFERENCE partition as AdminStore.reference returns it; counts the Queries."""

    def __init__(
        self, staff: list[dict[str, Any]] | None = None, taxonomy: dict[str, Any] | None = None
    ) -> None:
        self.staff = staff or []
        self.taxonomy = taxonomy
        self.queries = 0

    def reference(self, now_epoch: int | None = None) -> dict[str, Any]:
        self.queries += 1
        return {"staff": list(self.staff), "taxonomy": self.taxonomy}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_with_nobody_stored_the_desk_is_staff_notify_to() -> None:
    directory = load_directory(FakeReference(), SETTINGS, DEPLOYMENT, 0)
    assert directory.staff.source == "environment"
    assert directory.staff.notify_to == ENV_STAFF
    assert directory.staff.act_by_email == ENV_STAFF
    assert directory.staff.may_act("STAFF-A@dx-desk.example.jp")


def test_stored_members_replace_the_fallback_by_their_flags() -> None:
    members = [
        person("staff-c"),
        person("staff-d", notify=False),
        person("staff-e", may_act_by_email=False),
        person("staff-f", active=False),
    ]
    desk = staff_rules.resolve(members, ENV_STAFF)
    assert desk.source == "stored"
    assert desk.notify_to == ("staff-c@dx-desk.example.jp", "staff-e@dx-desk.example.jp")
    assert desk.act_by_email == ("staff-c@dx-desk.example.jp", "staff-d@dx-desk.example.jp")
    assert not desk.may_act("staff-a@dx-desk.example.jp")
    assert not desk.may_act("staff-f@dx-desk.example.jp")
    assert not desk.may_act("")


def test_an_unreadable_staff_record_is_left_out_not_fatal() -> None:
    store = FakeReference(
        staff=[person("staff-c").model_dump(), {"staff_id": "broken", "email": "no address"}]
    )
    directory = load_directory(store, SETTINGS, DEPLOYMENT, 0)
    assert [m.staff_id for m in directory.members] == ["staff-c"]
    assert directory.staff.notify_to == ("staff-c@dx-desk.example.jp",)


def test_the_cache_reads_once_per_period_and_again_after_it() -> None:
    store = FakeReference()
    clock = Clock()
    cache = DirectoryCache(lambda: load_directory(store, SETTINGS, DEPLOYMENT, 0), 60, clock)
    first = cache.get()
    clock.now += 59.9
    assert cache.get() is first
    assert store.queries == 1

    store.staff = [person("staff-c").model_dump()]
    clock.now += 0.2  # the period is over: the next request reads the partition again
    refreshed = cache.get()
    assert store.queries == 2
    assert refreshed.staff.notify_to == ("staff-c@dx-desk.example.jp",)
    assert cache.get() is refreshed and store.queries == 2


def test_forgetting_the_cache_reads_at_once() -> None:
    store = FakeReference()
    cache = DirectoryCache(lambda: load_directory(store, SETTINGS, DEPLOYMENT, 0), 60, Clock())
    cache.get()
    cache.forget()
    cache.get()
    assert store.queries == 2


def stored_taxonomy(**changes: Any) -> Taxonomy:
    base = default_taxonomy(DEPLOYMENT)
    categories = [
        entry.model_copy(update=changes) if entry.id == "data" else entry
        for entry in base.categories
    ]
    ai = Entry(id="ai", ja="生成AIの活用", en="Using generative AI")
    return Taxonomy(categories=[*categories, ai], support_types=base.support_types, version=3)


def test_the_stored_taxonomy_gives_labels_to_all_and_choices_to_the_active() -> None:
    taxonomy = stored_taxonomy(ja="データ活用", active=False)
    store = FakeReference(taxonomy=taxonomy.model_dump(mode="json"))
    deployment = load_directory(store, SETTINGS, DEPLOYMENT, 0).deployment
    assert deployment.categories["data"].ja == "データ活用"  # old cases still read well
    assert "data" not in deployment.active_categories()
    assert deployment.active_categories()["ai"].en == "Using generative AI"
    assert deployment.municipalities == DEPLOYMENT.municipalities

    accepted = parse_consultation(valid_payload(category="ai"), deployment)
    assert accepted.category == "ai"
    with pytest.raises(InvalidSubmission) as info:
        parse_consultation(valid_payload(category="data"), deployment)
    assert [(e.field, e.code) for e in info.value.errors] == [("category", "invalid_choice")]


def test_support_types_are_checked_against_the_active_taxonomy() -> None:
    base = default_taxonomy(DEPLOYMENT)
    taxonomy = Taxonomy(
        categories=base.categories,
        support_types=[
            *[e.model_copy(update={"active": e.id != "training"}) for e in base.support_types],
            Entry(id="mentoring", ja="伴走支援", en="Mentoring"),
        ],
    )
    deployment = apply_taxonomy(DEPLOYMENT, taxonomy)
    parsed = parse_consultation(valid_payload(support_types=["mentoring"]), deployment)
    assert parsed.support_types == ["mentoring"]
    with pytest.raises(InvalidSubmission) as info:
        parse_consultation(valid_payload(support_types=["training", "mentoring"]), deployment)
    assert [(e.field, e.code) for e in info.value.errors] == [("support_types", "invalid_choice")]


def test_an_expert_may_hold_any_support_type_id() -> None:
    expert = Expert(
        expert_id="advisor-x",
        kind="advisor",
        display_name="アドバイザーX",
        categories=["ai"],
        support_types=["mentoring"],
        online_ok=True,
        contact_emails=["advisor-x@example.com"],
        capacity=1,
    )
    assert expert.support_types == ["mentoring"]


def test_an_edit_may_not_remove_or_repeat_ids_or_leave_nothing_active() -> None:
    before = default_taxonomy(DEPLOYMENT)
    fine = stored_taxonomy(active=False)
    assert taxonomy_rules.edit_problems(before, fine) == []

    removed = fine.model_copy(update={"categories": fine.categories[1:]})
    (problem,) = taxonomy_rules.edit_problems(before, removed)
    assert (problem.field, problem.code) == ("categories", "id_removed")
    assert "mindset" in problem.message and "active" in problem.message_en

    repeated = fine.model_copy(
        update={"support_types": [*fine.support_types, fine.support_types[0]]}
    )
    (problem,) = taxonomy_rules.edit_problems(before, repeated)
    assert (problem.field, problem.code) == ("support_types", "duplicate_id")

    asleep = fine.model_copy(
        update={"categories": [e.model_copy(update={"active": False}) for e in fine.categories]}
    )
    (problem,) = taxonomy_rules.edit_problems(before, asleep)
    assert (problem.field, problem.code) == ("categories", "none_active")


def test_changes_name_ids_by_what_happened_never_labels() -> None:
    before = default_taxonomy(DEPLOYMENT)
    after = stored_taxonomy(ja="データ活用", active=False)
    fields, detail = taxonomy_rules.changes(before, after)
    assert fields == ["categories"]
    assert detail == {
        "relabelled": ["categories.data"],
        "deactivated": ["categories.data"],
        "added": ["categories.ai"],
    }
    reordered = before.model_copy(update={"support_types": list(reversed(before.support_types))})
    assert taxonomy_rules.changes(before, reordered) == (
        ["support_types"],
        {"reordered": ["support_types.*"]},
    )
    assert taxonomy_rules.changes(before, before) == ([], {})


@pytest.mark.parametrize("label", ["生成AI\nBcc: x@example.com", "", "   ", "a\u202eb", "x" * 61])
def test_a_label_is_one_short_clean_line(label: str) -> None:
    with pytest.raises(ValueError):
        Entry(id="ai", ja=label, en="AI")


def test_the_staff_list_keeps_addresses_unique_and_someone_notified() -> None:
    members = [person("staff-c"), person("staff-d", notify=False)]
    taken = person("staff-e").model_copy(update={"email": "STAFF-C@dx-desk.example.jp"})
    assert [p.code for p in staff_rules.team_problems(members, taken)] == ["email_taken"]

    last = person("staff-c", active=False)
    assert [p.code for p in staff_rules.team_problems(members, last)] == ["nobody_notified"]
    # Changing one's own record keeps one's own address.
    assert staff_rules.team_problems(members, person("staff-c", may_act_by_email=False)) == []


def test_changed_fields_are_names_only() -> None:
    before = person("staff-c")
    after = before.model_copy(update={"email": "staff-c2@dx-desk.example.jp", "notify": False})
    assert staff_rules.changed_fields(before, after) == ["email", "notify"]
    assert staff_rules.changed_fields(None, after)[0] == "active"
