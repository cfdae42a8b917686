"""The satisfaction survey and the follow-up, through the routes: the closing mail's signed link,
one answer per case, the staff mail, the reminder and follow-up jobs, the report, erasure."""

from __future__ import annotations

import json
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import boto3
import pytest

from chalicelib import runtime
from chalicelib.core import survey as rules
from chalicelib.core.acting import Act, perform
from chalicelib.core.actiontoken import link_for
from chalicelib.core.calendar import is_business_day, jst_date
from chalicelib.core.case import month_of
from chalicelib.core.lifecycle import Action
from chalicelib.core.ports import Desk
from chalicelib.core.receipt import JST
from chalicelib.intake.service import submit_consultation
from chalicelib.outbox.handler import sweep_once
from chalicelib.outbox.service import drain
from chalicelib.scheduled import jobs
from chalicelib.scheduled.handler import run_daily
from chalicelib.survey.service import answer_survey
from infra.local.demo_roster import seed
from tests.conftest import valid_payload

STAFF_A = "staff-a@dx-desk.example.jp"
EXPERT = "advisor-a"
FORM = {"Content-Type": "application/x-www-form-urlencoded", "Origin": "null"}
ANSWER = "satisfaction=5&progress=moved&comment=%E3%81%A8%E3%81%A6%E3%82%82%E5%8A%A9%E3%81%8B%E3%82%8A%E3%81%BE%E3%81%97%E3%81%9F"
COMMENT = "とても助かりました"


@pytest.fixture
def roster(aws: dict[str, Any]) -> None:
    seed(boto3.client("dynamodb"), aws["env"]["TABLE_NAME"])


def desk(now: datetime | None = None) -> Desk:
    found = runtime.desk()
    return found.at(now) if now else found


def new_case(*, language: str = "ja", expert: bool = True) -> tuple[str, str]:
    """A case in progress with the demo expert (or in hearing); (receipt, requester address)."""
    address = f"requester-{uuid.uuid4().hex[:8]}@example.com"
    receipt = submit_consultation(
        valid_payload(email=address),
        store=runtime.case_store(),
        channel="form",
        desk=desk(),
        language=language,
    ).receipt_number
    steps = [(Action.TAKE, None), (Action.START_HEARING, None)]
    if expert:
        steps += [
            (Action.START_MATCHING, None),
            (Action.ASK_EXPERT, EXPERT),
            (Action.EXPERT_ACCEPTED, EXPERT),
        ]
    for action, expert_id in steps:
        act(receipt, action, expert_id)
    return receipt, address


def act(
    receipt: str, action: Action, expert_id: str | None = None, now: datetime | None = None
) -> None:
    actor = STAFF_A
    if action is Action.EXPERT_ACCEPTED:
        found = runtime.roster_store().get(EXPERT)
        assert found is not None
        actor = found.contact_emails[0]
    case = runtime.case_store().get_case(receipt)
    assert case is not None
    perform(
        Act(action, actor, "link", expert_id=expert_id, address=actor, result="よろず支援拠点"),
        case,
        store=runtime.case_store(),
        roster=runtime.roster_store(),
        desk=desk(now),
    )


def mails_to(mailbox: Any, address: str) -> list[Any]:
    return [m for m in mailbox() if m["To"] == address]


def text_of(mail: Any) -> str:
    body = mail.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def survey_path(mail: Any) -> str:
    (path,) = set(re.findall(r"http://desk\.test(/survey/\S+)", text_of(mail)))
    return path


def survey_record(receipt: str) -> dict[str, Any]:
    found = runtime.survey_store().survey(receipt, int(runtime.now().timestamp()))
    assert found is not None
    return found


def month_counters() -> dict[str, int]:
    return runtime.case_store().month_counters(month_of(runtime.now()))


def closed_with_link(mailbox: Any, **kwargs: Any) -> tuple[str, str, str]:
    receipt, address = new_case(**kwargs)
    act(receipt, Action.CLOSE)
    sweep_once()
    (closing,) = [m for m in mails_to(mailbox, address) if "対応を終了しました" in m["Subject"]]
    return receipt, address, survey_path(closing)


def test_closing_sends_the_requester_a_survey_link_and_the_page_changes_nothing(
    client: Any, mailbox: Any, roster: None
) -> None:
    receipt, address, path = closed_with_link(mailbox)
    before = survey_record(receipt)
    assert before["experts"] == [EXPERT] and "answered_at" not in before
    assert month_counters()["survey:invited"] == 1
    page = client.http.get(path)
    assert page.status_code == 200
    html = page.body.decode()
    assert "ご相談についてのアンケート" in html and "大変満足" in html and "大変不満" in html
    assert 'name="rating_advisor-a"' in html  # the expert consulted may be rated
    assert receipt in html and address not in html and "相談者A" not in html
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert client.http.head(path).status_code == 200
    assert survey_record(receipt) == before  # opening (a mail scanner) records nothing


def test_one_answer_is_stored_counted_audited_and_sent_to_staff(
    client: Any, mailbox: Any, roster: None
) -> None:
    receipt, _, path = closed_with_link(mailbox)
    response = client.http.post(path, headers=FORM, body=ANSWER + "&rating_advisor-a=4")
    assert response.status_code == 200, response.body.decode()
    assert "ご回答ありがとうございました" in response.body.decode()
    stored = survey_record(receipt)
    assert (stored["satisfaction"], stored["progress"], stored["comment"]) == (5, "moved", COMMENT)
    assert stored["ratings"] == {EXPERT: 4}
    assert "gsi1pk" not in stored  # off the reminder queue
    counts = month_counters()
    assert counts["survey:responses"] == 1 and counts["survey:satisfied"] == 1
    assert counts["survey:progressed:expert:advisor-a"] == 1
    assert counts["survey:rating:expert:advisor-a:4"] == 1
    events = [
        item
        for item in runtime.case_store().case_items(receipt)
        if item.get("type") == "survey_answered"
    ]
    assert len(events) == 1 and events[0]["satisfaction"] == 5 and "comment" not in events[0]
    sweep_once()
    (staff,) = [m for m in mails_to(mailbox, STAFF_A) if "アンケートの回答" in m["Subject"]]
    assert COMMENT in text_of(staff) and receipt in staff["Subject"]


def test_a_second_answer_is_refused_politely_and_a_double_press_stores_one(
    client: Any, mailbox: Any, roster: None
) -> None:
    receipt, _, path = closed_with_link(mailbox)
    first = client.http.post(path, headers=FORM, body=ANSWER)
    again = client.http.post(path, headers=FORM, body=ANSWER)  # the same press twice
    assert (first.status_code, again.status_code) == (200, 200)
    other = client.http.post(path, headers=FORM, body="satisfaction=1&progress=not")
    assert other.status_code == 409
    assert "すでにご回答いただいています" in other.body.decode()
    assert survey_record(receipt)["satisfaction"] == 5
    assert month_counters()["survey:responses"] == 1
    page = client.http.get(path).body.decode()
    assert "すでにご回答いただいています" in page and "<form" not in page


def test_an_incomplete_answer_shows_the_errors_and_keeps_the_comment(
    client: Any, mailbox: Any, roster: None
) -> None:
    receipt, _, path = closed_with_link(mailbox)
    response = client.http.post(path, headers=FORM, body="satisfaction=4&comment=%E3%81%82%3Cb%3E")
    assert response.status_code == 422
    html = response.body.decode()
    assert "回答を確認してください" in html and 'href="#field-progress"' in html
    assert 'href="#field-satisfaction"' not in html
    assert re.search(r'id="field-satisfaction-4"[^>]*value="4" checked', html)  # kept
    assert "あ&lt;b&gt;</textarea>" in html  # what was typed, escaped, not lost
    assert "answered_at" not in survey_record(receipt)


def test_refused_links_record_nothing(client: Any, mailbox: Any, roster: None) -> None:
    receipt, _, path = closed_with_link(mailbox)
    token = path.removeprefix("/survey/")
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.http.get(f"/survey/{tampered}").status_code == 404
    assert client.http.post(f"/survey/{tampered}", headers=FORM, body=ANSWER).status_code == 404
    # A survey link is not a follow-up link (bound to its purpose).
    assert client.http.get(f"/followup/{token}").status_code == 404
    foreign = {**FORM, "Origin": "https://evil.example"}
    assert client.http.post(path, headers=foreign, body=ANSWER).status_code == 403
    # Bound to the requester: a link signed for another address is refused.
    other = rules.survey_url(runtime.get_settings(), receipt, "someone@example.com", runtime.now())
    assert client.http.get(other.removeprefix("http://desk.test")).status_code == 404
    assert "answered_at" not in survey_record(receipt)


def test_a_referral_surveys_too_and_a_withdrawal_never(
    client: Any, mailbox: Any, roster: None
) -> None:
    referred, address = new_case(expert=False)
    act(referred, Action.REFER)
    withdrawn, withdrawn_address = new_case(expert=False)
    act(withdrawn, Action.WITHDRAW)
    sweep_once()
    (closing,) = [m for m in mails_to(mailbox, address) if "対応を終了しました" in m["Subject"]]
    assert "ほかの支援機関をご案内" in text_of(closing) and "よろず支援拠点" in text_of(closing)
    assert survey_record(referred)["experts"] == []
    assert runtime.survey_store().survey(withdrawn, int(runtime.now().timestamp())) is None
    assert not [m for m in mails_to(mailbox, withdrawn_address) if "アンケート" in text_of(m)]


def test_the_closing_mail_and_page_follow_the_requesters_language(
    client: Any, mailbox: Any, roster: None
) -> None:
    _, address, path = closed_with_link(mailbox, language="easy")
    (closing,) = [m for m in mails_to(mailbox, address) if "対応を終了しました" in m["Subject"]]
    assert "アンケートに 答（こた）えて ください" in text_of(closing)
    page = client.http.get(path).body.decode()
    assert "<ruby>" in page and 'lang="ja"' in page
    english = client.http.get(path + "?lang=en").body.decode()
    assert "A short survey about your consultation" in english and '<html lang="en">' in english


def _business_day_after(start: datetime, days: int) -> datetime:
    moment = start + timedelta(days=days)
    while not is_business_day(jst_date(moment)):
        moment += timedelta(days=1)
    return moment


def test_one_reminder_after_some_business_days_and_none_once_answered(
    client: Any, mailbox: Any, roster: None
) -> None:
    silent, silent_address, _ = closed_with_link(mailbox)
    _, answered_address, path = closed_with_link(mailbox)
    assert client.http.post(path, headers=FORM, body=ANSWER).status_code == 200
    early = jobs.survey_reminders(
        runtime.survey_store(), desk(_business_day_after(runtime.now(), 1))
    )
    assert early.due and early.enqueued == 0  # not yet: a few business days first
    later = _business_day_after(runtime.now(), 10)
    report = jobs.survey_reminders(runtime.survey_store(), desk(later))
    assert (report.cases, report.enqueued) == (1, 1)
    again = jobs.survey_reminders(runtime.survey_store(), desk(later + timedelta(hours=1)))
    assert again.enqueued == 0  # idempotent: once per case, ever
    drain(outbox=runtime.outbox_store(), mailer=runtime.mailer(), desk=desk(later))
    reminders = [m for m in mails_to(mailbox, silent_address) if "ご協力のお願い" in m["Subject"]]
    assert len(reminders) == 1
    assert not [m for m in mails_to(mailbox, answered_address) if "ご協力のお願い" in m["Subject"]]
    # The reminder's link works (signed when sent).
    assert client.http.get(survey_path(reminders[0])).status_code == 200
    assert survey_record(silent)["reminded_at"]


def test_an_erased_case_keeps_its_counts_loses_its_comment_and_is_never_reminded(
    client: Any, mailbox: Any, roster: None, admin_headers: dict[str, str]
) -> None:
    receipt, address, path = closed_with_link(mailbox)
    silent, silent_address, silent_path = closed_with_link(mailbox)
    assert client.http.post(path, headers=FORM, body=ANSWER).status_code == 200
    export = client.http.post(
        "/admin/requesters/export", headers=admin_headers, body=f'{{"email": "{address}"}}'
    )
    assert export.status_code == 200, export.body.decode()
    assert COMMENT in export.body.decode()  # the requester's own answer is theirs to see
    for email in (address, silent_address):
        erased = client.http.post(
            "/admin/requesters/erase",
            headers=admin_headers,
            body=f'{{"email": "{email}", "confirm": true}}',
        )
        assert erased.status_code == 200, erased.body.decode()
    kept = survey_record(receipt)
    assert "comment" not in kept and kept["satisfaction"] == 5
    assert month_counters()["survey:responses"] == 1
    # Erased: no reminder, and the link no longer answers.
    assert "gsi1pk" not in survey_record(silent)
    report = jobs.survey_reminders(
        runtime.survey_store(), desk(_business_day_after(runtime.now(), 10))
    )
    assert report.enqueued == 0
    assert client.http.post(silent_path, headers=FORM, body=ANSWER).status_code == 404


def test_the_monthly_report_and_its_survey_csv_show_the_figures_without_comments(
    client: Any, mailbox: Any, roster: None, staff_headers: dict[str, str]
) -> None:
    first, _, happy = closed_with_link(mailbox)
    second, _, unhappy = closed_with_link(mailbox)
    third, _, _ = closed_with_link(mailbox)  # not answered
    client.http.post(happy, headers=FORM, body=ANSWER)
    client.http.post(unhappy, headers=FORM, body="satisfaction=2&progress=not")
    month = month_of(runtime.now())
    body = client.http.get(f"/admin/reports/monthly/{month}", headers=staff_headers).json_body
    figures = body["survey"]
    assert (figures["invited"], figures["responses"]) == (3, 2)
    assert figures["response_rate"] == 0.667
    assert figures["satisfaction_rate"] == 0.5 and figures["progress_rate"] == 0.5
    (expert,) = figures["by_expert"]
    assert expert["id"] == EXPERT and expert["responses"] == 2 and expert["label"] != EXPERT
    (category,) = figures["by_category"]
    assert category["id"] == "workstyle" and category["invited"] == 3
    csv = client.http.get(f"/admin/reports/monthly/{month}/survey.csv", headers=staff_headers)
    assert csv.status_code == 200 and csv.headers["Content-Type"].startswith("text/csv")
    text = csv.body.decode("utf-8-sig")
    assert "満足度 (satisfaction_rate)" in text
    assert "total,,全体,3,2,0.667,1,0.500,1,0.500" in text
    assert COMMENT not in text and "@example.com" not in text
    assert not any(receipt in text for receipt in (first, second, third))


def _followup_day(closed_at: datetime, months: int) -> datetime:
    due = rules.months_before(jst_date(closed_at), -months)
    moment = datetime.combine(due, datetime.min.time(), tzinfo=JST) + timedelta(hours=9)
    while not is_business_day(jst_date(moment)):
        moment += timedelta(days=1)
    return moment


def test_the_follow_up_asks_once_three_months_on_and_records_only_on_post(
    client: Any, mailbox: Any, roster: None, staff_headers: dict[str, str]
) -> None:
    receipt, address, _ = closed_with_link(mailbox)
    referred, referred_address = new_case(expert=False)
    act(referred, Action.REFER)
    on_the_day = _followup_day(runtime.now(), 3)
    early = jobs.followups(runtime.survey_store(), desk(on_the_day - timedelta(days=20)))
    assert early.enqueued == 0
    report = jobs.followups(runtime.survey_store(), desk(on_the_day))
    assert (report.cases, report.enqueued) == (1, 1)  # 完了 only, not 他機関紹介
    assert jobs.followups(runtime.survey_store(), desk(on_the_day)).enqueued == 0
    drain(outbox=runtime.outbox_store(), mailer=runtime.mailer(), desk=desk(on_the_day))
    (mail,) = [m for m in mails_to(mailbox, address) if "その後のご状況" in m["Subject"]]
    assert not [m for m in mails_to(mailbox, referred_address) if "その後のご状況" in m["Subject"]]
    found = dict(re.findall(r"・(\S+)\n\s+http://desk\.test(/followup/\S+)", text_of(mail)))
    assert set(found) == {"進んだ", "少し進んだ", "変わらない"}
    page = client.http.get(found["少し進んだ"])
    assert page.status_code == 200 and "「少し進んだ」と回答する" in page.body.decode()
    assert client.http.head(found["変わらない"]).status_code == 200
    assert "followup_answer" not in survey_record(receipt)  # scanners open links: nothing
    assert client.http.post(found["少し進んだ"], headers=FORM, body="").status_code == 200
    assert client.http.post(found["変わらない"], headers=FORM, body="").status_code == 409
    assert survey_record(receipt)["followup_answer"] == "some"
    (event,) = [
        item
        for item in runtime.case_store().case_items(receipt)
        if item.get("type") == "followup_answered"
    ]
    assert event["followup"] == "some" and event["actor"] == "requester"
    month = month_of(runtime.now())
    body = client.http.get(f"/admin/reports/monthly/{month}", headers=staff_headers).json_body
    followup = body["survey"]["followup"]
    assert (followup["sent"], followup["answered"], followup["moved_rate"]) == (1, 1, 1.0)


def test_the_follow_up_setting_turns_it_off(
    client: Any, mailbox: Any, roster: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed_with_link(mailbox)
    monkeypatch.setenv("FOLLOWUP_ENABLED", "false")
    report = jobs.followups(runtime.survey_store(), desk(_followup_day(runtime.now(), 3)))
    assert not report.due and report.enqueued == 0


def test_parallel_answers_store_exactly_one(client: Any, mailbox: Any, roster: None) -> None:
    receipt, _, path = closed_with_link(mailbox)
    token = path.removeprefix("/survey/")

    def press(n: int) -> str:
        form = {"satisfaction": str(1 + n % 5), "progress": "moved"}
        try:
            answer_survey(
                token,
                form,
                store=runtime.survey_store(),
                roster=runtime.roster_store(),
                desk=desk(),
            )
        except rules.SurveyAnswered:
            return "refused"
        return "stored"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(press, range(8)))
    assert outcomes.count("stored") == 1, outcomes
    assert month_counters()["survey:responses"] == 1
    events = [
        item
        for item in runtime.case_store().case_items(receipt)
        if item.get("type") == "survey_answered"
    ]
    assert len(events) == 1


def test_from_the_form_to_the_report_through_links_only(
    client: Any, mailbox: Any, roster: None, staff_headers: dict[str, str]
) -> None:
    address = f"walk-{uuid.uuid4().hex[:8]}@example.com"
    submitted = client.http.post(
        "/consultations",
        headers={"Content-Type": "application/json"},
        body=json.dumps(valid_payload(email=address)),
    )
    assert submitted.status_code == 201
    receipt = submitted.json_body["receipt_number"]
    sweep_once()
    (notice,) = [m for m in mails_to(mailbox, STAFF_A) if receipt in m["Subject"]]
    hearing = re.search(r"・ヒアリングを開始する\n\s+http://desk\.test(\S+)", text_of(notice))
    assert hearing
    assert client.http.post(hearing.group(1), headers=FORM, body="").status_code == 200
    close = link_for(
        runtime.get_settings(),
        action=Action.CLOSE,
        receipt_number=receipt,
        recipient=STAFF_A,
        now=runtime.now(),
    ).removeprefix("http://desk.test")
    assert client.http.post(close, headers=FORM, body="").status_code == 200
    sweep_once()
    (closing,) = [m for m in mails_to(mailbox, address) if "対応を終了しました" in m["Subject"]]
    path = survey_path(closing)
    assert client.http.post(path, headers=FORM, body=ANSWER).status_code == 200
    assert (
        client.http.post(path, headers=FORM, body="satisfaction=3&progress=not").status_code == 409
    )
    month = month_of(runtime.now())
    figures = client.http.get(f"/admin/reports/monthly/{month}", headers=staff_headers).json_body[
        "survey"
    ]
    assert (figures["invited"], figures["responses"], figures["satisfaction_rate"]) == (1, 1, 1.0)
    csv = client.http.get(f"/admin/reports/monthly/{month}/survey.csv", headers=staff_headers)
    assert "total,,全体,1,1,1.000,1,1.000,1,1.000" in csv.body.decode("utf-8-sig")


def test_a_parallel_double_press_of_one_answer_is_thanked_every_time(
    client: Any, mailbox: Any, roster: None
) -> None:
    receipt, _, path = closed_with_link(mailbox)
    token = path.removeprefix("/survey/")

    def press(_: int) -> str:
        try:
            answer_survey(
                token,
                {"satisfaction": "4", "progress": "partly"},
                store=runtime.survey_store(),
                roster=runtime.roster_store(),
                desk=desk(),
            )
        except rules.SurveyAnswered as exc:
            return "same" if exc.same else "other"
        return "stored"

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(press, range(6)))
    assert sorted(set(outcomes)) == ["same", "stored"] and outcomes.count("stored") == 1
    assert survey_record(receipt)["satisfaction"] == 4


def test_the_store_tells_a_repeated_answer_from_another(
    client: Any, mailbox: Any, roster: None
) -> None:
    """The write's own condition (not the page's earlier read) decides: the second write of
    one answer is told it is the same, a different one that it is not."""
    receipt, _, _ = closed_with_link(mailbox)
    case = runtime.case_store().get_case(receipt)
    assert case is not None
    record = survey_record(receipt)
    answer = rules.Answer(5, "moved")

    def write(given: rules.Answer) -> None:
        runtime.survey_store().answer(
            case,
            given,
            event=rules.answer_event(given, "2026-12-01T00:00:00.000000Z", uuid.uuid4().hex[:12]),
            counters=rules.answer_counters(record, given),
            messages=[],
            mail_expires_at=2**31,
        )

    write(answer)
    with pytest.raises(rules.SurveyAnswered) as same:
        write(answer)
    with pytest.raises(rules.SurveyAnswered) as other:
        write(rules.Answer(1, "not"))
    assert (same.value.same, other.value.same) == (True, False)
    assert month_counters()["survey:responses"] == 1


def test_the_daily_scheduled_run_sends_the_reminder(
    client: Any, mailbox: Any, roster: None
) -> None:
    closed_with_link(mailbox)
    counts = run_daily(desk(_business_day_after(runtime.now(), 10)))
    assert counts["survey_reminders_due"] == 1 and counts["survey_reminders_enqueued"] == 1
    assert "followups_due" in counts


def test_an_over_long_comment_is_kept_whole_with_its_message_never_cut_by_the_page(
    client: Any, mailbox: Any, roster: None
) -> None:
    """No maxlength on the box (a browser would cut a paste silently, counting UTF-16 units):
    the server names the limit and gives back every character typed."""
    receipt, _, path = closed_with_link(mailbox)
    page = client.http.get(path).body.decode()
    assert "maxlength" not in page
    comment = "😀助かりました。" * 300  # 2,400 characters
    body = f"satisfaction=4&progress=moved&comment={quote(comment)}"
    response = client.http.post(path, headers=FORM, body=body)
    assert response.status_code == 422
    html = response.body.decode()
    assert "2000文字以内" in html and f"{comment}</textarea>" in html
    assert "answered_at" not in survey_record(receipt)
