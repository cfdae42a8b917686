"""The survey's pure rules (core/survey.py): who is asked, what an answer is and counts, its
links, the reminder and follow-up days, the figures; and what erasure keeps of a survey."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from chalicelib.core import privacy, survey
from chalicelib.core.actiontoken import TokenRefused
from chalicelib.core.settings import Settings, settings_from

NOW = datetime(2026, 11, 26, 1, 30, tzinfo=UTC)


def settings() -> Settings:
    return settings_from(
        {
            "TABLE_NAME": "t",
            "MAIL_FROM": "desk@example.jp",
            "STAFF_NOTIFY_TO": "staff@example.jp",
            "LINK_SIGNING_KEYS": "k1:0123456789abcdef-key",
            "PUBLIC_BASE_URL": "http://desk.test",
        }
    )


def case(**overrides: Any) -> dict[str, Any]:
    found = {
        "receipt_number": "R-1",
        "status": "in_progress",
        "email": "requester@example.com",
        "month": "2026-11",
        "category": "data",
        "expert_id": "advisor-a",
        "expires_at": 2_000_000_000,
        "language": "en",
    }
    return found | overrides


@pytest.mark.parametrize(
    ("before", "after", "opens"),
    [
        ("in_progress", "closed", True),
        ("received", "referred", True),
        ("hearing", "withdrawn", False),
        ("received", "spam", False),
        ("in_progress", "in_progress", False),
    ],
)
def test_only_closing_and_referring_open_a_survey(before: str, after: str, opens: bool) -> None:
    opened = survey.opening(case(status=before), case(status=after), "2026-11-26T01:30:00.000000Z")
    assert (opened is not None) is opens
    assert bool(survey.closing_messages(case(status=before), case(status=after))) is opens


def test_an_erased_case_opens_no_survey() -> None:
    after = case(status="closed", anonymised_at="x")
    del after["email"]
    assert survey.opening(case(), after, "2026-11-26T01:30:00.000000Z") is None


def test_the_opening_counts_by_category_and_expert_and_queues_a_follow_up_only_for_closed() -> None:
    closed = survey.opening(case(), case(status="closed"), "2026-11-26T01:30:00.000000Z")
    referred = survey.opening(case(), case(status="referred"), "2026-11-26T01:30:00.000000Z")
    assert closed is not None and referred is not None
    assert closed.counters == {
        "survey:invited": 1,
        "survey:invited:category:data": 1,
        "survey:invited:expert:advisor-a": 1,
    }
    assert closed.item["followup_due"] is True and referred.item["followup_due"] is False
    assert "email" not in closed.item and "name" not in closed.item


def test_an_answer_needs_both_choices_and_keeps_the_rest_optional() -> None:
    with pytest.raises(survey.SurveyInputInvalid) as refused:
        survey.parse_answer({"comment": "x", "rating_advisor-a": "9"}, ["advisor-a"])
    assert set(refused.value.errors) == {"satisfaction", "progress", "rating_advisor-a"}
    answer = survey.parse_answer({"satisfaction": "4", "progress": "partly"}, ["advisor-a"])
    assert answer == survey.Answer(4, "partly", "", {})
    with pytest.raises(survey.SurveyInputInvalid) as long:
        survey.parse_answer({"satisfaction": "4", "progress": "not", "comment": "あ" * 2001}, [])
    assert set(long.value.errors) == {"comment"}
    with pytest.raises(survey.SurveyInputInvalid):
        survey.parse_answer({"satisfaction": "4", "progress": "not", "comment": "a\u202eb"}, [])


def test_the_same_answer_has_the_same_digest_and_another_does_not() -> None:
    one = survey.Answer(5, "moved", "ありがとう", {"advisor-a": 4})
    assert one.digest() == survey.Answer(5, "moved", "ありがとう", {"advisor-a": 4}).digest()
    assert one.digest() != survey.Answer(5, "moved", "ありがとう", {"advisor-a": 5}).digest()


def test_an_answer_counts_satisfied_and_progressed_by_dimension() -> None:
    record = {"category": "data", "experts": ["advisor-a"]}
    counted = survey.answer_counters(record, survey.Answer(4, "partly", "", {"advisor-a": 3}))
    assert counted["survey:satisfied:expert:advisor-a"] == 1
    assert counted["survey:progressed:category:data"] == 1
    assert counted["survey:rating:expert:advisor-a:3"] == 1
    unhappy = survey.answer_counters(record, survey.Answer(3, "not"))
    assert not any(name.startswith(("survey:satisfied", "survey:progressed")) for name in unhappy)


def test_staff_hear_of_comments_and_dissatisfaction_only() -> None:
    record = {"experts": []}
    with_owner = case(owner="staff-b@example.jp")
    assert survey.staff_messages(with_owner, record, survey.Answer(5, "moved"), ("d@x",)) == []
    (mail,) = survey.staff_messages(with_owner, record, survey.Answer(5, "moved", "良かった"), ())
    assert mail.to == ("staff-b@example.jp",)
    assert len(survey.staff_messages(case(), record, survey.Answer(1, "not"), ("a@x", "b@x"))) == 2


def test_links_are_bound_to_purpose_and_requester() -> None:
    config = settings()
    url = survey.survey_url(config, "R-1", "requester@example.com", NOW)
    token = url.rsplit("/", 1)[1]
    claim = survey.read_token(token, config, NOW, followup=False)
    assert survey.is_recipient(claim, case(), config)
    assert not survey.is_recipient(claim, case(email="other@example.com"), config)
    with pytest.raises(TokenRefused):
        survey.read_token(token, config, NOW, followup=True)
    followup = survey.followup_url(config, "R-1", "requester@example.com", "same", NOW)
    claimed = survey.read_token(followup.rsplit("/", 1)[1], config, NOW, followup=True)
    assert claimed.followup == "same"
    with pytest.raises(TokenRefused):
        survey.read_token(token, config, datetime(2027, 3, 1, tzinfo=UTC), followup=False)


def test_signed_links_are_added_only_to_mail_that_asks_for_them() -> None:
    config = settings()
    assert survey.signed_links({"recipient": "a@x"}, "R-1", config, NOW) == {}
    found = survey.signed_links({"recipient": "a@x", "followup_links": True}, "R-1", config, NOW)
    assert [link["choice"] for link in found["followup_urls"]] == ["progressed", "some", "same"]


def test_the_reminder_waits_business_days_and_skips_holidays() -> None:
    # Thursday 2026-12-24: five business days back is Thursday 12-17.
    assert survey.reminder_cutoff(date(2026, 12, 24), 5) == date(2026, 12, 17)
    # The year-end closure (12/29-1/3) counts no business day: on 1/5 (Tue) two have
    # passed for a case ended during it; three only for one ended by Sunday 12/27.
    assert survey.reminder_cutoff(date(2027, 1, 5), 2) == date(2027, 1, 3)
    assert survey.reminder_cutoff(date(2027, 1, 5), 3) == date(2026, 12, 27)


def test_the_follow_up_window_is_months_back_with_a_grace_period() -> None:
    assert survey.months_before(date(2026, 5, 31), 3) == date(2026, 2, 28)
    assert survey.months_before(date(2027, 1, 15), 3) == date(2026, 10, 15)
    first, last = survey.followup_window(date(2027, 2, 26), 3)
    assert last == date(2026, 11, 26) and (last - first).days == survey.FOLLOWUP_GRACE_DAYS


def test_figures_are_rates_of_counts_with_none_for_no_data() -> None:
    empty = survey.figures({})
    assert empty["response_rate"] is None and empty["by_category"] == []
    counters = {
        "survey:invited": 4,
        "survey:responses": 2,
        "survey:satisfied": 1,
        "survey:progressed": 2,
        "survey:invited:expert:advisor-a": 2,
        "survey:responses:expert:advisor-a": 2,
        "survey:rating:expert:advisor-a:5": 1,
        "survey:rating:expert:advisor-a:2": 1,
        "followup:sent": 2,
        "followup:answered": 1,
        "followup:answer:same": 1,
    }
    found = survey.figures(counters, experts={"advisor-a": "アドバイザーA"})
    assert (found["response_rate"], found["satisfaction_rate"], found["progress_rate"]) == (
        0.5,
        0.5,
        1.0,
    )
    (expert,) = found["by_expert"]
    assert expert["label"] == "アドバイザーA" and expert["rating_average"] == 3.5
    assert found["followup"]["moved_rate"] == 0.0


def test_erasure_keeps_the_survey_choices_and_drops_the_comment_and_queues() -> None:
    items = [
        {"pk": "CASE#R-1", "sk": "CASE", "kind": "case", "receipt_number": "R-1", "version": 3}
        | {"email": "requester@example.com", "name": "相談者A", "status": "closed"},
        {
            "pk": "CASE#R-1",
            "sk": "SURVEY",
            "kind": "survey",
            "receipt_number": "R-1",
            "gsi1pk": "SURVEY#PENDING",
            "gsi1sk": "x",
            "gsi2pk": "FOLLOWUP#PENDING",
            "gsi2sk": "x",
            "satisfaction": 4,
            "progress": "moved",
            "comment": "相談者Aです。助かりました",
            "answer_digest": "abc",
            "answered_at": "2026-11-26T01:30:00.000000Z",
        },
    ]
    plan = privacy.plan_erasure(items, now=NOW, actor="管理者A")
    assert plan is not None
    (rewrite,) = [r for r in plan.rewrites if r.part == "survey"]
    assert rewrite.item["satisfaction"] == 4 and rewrite.item["progress"] == "moved"
    assert {"comment", "answer_digest", "gsi1pk", "gsi2pk"} <= set(rewrite.removed)
    exported = privacy.export_case(items, [])
    assert exported["survey"][0]["comment"] == "相談者Aです。助かりました"


def test_the_survey_mail_carries_only_what_it_shows() -> None:
    before = case(message="社内の申請書を減らしたい", phone="0590000000", name="相談者A")
    (mail,) = survey.closing_messages(before, {**before, "status": "closed"})
    assert mail.to == ("requester@example.com",) and mail.context["survey_link"] is True
    assert set(mail.context["case"]) <= set(survey.MAIL_FIELDS)
    assert mail.context["case"]["name"] == "相談者A"
    (reminder,) = survey.reminder_messages({**before, "status": "closed"})
    assert "message" not in reminder.context["case"] and "phone" not in reminder.context["case"]


def test_the_satisfaction_chart_reads_each_months_answers_and_skips_months_without() -> None:
    from chalicelib.core.survey import satisfaction_by_month

    counters = {
        "2026-10": {"cases": 4},
        "2026-11": {"survey:responses": 4, "survey:satisfied": 3, "survey:invited": 6},
        "2026-12": {"survey:responses": 1},
    }
    assert satisfaction_by_month(counters) == {"2026-11": (3, 4), "2026-12": (0, 1)}
