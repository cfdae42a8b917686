"""Every mail template with a realistic, fictitious context, built by the code that sends it.

The contexts come from the same functions production uses (intake, the case
lifecycle through `perform`, the digest and reminders, the monthly summary,
failure notices), walked in memory on one fictitious case; links are signed
by `with_links` as the outbox does. Only the answer to a staff reply is
written out here: its context is built inside the inbound handler, which
needs a parsed MIME reply and a store.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.core import lifecycle, survey
from chalicelib.core.acting import Act, perform, session_record
from chalicelib.core.calendar import jst_date
from chalicelib.core.case import OutgoingMessage, Status, new_case, staff_intake_messages
from chalicelib.core.consultation import parse_consultation
from chalicelib.core.deployment import Deployment
from chalicelib.core.deskmail import desk_receipt_number
from chalicelib.core.ports import Desk
from chalicelib.core.roster import Expert
from chalicelib.core.settings import Settings
from chalicelib.core.staff import DeskStaff
from chalicelib.core.timefmt import iso
from chalicelib.outbox.deliverability import failure_notices
from chalicelib.outbox.render import RenderedMail, render
from chalicelib.outbox.service import with_links
from chalicelib.requester.service import addition_messages, page_link_message
from chalicelib.scheduled.mail import digest_messages, reminder_messages, summary_messages
from chalicelib.templating import template_dir
from infra.local.demo_roster import ROSTER

# A Thursday morning in Japan (10:30 JST); every mail of the gallery is dated around it.
NOW = datetime(2026, 11, 26, 1, 30, tzinfo=UTC)
# Where links in the gallery's mail point (a reserved, fictitious domain).
MAIL_BASE_URL = "https://desk.example.jp/api"

REQUEST: dict[str, Any] = {
    "requester_type": "business",
    "organization": "株式会社みえ架空製作所",
    "name": "架空 花子",
    "name_kana": "かくう はなこ",
    "email": "hanako.kakuu@example.com",
    "phone": "059-000-0000",
    "municipality": "24201",
    "support_types": ["training", "consultation"],
    "category": "workstyle",
    "message": "紙の申請書と押印が多く、承認に時間がかかっています。\n"
    "社員20名ほどの会社で、何から電子化すればよいか相談したいです。",
    "preferred_format": "online",
    "privacy_consent": True,
}


class GalleryError(RuntimeError):
    """The gallery could not be built as intended (a path did not lead where it should)."""


@dataclass(frozen=True)
class MailSample:
    name: str  # file stem: the template, or template-variant
    template: str
    note: str  # what the sample shows (Japanese, for the index)
    message: OutgoingMessage
    receipt_number: str


@dataclass(frozen=True)
class RenderedSample:
    sample: MailSample
    rendered: RenderedMail


class DemoRoster:
    """The demo roster (infra/local/demo_roster.py) in memory, as core/acting.py reads a roster."""

    def __init__(self) -> None:
        self._experts = {e["expert_id"]: Expert.model_validate(e) for e in ROSTER}

    def get(self, expert_id: str) -> Expert | None:
        return self._experts.get(expert_id)

    def list_active(self) -> list[Expert]:
        return [expert for expert in self._experts.values() if expert.active]

    def load_of(self, expert_ids: list[str]) -> dict[str, int]:
        return {}

    def last_asked(self, expert_ids: list[str]) -> dict[str, str]:
        return {}


class RecordingCase:
    """Keeps the mail one action would queue, and the case as the write would leave it."""

    def __init__(self) -> None:
        self.queued: list[OutgoingMessage] = []

    def apply_change(
        self,
        case: dict[str, Any],
        *,
        changes: dict[str, Any],
        event: dict[str, Any],
        messages: list[OutgoingMessage],
        **_: Any,
    ) -> dict[str, Any]:
        self.queued.extend(messages)
        return {**case, **changes, "version": int(case["version"]) + 1, "updated_at": event["at"]}


def _case(
    receipt_number: str,
    created: datetime,
    settings: Settings,
    deployment: Deployment,
    *,
    held: bool = False,
    **overrides: Any,
) -> dict[str, Any]:
    return new_case(
        parse_consultation({**REQUEST, **overrides}, deployment),
        receipt_number=receipt_number,
        now=created,
        channel="form",
        privacy_notice_version=deployment.privacy_notice_version,
        raw_name=None,
        retention_days=settings.case_retention_days,
        held=held,
    )


def _one(messages: list[OutgoingMessage], template: str, **context: Any) -> OutgoingMessage:
    """The first queued message of `template` whose context has the given values."""
    for message in messages:
        if message.template == template and all(
            message.context.get(key) == value for key, value in context.items()
        ):
            return message
    raise GalleryError(f"no {template} mail {context or ''} among {[m.template for m in messages]}")


def _lifecycle_samples(
    case: dict[str, Any], desk: DeskStaff, settings: Settings, deployment: Deployment
) -> tuple[list[MailSample], dict[str, Any]]:
    """One case walked from 受付 to its first consultation, keeping the mail each step sends;
    returns the samples and the case as the walk left it."""
    roster = DemoRoster()
    staff = desk.notify_to[0]
    receipt = str(case["receipt_number"])
    samples: list[MailSample] = []
    moment = NOW

    def act(
        action: lifecycle.Action,
        actor: str,
        expert_id: str | None = None,
        session: dict[str, Any] | None = None,
    ) -> list[OutgoingMessage]:
        nonlocal case, moment
        moment += timedelta(minutes=20)
        store = RecordingCase()
        done = perform(
            Act(action, actor, "link", expert_id=expert_id, address=actor, session=session),
            case,
            store=store,
            roster=roster,
            desk=Desk(settings=settings, deployment=deployment, staff=desk, now=moment),
        )
        case = done.case
        return store.queued

    def keep(name: str, note: str, message: OutgoingMessage) -> None:
        samples.append(MailSample(name, message.template, note, message, receipt))

    intake = staff_intake_messages(case, desk)
    keep("intake_ack", "相談者への自動返信", _one(intake, "intake_ack"))
    # The requester's language first: one sample per other language of the form.
    for lang, said in (("en", "英語"), ("easy", "やさしい日本語")):
        other = staff_intake_messages({**case, "language": lang}, desk)
        keep(f"intake_ack-{lang}", f"相談者への自動返信（{said}）", _one(other, "intake_ack"))
    keep("intake_staff", "新しい相談の通知（事務局）", _one(intake, "intake_staff"))
    act(lifecycle.Action.TAKE, staff)
    act(lifecycle.Action.START_HEARING, staff)
    matching = _one(act(lifecycle.Action.START_MATCHING, staff), "matching_staff")
    keep("matching_staff", "専門家の候補（調整開始）", matching)
    first, second = (s["expert_id"] for s in matching.context["suggestions"][:2])
    keep(
        "expert_request",
        "専門家への依頼",
        _one(act(lifecycle.Action.ASK_EXPERT, staff, first), "expert_request"),
    )
    first_address = _address(roster, first)
    declined = act(lifecycle.Action.EXPERT_DECLINED, first_address, first)
    act(lifecycle.Action.ASK_EXPERT, staff, second)
    second_address = _address(roster, second)
    accepted = act(lifecycle.Action.EXPERT_ACCEPTED, second_address, second)
    introduction = _one(accepted, "intro_requester")
    keep("intro_requester", "相談者への専門家の紹介", introduction)
    for lang, said in (("en", "英語"), ("easy", "やさしい日本語")):
        context = {
            **introduction.context,
            "case": {**introduction.context["case"], "language": lang},
        }
        keep(
            f"intro_requester-{lang}",
            f"相談者への専門家の紹介（{said}）",
            dataclasses.replace(introduction, context=context),
        )
    keep("intro_expert", "専門家への相談者の紹介", _one(accepted, "intro_expert"))
    keep(
        "expert_answer_staff",
        "専門家が引き受けた（事務局）",
        _one(accepted, "expert_answer_staff", accepted=True),
    )
    keep(
        "expert_answer_staff-declined",
        "専門家が辞退した（事務局、次の候補つき）",
        _one(declined, "expert_answer_staff", accepted=False),
    )
    report = {
        "session_date": jst_date(moment).isoformat(),
        "session_format": "online",
        "report": "申請書の棚卸しの進め方と、無料の電子申請サービスの候補を紹介しました。\n"
        "次回は承認の流れを一緒に図にします。",
    }
    sessions = act(
        lifecycle.Action.RECORD_SESSION,
        second_address,
        second,
        session=session_record(report, 1, moment),
    )
    keep(
        "session_recorded",
        "相談の記録（事務局）",
        _one(sessions, "session_recorded", for_staff=True),
    )
    keep(
        "session_recorded-expert",
        "相談の記録（専門家への控え）",
        _one(sessions, "session_recorded", for_staff=False),
    )
    return samples, case


def _address(roster: DemoRoster, expert_id: str) -> str:
    expert = roster.get(expert_id)
    if expert is None:
        raise GalleryError(f"expert {expert_id} is not in the demo roster")
    return expert.contact_emails[0]


def _desk_samples(
    main_case: dict[str, Any], desk: DeskStaff, settings: Settings, deployment: Deployment
) -> list[MailSample]:
    """The scheduled mail (digest, reminder, monthly summary) and failure notices."""
    today = jst_date(NOW) + timedelta(days=1)  # the next morning
    idle = settings.reminder_idle_business_days
    staff = desk.notify_to[0]

    def older(receipt: str, days: int, **overrides: Any) -> dict[str, Any]:
        created = NOW - timedelta(days=days)
        return _case(receipt, created, settings, deployment, **overrides)

    stalled = older(
        "DX-261117-305918",
        9,
        requester_type="resident",
        organization=None,
        name="架空 一郎",
        email="ichiro.kakuu@example.com",
        municipality="24202",
        category="unknown",
        support_types=["information"],
        message="スマートフォンで市の手続きをする方法を知りたいです。",
    )
    hearing = {
        **older("DX-261124-771204", 2, category="data", email="jiro.kakuu@example.net"),
        "status": Status.HEARING.value,
        "owner": staff,
    }
    held = _case(
        "DX-261126-650233",
        NOW - timedelta(hours=3),
        settings,
        deployment,
        organization="架空商会",
        name="架空 三郎",
        email="saburo.kakuu@example.org",
        message="ホームページ制作のご案内です。格安で承ります。詳しくはお電話ください。",
        held=True,
    )
    _, digests = digest_messages(
        [stalled, hearing, main_case],
        today=today,
        idle_limit=idle,
        staff=desk.notify_to,
        held=[held],
        actors=frozenset(address.lower() for address in desk.act_by_email),
    )
    reminders = reminder_messages(stalled, today=today, idle_limit=idle, staff=desk.notify_to)
    month = (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    _, summaries = summary_messages(
        month, MONTH_COUNTERS, to=settings.desk_manager_to or desk.notify_to
    )
    bounce = failure_notices(
        receipt_number=str(main_case["receipt_number"]),
        template="intake_ack",
        recipients=[str(main_case["email"])],
        reason="bounce",
        detail="Permanent/General",
        case=main_case,
        blocked=set(),
        desk=desk.notify_to,
        settings=settings,
        at=iso(NOW),
    )
    digest_receipt = desk_receipt_number("digest", today.isoformat())
    desk_failure = failure_notices(
        receipt_number=digest_receipt,
        template="daily_digest",
        recipients=[desk.notify_to[-1]],
        reason="rejected",
        detail="MessageRejected",
        case=None,
        blocked=set(),
        desk=desk.notify_to,
        settings=settings,
        at=iso(NOW),
    )
    return [
        MailSample(
            "daily_digest",
            "daily_digest",
            "毎朝の未完了案件一覧（迷惑投稿の疑いつき）",
            digests[0],
            digest_receipt,
        ),
        MailSample(
            "idle_reminder",
            "idle_reminder",
            "停滞している案件の確認依頼",
            reminders[0],
            str(stalled["receipt_number"]),
        ),
        MailSample(
            "monthly_summary",
            "monthly_summary",
            "月次の相談件数",
            summaries[0],
            desk_receipt_number("summary", month),
        ),
        MailSample(
            "mail_undeliverable_staff",
            "mail_undeliverable_staff",
            "相談者へのメールが届かなかった（事務局）",
            bounce[0],
            str(main_case["receipt_number"]),
        ),
        MailSample(
            "mail_undeliverable_staff-desk",
            "mail_undeliverable_staff",
            "事務局あてのメールが送れなかった",
            desk_failure[0],
            digest_receipt,
        ),
    ]


# A month of fictitious counters, as the statistics items hold them (core/case.py names).
MONTH_COUNTERS = {
    "cases": 37,
    "requester_type:business": 19,
    "requester_type:resident": 9,
    "requester_type:municipality": 6,
    "requester_type:other": 3,
    "category:workstyle": 11,
    "category:data": 9,
    "category:technology": 7,
    "category:talent": 5,
    "category:mindset": 3,
    "category:unknown": 2,
    "support_type:consultation": 28,
    "support_type:training": 15,
    "support_type:information": 12,
    "municipality:24201": 12,
    "municipality:24202": 8,
    "municipality:24203": 5,
    "municipality:24204": 4,
    "municipality:24205": 3,
    "municipality:outside": 5,
    "channel:form": 29,
    "channel:api": 8,
    "outcome:closed": 11,
    "outcome:referred": 4,
    "outcome:withdrawn": 2,
    "outcome:spam": 1,
    "lead:first_contact:count": 31,
    "lead:first_contact:business_days": 34,
    "lead:matched:count": 14,
    "lead:matched:business_days": 83,
    "lead:closed:count": 11,
    "lead:closed:business_days": 236,
    "survey:invited": 15,
    "survey:invited:category:workstyle": 6,
    "survey:invited:expert:advisor-a": 4,
    "survey:responses": 9,
    "survey:responses:category:workstyle": 4,
    "survey:responses:expert:advisor-a": 3,
    "survey:satisfied": 7,
    "survey:satisfied:category:workstyle": 3,
    "survey:satisfied:expert:advisor-a": 3,
    "survey:progressed": 6,
    "survey:progressed:category:workstyle": 3,
    "survey:progressed:expert:advisor-a": 2,
}


def _reply_samples(case: dict[str, Any], desk: DeskStaff) -> list[MailSample]:
    """The answer to a staff member's reply, applied and refused (shape of mailin/service.py)."""
    receipt = str(case["receipt_number"])
    summary = {key: case[key] for key in ("receipt_number", "status", "category", "created_at")}
    applied = OutgoingMessage(
        template="reply_result",
        to=(desk.notify_to[0],),
        context={
            "case": {**summary, "status": Status.HEARING.value, "owner": desk.notify_to[0]},
            "refused": False,
            "problems": [],
            "applied": {
                "status": Status.HEARING.value,
                "owner": desk.notify_to[0],
                "category": "data",
            },
            "note_recorded": True,
            "replyable": True,
        },
    )
    refused = OutgoingMessage(
        template="reply_result",
        to=(desk.notify_to[0],),
        context={
            "case": summary,
            "refused": True,
            "problems": [
                "1行目：「担当者」という指示はありません。",
                "2行目：分野「IT」は登録されていません。",
            ],
            "applied": {},
            "note_recorded": False,
            "replyable": True,
        },
    )
    return [
        MailSample("reply_result", "reply_result", "返信の指示を反映した", applied, receipt),
        MailSample(
            "reply_result-refused", "reply_result", "返信の指示を処理できなかった", refused, receipt
        ),
    ]


def _requester_samples(
    case: dict[str, Any], desk: DeskStaff, settings: Settings, deployment: Deployment
) -> list[MailSample]:
    """The requester's side: the page link sent again (each language), an addition told to
    the staff, and a withdrawal from the page told to the staff and the expert (`perform`)."""
    receipt = str(case["receipt_number"])
    samples = []
    for lang, said in (("ja", ""), ("en", "（英語）"), ("easy", "（やさしい日本語）")):
        message = page_link_message({**case, "language": lang})
        name = "requester_page_link" + (f"-{lang}" if lang != "ja" else "")
        samples.append(
            MailSample(
                name, message.template, f"相談者のページのリンク再送{said}", message, receipt
            )
        )
    (addition, *_) = addition_messages(
        case, "従業員は20名です。\n申請書は月に200件ほどあります。", desk.notify_to
    )
    samples.append(
        MailSample(
            "requester_addition_staff",
            addition.template,
            "相談者からの追記（事務局）",
            addition,
            receipt,
        )
    )
    store = RecordingCase()
    perform(
        Act(
            lifecycle.Action.WITHDRAW,
            "requester",
            "requester",
            note="社内で対応できることになりました。",
        ),
        case,
        store=store,
        roster=DemoRoster(),
        desk=Desk(
            settings=settings, deployment=deployment, staff=desk, now=NOW + timedelta(days=9)
        ),
    )
    samples.append(
        MailSample(
            "requester_withdrew_staff",
            "requester_withdrew_staff",
            "相談者の取下げ（事務局）",
            _one(store.queued, "requester_withdrew_staff"),
            receipt,
        )
    )
    samples.append(
        MailSample(
            "requester_withdrew_expert",
            "requester_withdrew_expert",
            "相談者の取下げ（専門家）",
            _one(store.queued, "requester_withdrew_expert"),
            receipt,
        )
    )
    return samples


def _survey_samples(case: dict[str, Any], desk: DeskStaff) -> list[MailSample]:
    """The requester's closing mail with the survey link (each language, and a referral), the
    one reminder, the follow-up and the answer as staff read it (core/survey.py)."""
    receipt = str(case["receipt_number"])
    closed = {**case, "status": Status.CLOSED.value}
    samples = []
    for lang, said in (("ja", ""), ("en", "（英語）"), ("easy", "（やさしい日本語）")):
        (closing,) = survey.closing_messages(case, {**closed, "language": lang})
        name = "case_closed_requester" + ("" if lang == "ja" else f"-{lang}")
        samples.append(
            MailSample(
                name,
                "case_closed_requester",
                f"完了のお知らせとアンケート{said}",
                closing,
                receipt,
            )
        )
    referred = {**case, "status": Status.REFERRED.value, "outcome": "よろず支援拠点"}
    (referral,) = survey.closing_messages(case, referred)
    samples.append(
        MailSample(
            "case_closed_requester-referred",
            "case_closed_requester",
            "他機関のご案内とアンケート",
            referral,
            receipt,
        )
    )
    (reminder,) = survey.reminder_messages(closed)
    samples.append(
        MailSample(
            "survey_reminder", "survey_reminder", "アンケートの再依頼（1回のみ）", reminder, receipt
        )
    )
    (followup,) = survey.followup_messages(closed)
    samples.append(
        MailSample(
            "followup_request", "followup_request", "3か月後のフォローアップ", followup, receipt
        )
    )
    answer = survey.Answer(2, "partly", "日程の調整に時間がかかりました。", {})
    if case.get("expert_id"):
        answer = dataclasses.replace(answer, ratings={str(case["expert_id"]): 4})
    (staff,) = survey.staff_messages(
        closed, {"experts": [case.get("expert_id")]}, answer, desk.notify_to
    )
    samples.append(
        MailSample(
            "survey_answer_staff",
            "survey_answer_staff",
            "アンケートの回答（事務局、ご意見あり）",
            staff,
            receipt,
        )
    )
    return samples


def mail_templates() -> list[str]:
    """Every mail template of templates/mail (those with a subject, text and HTML part)."""
    folder = template_dir() / "mail"
    return sorted(
        path.name.removesuffix(".subject.txt")
        for path in folder.glob("*.subject.txt")
        if (folder / path.name.replace(".subject.txt", ".txt")).exists()
        and (folder / path.name.replace(".subject.txt", ".html")).exists()
    )


def _console_signin_sample(settings: Settings, desk: DeskStaff) -> MailSample:
    """The console's sign-in mail (console/signin.py builds the same context)."""
    message = OutgoingMessage(
        template="console_signin",
        to=(desk.notify_to[0],),
        context={
            "url": f"{settings.base_url()}/console/signin/{'x' * 43}",
            "minutes": settings.console_link_minutes,
            "display_name": "職員A",
        },
    )
    return MailSample(
        "console_signin",
        "console_signin",
        "管理コンソールへのサインイン用リンク",
        message,
        desk_receipt_number("signin", NOW.date().isoformat()),
    )


def mail_samples(settings: Settings, deployment: Deployment) -> list[MailSample]:
    """A sample of every mail template (some in two variants); fails on a template without one."""
    desk = DeskStaff.from_addresses(settings.staff_notify_to)
    received = _case("DX-261126-048217", NOW, settings, deployment)
    walked, in_progress = _lifecycle_samples(received, desk, settings, deployment)
    samples = [
        *walked,
        *_desk_samples(in_progress, desk, settings, deployment),
        *_reply_samples(received, desk),
        *_requester_samples(in_progress, desk, settings, deployment),
        *_survey_samples(in_progress, desk),
        _console_signin_sample(settings, desk),
    ]
    missing = sorted(set(mail_templates()) - {sample.template for sample in samples})
    if missing:
        raise GalleryError(
            f"no sample context for mail template(s) {', '.join(missing)}: add one in infra/gallery/mails.py"
        )
    return samples


def render_sample(sample: MailSample, settings: Settings, deployment: Deployment) -> RenderedSample:
    """Through the real renderer, with links signed as the outbox signs them."""
    stored = {"context": sample.message.context, "receipt_number": sample.receipt_number}
    context = with_links(stored, settings, NOW)
    return RenderedSample(
        sample, render(sample.template, context, settings=settings, deployment=deployment)
    )
