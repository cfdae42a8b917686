"""The requester's side, pure parts: every status in their words, what comes next and by when,
only their own history, links bound to one case and address, and plain Japanese with readings."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from chalicelib.core import requesterlink
from chalicelib.core.acting import Act, decide
from chalicelib.core.actiontoken import TokenProblem, TokenRefused
from chalicelib.core.case import Case, Status
from chalicelib.core.lifecycle import Action
from chalicelib.core.ports import Desk
from chalicelib.core.settings import DEFAULT_DEPLOYMENT_FILE, settings_from
from chalicelib.core.staff import DeskStaff
from chalicelib.outbox.render import render
from chalicelib.requester import service
from chalicelib.requester.i18n import LANGUAGES, NEXT_WORDS, STATUS_WORDS, UI
from chalicelib.requester.pages import Words, day
from chalicelib.requester.view import REQUESTER_STATUS, history, page_view
from chalicelib.runtime import load_deployment
from tests.conftest import local_stage_env

SETTINGS = settings_from(local_stage_env())
DEPLOYMENT = load_deployment(DEFAULT_DEPLOYMENT_FILE)
KANJI = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# Monday 2026-11-30, 10:00 JST.
NOW = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)


def a_case(**overrides: Any) -> dict[str, Any]:
    case: dict[str, Any] = {
        "receipt_number": "DX-261130-123456",
        "status": "received",
        "created_at": "2026-11-30T01:00:00.000000Z",
        "updated_at": "2026-11-30T01:00:00.000000Z",
        "email": "requester-a@example.com",
        "language": "ja",
        "sessions": [],
        "expires_at": int((NOW + timedelta(days=1825)).timestamp()),
    }
    return case | overrides


def view(case: dict[str, Any], events: list[dict[str, Any]] | None = None, **kw: Any) -> Any:
    return page_view(
        case,
        events or [],
        expert=kw.get("expert"),
        max_sessions=3,
        contact_days=3,
        idle_days=3,
        now=kw.get("now", NOW),
    )


def test_every_status_has_requester_words_in_every_language() -> None:
    assert set(REQUESTER_STATUS) == set(Status)
    for lang in LANGUAGES:
        assert set(REQUESTER_STATUS.values()) <= set(STATUS_WORDS[lang])
        assert set(NEXT_WORDS[lang]) == set(NEXT_WORDS["ja"])
        assert set(UI[lang]) == set(UI["ja"])
    assert [STATUS_WORDS["ja"][REQUESTER_STATUS[s]] for s in Status] == [
        "受付",
        "ご相談内容の確認",
        "専門家のご紹介",
        "ご相談中",
        "完了",
        "他機関のご案内",
        "取下げ",
        "受付終了",
        "受付（内容の確認中）",
    ]


@pytest.mark.parametrize("status", list(Status))
def test_only_an_open_case_offers_actions(status: Status) -> None:
    shown = view(a_case(status=status.value))
    open_ = status in (Status.RECEIVED, Status.HEARING, Status.MATCHING, Status.IN_PROGRESS)
    assert shown.can_act is open_
    assert shown.next_key in NEXT_WORDS["ja"]
    assert shown.current_step in shown.steps


def test_an_erased_case_offers_no_action() -> None:
    assert not view(a_case(anonymised_at="2026-12-01T00:00:00.000000Z")).can_act


def test_the_first_contact_is_promised_by_a_business_day_and_an_overdue_one_apologises() -> None:
    # Received on Monday 11-30: three business days later is Thursday 12-03.
    shown = view(a_case())
    assert (shown.next_key, shown.next_date) == ("received", date(2026, 12, 3))
    late = view(a_case(), now=NOW + timedelta(days=4))
    assert (late.next_key, late.next_date) == ("received_late", None)
    # Friday 12-04 received: the weekend does not count (Wednesday 12-09).
    friday = a_case(created_at="2026-12-04T01:00:00.000000Z")
    assert view(friday, now=NOW + timedelta(days=4)).next_date == date(2026, 12, 9)


def test_the_waiting_steps_name_the_desks_own_reminder_day() -> None:
    shown = view(a_case(status="matching", updated_at="2026-11-30T01:00:00.000000Z"))
    assert (shown.next_key, shown.next_date) == ("matching", date(2026, 12, 3))


def test_the_sessions_left_count_down_and_an_ending_replaces_the_last_step() -> None:
    shown = view(a_case(status="in_progress", sessions=[{"no": 1}], expert_id="advisor-a"))
    assert shown.sessions_left == 2 and shown.show_sessions
    withdrawn = view(a_case(status="withdrawn"))
    assert withdrawn.steps[-1] == "withdrawn" and not withdrawn.show_sessions
    assert view(a_case(status="suspected_spam")).current_step == "received"


def test_an_expert_is_shown_only_once_one_accepted() -> None:
    expert = {"display_name": "アドバイザーA", "organization": ""}
    asked = view(a_case(status="matching", asked_experts=["advisor-a"]), expert=expert)
    assert asked.expert is None
    accepted = view(a_case(status="in_progress", expert_id="advisor-a"), expert=expert)
    assert accepted.expert == expert


def test_the_history_holds_status_changes_and_own_additions_only() -> None:
    events = [
        {
            "at": "2026-11-30T02:00:00.000000Z",
            "type": "action",
            "action": "take",
            "actor": "staff-a@dx-desk.example.jp",
            "from_status": "received",
            "to_status": "received",
            "note": "内部メモ",
        },
        {
            "at": "2026-11-30T03:00:00.000000Z",
            "type": "action",
            "action": "start_hearing",
            "actor": "staff-a@dx-desk.example.jp",
            "from_status": "received",
            "to_status": "hearing",
            "note": "電話済み",
        },
        {"at": "2026-11-30T04:00:00.000000Z", "type": "requester_addition", "text": "追記です"},
        {"at": "2026-11-30T05:00:00.000000Z", "type": "update", "note": "職員のメモ"},
        {"at": "2026-11-30T06:00:00.000000Z", "type": "mail_failed", "error": "x"},
    ]
    found = history(a_case(), events)
    assert [(e.kind, e.status, e.text) for e in found] == [
        ("received", "", ""),
        ("status", "hearing", ""),
        ("addition", "", "追記です"),
    ]
    assert "staff-a" not in repr(found) and "メモ" not in repr(found)


def test_a_page_token_opens_one_case_for_one_address_until_it_expires() -> None:
    case = a_case()
    token = requesterlink.page_token(
        SETTINGS,
        receipt_number=case["receipt_number"],
        email="Requester-A@Example.com",
        expires_at=case["expires_at"],
    )
    page = requesterlink.read_page_token(token, SETTINGS, NOW)
    assert page.receipt_number == case["receipt_number"]
    assert page.is_for("requester-a@example.com")
    assert not page.is_for("requester-b@example.com") and not page.is_for(None)
    with pytest.raises(TokenRefused) as expired:
        requesterlink.read_page_token(
            token, SETTINGS, datetime.fromtimestamp(case["expires_at"] + 1, UTC)
        )
    assert expired.value.problem is TokenProblem.EXPIRED
    act = requesterlink.action_token(
        SETTINGS,
        receipt_number=case["receipt_number"],
        email=case["email"],
        action=requesterlink.ADD,
        now=NOW,
    )
    with pytest.raises(TokenRefused):  # an action token is no page token
        requesterlink.read_page_token(act, SETTINGS, NOW)
    claim = requesterlink.read_action_token(act, SETTINGS, NOW, page=page, action="add")
    assert requesterlink.use_id(claim).startswith("requester-")
    with pytest.raises(TokenRefused):  # an add token does not withdraw
        requesterlink.read_action_token(act, SETTINGS, NOW, page=page, action="withdraw")
    with pytest.raises(TokenRefused):  # and lives a day, not the case's lifetime
        requesterlink.read_action_token(
            act, SETTINGS, NOW + timedelta(days=2), page=page, action="add"
        )


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("DX-261130-123456", "DX-261130-123456"),
        ("dx261130123456", "DX-261130-123456"),
        ("ＤＸ－２６１１３０－１２３４５６", "DX-261130-123456"),
        (" dx ー 261130 ー 123456 ", "DX-261130-123456"),
    ],
)
def test_a_receipt_number_is_read_as_people_type_it(typed: str, stored: str) -> None:
    assert service.clean_receipt(typed) == stored


@pytest.mark.parametrize("typed", ["", "DX-261130-123457", "12345", "DX-2611-30123456"])
def test_a_receipt_number_in_no_usable_form_asks_to_fix_it(typed: str) -> None:
    with pytest.raises(service.InputInvalid) as refused:
        service.clean_receipt(typed)
    assert refused.value.errors[0].field == "receipt_number"


def test_an_addition_follows_the_forms_message_rules() -> None:
    assert service.clean_long("a\r\nb\u2028c ", "addition", 4000, required=True) == "a\nb\nc"
    for bad, code in (
        ("", "missing"),
        ("x" * 4001, "too_long"),
        ("a\u202eb", "forbidden_character"),
    ):
        with pytest.raises(service.InputInvalid) as refused:
            service.clean_long(bad, "addition", 4000, required=True)
        assert refused.value.errors[0].code == code
    assert service.clean_long("", "withdraw_reason", 2000, required=False) == ""


def _without_readings(text: str) -> str:
    return re.sub(r"\[[^\[\]|]+\|[^\[\]|]+\]", "", text)


def test_plain_japanese_on_the_requesters_pages_gives_a_reading_for_every_kanji() -> None:
    texts = {f"ui.{k}": v for k, v in UI["easy"].items()}
    texts |= {f"status.{k}": v for k, v in STATUS_WORDS["easy"].items()}
    texts |= {f"next.{k}": v for k, v in NEXT_WORDS["easy"].items()}
    texts["day"] = day(date(2026, 12, 1), "easy")
    missing = {k: KANJI.findall(_without_readings(v)) for k, v in texts.items()}
    assert {k: v for k, v in missing.items() if v} == {}
    # The check can fail.
    assert KANJI.findall(_without_readings("[相談|そうだん]の 内容"))


def test_words_put_the_status_and_the_date_in_the_pages_language() -> None:
    assert (
        Words("en").text("status_now", status="withdrawn") == "Your consultation is at: Withdrawn."
    )
    easy = str(Words("easy").next("received", date(2026, 12, 3)))
    assert "<ruby>月<rp>（</rp><rt>がつ</rt>" in easy and "（<ruby>木" in easy
    assert day(date(2026, 12, 3), "ja") == "2026年12月3日（木）"
    assert day(date(2026, 12, 3), "en") == "Thu 3 Dec 2026"


def full_case(**overrides: Any) -> dict[str, Any]:
    """A stored case with every attribute a Case needs."""
    return {
        **a_case(**overrides),
        "month": "2026-11",
        "channel": "api",
        "version": 3,
        "requester_type": "business",
        "municipality": "24201",
        "support_types": ["consultation"],
        "category": "data",
        "preferred_format": "online",
        "privacy_notice_version": "2026-04",
        "consented_at": "2026-11-30T01:00:00.000000Z",
        "retention_class": "case",
        "name": "相談者A",
        "message": "相談です。",
    }


def _desk() -> Desk:
    staff = DeskStaff.from_addresses(("staff-a@dx-desk.example.jp",))
    return Desk(SETTINGS, DEPLOYMENT, staff, NOW)


class _Roster:
    def __init__(self, experts: dict[str, Any]) -> None:
        self.experts = experts

    def get(self, expert_id: str) -> Any:
        return self.experts.get(expert_id)

    def list_active(self) -> list[Any]:
        return list(self.experts.values())

    def load_of(self, expert_ids: list[str]) -> dict[str, int]:
        return {}

    def last_asked(self, expert_ids: list[str]) -> dict[str, str]:
        return {}


def test_the_one_decision_tells_staff_and_every_expert_involved_when_the_requester_withdraws() -> (
    None
):
    from chalicelib.core.roster import Expert

    def expert(expert_id: str) -> Expert:
        return Expert.model_validate(
            {
                "expert_id": expert_id,
                "kind": "advisor",
                "display_name": f"アドバイザー{expert_id[-1].upper()}",
                "contact_emails": [f"{expert_id}@example.com"],
                "categories": ["data"],
                "support_types": ["consultation"],
                "online_ok": True,
                "capacity": 3,
            }
        )

    full = full_case(status="matching", asked_experts=["advisor-b"], declined_experts=["advisor-c"])
    roster = _Roster({e: expert(e) for e in ("advisor-b", "advisor-c")})
    decision = decide(
        Case.of(full),
        Act(Action.WITHDRAW, "requester", "requester", note="不要になりました"),
        roster=roster,
        desk=_desk(),
    )
    assert decision.status_after is Status.WITHDRAWN
    assert (decision.event["actor"], decision.event["channel"]) == ("requester", "requester")
    to = {m.template: m.to for m in decision.messages}
    assert to == {
        "requester_withdrew_staff": ("staff-a@dx-desk.example.jp",),
        "requester_withdrew_expert": ("advisor-b@example.com",),  # asked, not the one who declined
    }
    expert_mail = next(m for m in decision.messages if m.template == "requester_withdrew_expert")
    assert "email" not in expert_mail.context["case"] and "name" not in expert_mail.context["case"]
    # A staff withdrawal by link sends no such mail (unchanged behaviour).
    by_staff = decide(
        Case.of(full),
        Act(Action.WITHDRAW, "staff-a@dx-desk.example.jp", "link"),
        roster=roster,
        desk=_desk(),
    )
    assert by_staff.messages == []


@pytest.mark.parametrize(
    "template",
    [
        "requester_page_link",
        "requester_addition_staff",
        "requester_withdrew_staff",
        "requester_withdrew_expert",
    ],
)
@pytest.mark.parametrize("lang", ["ja", "en", "easy"])
def test_the_new_mail_renders_in_every_language_without_raw_markup(
    template: str, lang: str
) -> None:
    case = a_case(language=lang, name="相談者A", status="hearing")
    context = {
        "case": case,
        "page_url": "http://desk.test/my/a1.x",
        "text": "<b>追記</b>",
        "reason": "",
        "recipient": "staff-a@dx-desk.example.jp",
        "expert": {"display_name": "アドバイザーA"},
        "accepted": True,
    }
    mail = render(template, context, settings=SETTINGS, deployment=DEPLOYMENT)
    assert case["receipt_number"] in mail.subject
    assert "|" not in mail.text and "|" not in mail.html
    assert "<b>追記</b>" not in mail.html  # escaped
    if template == "requester_page_link":
        assert "http://desk.test/my/a1.x" in mail.text
        if lang == "en":
            assert mail.text.lstrip().startswith("Dear 相談者A")


class _Writes:
    def __init__(self) -> None:
        self.windows: list[list[str]] = []
        self.sent: list[str] = []

    def count_lookup(self, digests: list[str], hour: str, *, limit: int, expires_at: int) -> None:
        self.windows.append(digests)

    def send_page_link(self, receipt_number: str, **_: Any) -> None:
        self.sent.append(receipt_number)

    def add_to_case(self, receipt_number: str, **_: Any) -> None:
        raise AssertionError("not used by the lookup")


class _Cases:
    def __init__(self, *cases: dict[str, Any]) -> None:
        self.cases = {c["receipt_number"]: c for c in cases}

    def get_case(self, receipt_number: str, now_epoch: int | None = None) -> Any:
        return self.cases.get(receipt_number)


def test_the_lookup_counts_every_try_per_address_and_per_client_before_reading_the_case() -> None:
    case = a_case(receipt_number="DX-261130-123456")
    held = a_case(receipt_number="DX-261130-123462", status="suspected_spam")
    writes, store = _Writes(), _Cases(case, held)

    def look(receipt: str, email: str, client: str | None) -> None:
        service.lookup(receipt, email, client_id=client, store=store, writes=writes, desk=_desk())  # type: ignore[arg-type]

    look("DX-261130-123456", "requester-a@example.com", "192.0.2.1")
    look("DX-261130-123456", "someone@example.com", "192.0.2.1")
    look("DX-261130-123456", "REQUESTER-A@example.com", "192.0.2.9")
    look("DX-261130-123462", "requester-a@example.com", None)
    assert writes.sent == ["DX-261130-123456", "DX-261130-123456"]  # matches only, never held
    address_a, other, address_a_again, no_client = writes.windows
    assert len(address_a) == 2 and len(no_client) == 1
    assert address_a[0] == address_a_again[0] == no_client[0]  # the same address window
    assert address_a[1] == other[1] != address_a_again[1]  # the client's window
    assert address_a[0] != other[0]


class _RacingStore:
    """A case that staff change once between the requester's read and write."""

    def __init__(self, case: dict[str, Any]) -> None:
        self.case = case
        self.writes: list[dict[str, Any]] = []
        self.raced = False

    def get_case(self, receipt_number: str, now_epoch: int | None = None) -> dict[str, Any]:
        return self.case

    def link_use(self, unique_id: str) -> None:
        return None

    def apply_change(self, case: dict[str, Any], **kw: Any) -> dict[str, Any]:
        from chalicelib.core.errors import VersionConflict

        if not self.raced:
            self.raced = True
            self.case = {**self.case, "version": self.case["version"] + 1, "owner": "staff-a@x.jp"}
            raise VersionConflict()
        assert case["version"] == self.case["version"]  # decided again on the fresh case
        self.writes.append(kw)
        return {**case, **kw["changes"]}


def test_a_withdrawal_racing_a_staff_action_is_decided_again_on_the_fresh_case() -> None:
    store = _RacingStore(full_case(status="hearing"))
    case = store.case
    page = requesterlink.page_token(
        SETTINGS,
        receipt_number=case["receipt_number"],
        email=case["email"],
        expires_at=case["expires_at"],
    )
    act = requesterlink.action_token(
        SETTINGS,
        receipt_number=case["receipt_number"],
        email=case["email"],
        action="withdraw",
        now=NOW,
    )
    done = service.withdraw(page, act, "", store=store, roster=_Roster({}), desk=_desk())  # type: ignore[arg-type]
    assert done.case["status"] == "withdrawn"
    (write,) = store.writes
    assert write["link_use"]["actor"] == "requester"
    # The staff owner who took the case meanwhile is the one told.
    assert [m.to for m in write["messages"]] == [("staff-a@x.jp",)]
