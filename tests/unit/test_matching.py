"""Matching a case to the roster (pure: no AWS, no settings)."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from chalicelib.core.deployment import Label
from chalicelib.core.roster import Expert, MatchResult, suggest

NOW = datetime(2026, 11, 26, 10, 30, tzinfo=UTC)
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def expert(expert_id: str, **overrides: Any) -> Expert:
    data: dict[str, Any] = {
        "expert_id": expert_id,
        "kind": "advisor",
        "display_name": f"専門家{expert_id}",
        "categories": ["data"],
        "support_types": ["consultation"],
        "areas": [],
        "online_ok": True,
        "contact_emails": [f"{expert_id}@example.com"],
        "capacity": 3,
    }
    data.update(overrides)
    return Expert.model_validate(data)


def case(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "receipt_number": "DX-2026-0001",
        "organization": "株式会社サンプル商事",
        "municipality": "24201",
        "category": "data",
        "support_types": ["consultation"],
        "preferred_format": "online",
    }
    data.update(overrides)
    return data


def ids(result: MatchResult) -> list[str]:
    return [s.expert_id for s in result.suggestions]


def excluded(result: MatchResult) -> dict[str, str]:
    return {entry.expert_id: entry.reason.code for entry in result.excluded}


def test_category_fit_ranks_first_even_against_more_support_types() -> None:
    experts = [
        expert("a", categories=["technology"], support_types=["training", "consultation"]),
        expert("b", categories=["data"], support_types=["consultation"]),
    ]
    result = suggest(case(support_types=["training", "consultation"]), experts, {}, {})
    assert ids(result) == ["b", "a"]
    codes = [s.reasons[0].code for s in result.suggestions]
    assert codes == ["category_fit", "category_other"]


def test_more_requested_support_types_rank_higher() -> None:
    experts = [
        expert("a", support_types=["information"]),
        expert("b", support_types=["training", "consultation"]),
        expert("c", support_types=["consultation"]),
    ]
    result = suggest(case(support_types=["training", "consultation"]), experts, {}, {})
    assert ids(result) == ["b", "c", "a"]
    texts = {
        s.expert_id: next(r for r in s.reasons if r.code == "support_types")
        for s in result.suggestions
    }
    assert texts["b"].ja == "希望する支援2種類のうち2種類に対応"
    assert texts["a"].en == "Offers 0 of 2 requested support types"


def test_online_case_excludes_experts_who_do_not_work_online() -> None:
    experts = [expert("a", online_ok=False), expert("b")]
    result = suggest(case(preferred_format="online"), experts, {}, {})
    assert ids(result) == ["b"]
    assert excluded(result) == {"a": "no_online"}


def test_visit_case_needs_the_municipality_in_the_area_or_no_area_limit() -> None:
    experts = [
        expert("a", areas=["24202"]),
        expert("b", areas=[]),
        expert("c", areas=["24201"], online_ok=False),
    ]
    result = suggest(case(preferred_format="visit", municipality="24201"), experts, {}, {})
    # The local expert gets the +10 for listing the municipality.
    assert ids(result) == ["c", "b"]
    assert excluded(result) == {"a": "out_of_area"}
    assert "local" in {r.code for r in result.suggestions[0].reasons}


def test_either_format_accepts_online_or_in_area_but_not_neither() -> None:
    experts = [
        expert("a", areas=["24202"], online_ok=False),
        expert("b", areas=["24202"], online_ok=True),
        expert("c", areas=["24201"], online_ok=False),
    ]
    result = suggest(case(preferred_format="either"), experts, {}, {})
    assert set(ids(result)) == {"b", "c"}
    assert excluded(result) == {"a": "out_of_reach"}


def test_experts_at_capacity_are_excluded_with_their_load() -> None:
    experts = [expert("a", capacity=2), expert("b", capacity=3)]
    result = suggest(case(), experts, {"a": 2, "b": 2}, {})
    assert ids(result) == ["b"]
    (entry,) = result.excluded
    assert entry.expert_id == "a"
    assert entry.reason.code == "at_capacity"
    assert "2/2件" in entry.reason.ja
    load = next(r for r in result.suggestions[0].reasons if r.code == "load")
    assert load.ja == "担当中 2/3件"


def test_spare_capacity_ranks_a_free_expert_above_a_busy_one() -> None:
    experts = [expert("a", capacity=4), expert("b", capacity=4)]
    result = suggest(case(), experts, {"a": 3, "b": 0}, {})
    assert ids(result) == ["b", "a"]


def test_inactive_experts_are_excluded() -> None:
    result = suggest(case(), [expert("a", active=False), expert("b")], {}, {})
    assert ids(result) == ["b"]
    assert excluded(result) == {"a": "inactive"}


@pytest.mark.parametrize(
    "conflicts",
    [["サンプル商事"], ["ｻﾝﾌﾟﾙ商事"], ["24201"], ["株式会社 サンプル商事"]],
    ids=["organisation", "half-width", "municipality", "spaces"],
)
def test_a_conflict_with_the_organisation_or_municipality_excludes_with_a_reason(
    conflicts: list[str],
) -> None:
    result = suggest(case(), [expert("a", conflicts=conflicts), expert("b")], {}, {})
    assert ids(result) == ["b"]
    (entry,) = result.excluded
    assert entry.reason.code == "conflict"
    assert entry.reason.ja.startswith("利益相反")


def test_an_unrelated_conflict_does_not_exclude() -> None:
    result = suggest(case(), [expert("a", conflicts=["別の会社", "24202"])], {}, {})
    assert ids(result) == ["a"]
    assert result.excluded == []


def test_among_equals_the_expert_asked_least_recently_comes_first() -> None:
    experts = [expert("a"), expert("b"), expert("c"), expert("d")]
    last_asked = {
        "a": "2026-11-20T00:00:00.000000Z",
        "b": "2026-10-01T00:00:00.000000Z",
        "d": "2026-11-01T00:00:00.000000Z",
    }
    result = suggest(case(), experts, {}, last_asked, now=NOW)
    assert ids(result) == ["c", "b", "d", "a"]
    recency = {
        s.expert_id: next(r for r in s.reasons if r.code == "recency") for s in result.suggestions
    }
    assert recency["c"].ja == "依頼実績なし"
    assert recency["a"].ja == "最後の依頼から6日"


def test_the_result_is_deterministic_whatever_the_input_order() -> None:
    experts = [expert(f"x{i:02d}", support_types=["consultation"]) for i in range(12)]
    experts += [expert("off", active=False), expert("full", capacity=1)]
    first = suggest(case(), experts, {"full": 1}, {}, limit=20)
    shuffled = experts[:]
    random.Random(7).shuffle(shuffled)
    assert suggest(case(), shuffled, {"full": 1}, {}, limit=20) == first
    assert ids(first) == sorted(ids(first))
    assert [entry.expert_id for entry in first.excluded] == ["full", "off"]


def test_limit_caps_the_suggestions() -> None:
    experts = [expert(f"x{i}") for i in range(8)]
    assert len(suggest(case(), experts, {}, {}).suggestions) == 5
    assert len(suggest(case(), experts, {}, {}, limit=2).suggestions) == 2


def test_unknown_category_matches_on_support_types_and_area_only() -> None:
    experts = [
        expert("a", categories=["data"], support_types=["information"]),
        expert("b", categories=["mindset"], support_types=["consultation"], areas=["24201"]),
        expert("c", categories=["talent"], support_types=["consultation"]),
    ]
    result = suggest(case(category="unknown"), experts, {}, {})
    assert ids(result) == ["b", "c", "a"]
    for suggestion in result.suggestions:
        assert suggestion.reasons[0].code == "category_open"
    assert [s.score for s in result.suggestions] == [20 + 10 + 10, 20 + 10, 10]


def test_every_reason_has_japanese_and_english_text() -> None:
    experts = [
        expert("a", areas=["24201"]),
        expert("b", active=False),
        expert("c", conflicts=["サンプル商事"]),
        expert("d", capacity=1),
        expert("e", online_ok=False),
    ]
    labels = {"data": Label(ja="データ利活用", en="Data and open data")}
    result = suggest(
        case(),
        experts,
        {"d": 1},
        {"a": "2026-11-01T00:00:00.000000Z"},
        category_labels=labels,
        now=NOW,
    )
    reasons = [r for s in result.suggestions for r in s.reasons]
    reasons += [entry.reason for entry in result.excluded]
    assert len(result.excluded) == 4
    for reason in reasons:
        assert JAPANESE.search(reason.ja), reason
        # English may quote names as they were registered (in Japanese).
        assert reason.en.isascii() or "'" in reason.en, reason
    assert result.suggestions[0].reasons[0].ja == "案件の分野「データ利活用」に登録"


def test_expert_loads_the_demo_roster_shape() -> None:
    from infra.local.demo_roster import ROSTER

    loaded = [Expert.model_validate(entry) for entry in ROSTER]
    assert loaded[0].display_name == "アドバイザーA"
    assert loaded[0].kind == "advisor"
    assert loaded[0].contact_emails == ["advisor-a@example.com"]
    assert {e.kind for e in loaded} == {"advisor", "partner"}


@pytest.mark.parametrize(
    "override",
    [
        {"capacity": 0},
        {"contact_emails": []},
        {"kind": "vendor"},
        # Support types are taxonomy data; an expert holds ids of the id pattern
        # (which ids exist is checked against the taxonomy where experts are saved).
        {"support_types": ["Lunch break"]},
    ],
)
def test_expert_rejects_an_invalid_profile(override: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        expert("a", **override)
