"""The form's pages and the action-link pages, reached in Chromium the way people reach them.

The form is shown as the server renders it (static/form.js is not loaded, as
with JavaScript off): the gallery is about what the templates produce. Each
path is reached through the real pages and posts of a live local stack; only
the form token is set by hand (signed with the stack's FORM_SIGNING_KEYS) to
choose the timing: an old enough token for a normal send, the page's own fresh
one for a send that comes too soon, a day-old one for the expired notice.
Every step is checked to land where it should (HTTP status and the words the
page must show), so a gallery never shows a path that was not taken.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from chalicelib.core import lifecycle
from chalicelib.core.actiontoken import link_for
from chalicelib.core.case import Status
from chalicelib.core.settings import Settings
from chalicelib.core.text import ruby_base
from chalicelib.intake import formtoken
from chalicelib.intake.i18n import LANGUAGES, UI
from infra.gallery.mails import GalleryError
from infra.local.demo_roster import ROSTER

if TYPE_CHECKING:
    from playwright.sync_api import Page

# What the browser reports of a page: its language, the raw <title> text (newlines
# kept), every <h1>, the <main> and the whole body as a person sees them (innerText).
READ_PAGE = """() => {
  const title = document.querySelector('title');
  const main = document.querySelector('main');
  return {
    lang: document.documentElement.lang,
    title: title ? title.textContent : null,
    headings: [...document.querySelectorAll('h1')].map(h => h.innerText),
    main: main ? main.innerText : null,
    text: document.body ? document.body.innerText : '',
  };
}"""

FILL = """([values, token, honeypot]) => {
  const form = document.querySelector('#consultation-form');
  for (const [name, value] of Object.entries(values)) {
    const chosen = Array.isArray(value) ? value.map(String) : [String(value)];
    for (const control of form.querySelectorAll(`[name="${name}"]`)) {
      if (control.type === 'checkbox' && name === 'privacy_consent') control.checked = Boolean(value);
      else if (control.type === 'radio' || control.type === 'checkbox') control.checked = chosen.includes(control.value);
      else if (control.type !== 'hidden') control.value = String(value);
    }
  }
  if (token) form.querySelector('input[name="form_token"]').value = token;
  if (honeypot) form.querySelector('input[name="website"]').value = honeypot;
}"""

# A second press of a link's button after it acted (the page no longer offers one).
POST_AGAIN = """(url) => {
  const form = document.createElement('form');
  form.method = 'post';
  form.action = url;
  document.body.append(form);
  form.submit();
}"""

# The gallery's stack asks again for posts sooner than this after rendering, so the
# too-fast path does not depend on how busy the machine is.
FORM_MIN_SECONDS = 30
SETTLED_SECONDS = FORM_MIN_SECONDS + 60
RECEIPT = re.compile(r"\bDX-\d{6}-\d{6}\b")


@dataclass
class Shot:
    """One page as captured: what the browser showed, and where its screenshots are."""

    name: str
    group: str  # "form" or "actions"
    lang: str  # the language asked for
    html_lang: str  # the language the page declares
    note: str  # what the page shows (Japanese, for the index)
    status: int
    path: str
    title: str | None
    headings: list[str]
    main: str | None
    text: str
    screenshots: dict[str, str] = field(default_factory=dict)
    # Width → how wide the page drew itself when that is wider than the screen.
    overflow: dict[str, int] = field(default_factory=dict)


Capture = Callable[["Page", str, str, str, int], Shot]


def submission(lang: str, tag: str) -> dict[str, Any]:
    """A complete, fictitious consultation; the address makes each one distinct (no replay)."""
    common = {
        "requester_type": "business",
        "phone": "059-000-0000",
        "municipality": "24201",
        "support_types": ["training", "consultation"],
        "category": "workstyle",
        "preferred_format": "online",
        "privacy_consent": True,
        "email": f"gallery-{tag}-{lang}@example.com",
    }
    if lang == "en":
        return {
            **common,
            "organization": "Example Trading Co., Ltd.",
            "name": "Alex Example",
            "name_kana": "",
            "message": "We would like to move our paper application forms online.\n"
            "Where should a company of twenty people start?",
        }
    return {
        **common,
        "organization": "株式会社みえ架空製作所",
        "name": "架空 花子",
        "name_kana": "かくう はなこ",
        "message": "紙の申請書と押印が多く、承認に時間がかかっています。\n"
        "社員20名ほどの会社で、何から電子化すればよいか相談したいです。",
    }


def form_token(settings: Settings, age_seconds: int) -> str:
    key_id, keys = settings.form_keys()
    return formtoken.sign(keys, key_id, int(time.time()) - age_seconds)


def _press(page: Page, selector: str) -> int:
    with page.expect_navigation() as navigation:
        page.click(selector)
    response = navigation.value
    return response.status if response is not None else 0


def _goto(page: Page, url: str) -> int:
    response = page.goto(url)
    return response.status if response is not None else 0


def _expect(page: Page, status: int, wanted: int, *texts: str) -> None:
    """Stop the gallery when a path did not land where it should."""
    # The words without their readings: a page in やさしい日本語 shows <ruby> (base + <rt>).
    shown = str(
        page.evaluate(
            """() => {
              if (!document.body) return '';
              const copy = document.body.cloneNode(true);
              copy.querySelectorAll('rt, rp').forEach(n => n.remove());
              document.body.appendChild(copy);
              copy.hidden = false;
              const text = copy.innerText;
              copy.remove();
              return text;
            }"""
        )
    )
    missing = [ruby_base(text) for text in texts if ruby_base(text) not in shown]
    if status != wanted or missing:
        raise GalleryError(
            f"{page.url}: expected HTTP {wanted} showing {missing or list(texts)}, "
            f"got HTTP {status}:\n{shown[:1500]}"
        )


def read_page(page: Page) -> dict[str, Any]:
    return dict(page.evaluate(READ_PAGE))


def form_pages(page: Page, api: str, lang: str, settings: Settings, capture: Capture) -> list[Shot]:
    """Every state of the form in one language, in the order a person may meet them."""
    t = UI[lang]
    url = f"{api}/form/input?lang={lang}"
    settled = form_token(settings, SETTLED_SECONDS)
    shots: list[Shot] = []

    def shot(state: str, note: str, status: int) -> None:
        shots.append(capture(page, f"form-{state}-{lang}", lang, note, status))

    def fill(tag: str, *, token: str | None, honeypot: str = "") -> None:
        _goto(page, url)
        page.evaluate(FILL, [submission(lang, tag), token, honeypot])

    status = _goto(page, url)
    _expect(page, status, 200, t["to_confirm"])
    shot("input", "入力", status)

    page.evaluate(FILL, [{}, settled, ""])
    status = _press(page, "#to-confirm")
    _expect(page, status, 422, t["error_summary_title"])
    shot("input-errors", "入力エラー（何も入力せずに確認へ）", status)

    fill("expired", token=form_token(settings, settings.form_max_age_seconds + 3600))
    status = _press(page, "#to-confirm")
    _expect(page, status, 400, t["token_expired"])
    shot("token-expired", "時間切れのトークン（入力内容を残して再表示）", status)

    fill("done", token=settled)
    status = _press(page, "#to-confirm")
    _expect(page, status, 200, t["confirm_intro"])
    shot("confirm", "確認", status)
    status = _press(page, "#submit")
    _expect(page, status, 200, t["receipt_hint"])
    shot("done", "完了", status)

    # Another consultation sent with the token the stored one used: 409, asked once more.
    fill("second", token=settled)
    _press(page, "#to-confirm")
    status = _press(page, "#submit")
    _expect(page, status, 409, t["token_used"])
    shot("token-used", "同じ画面から2件目を送信（409、もう一度「送信する」）", status)

    # The page's own token: 送信する comes sooner than FORM_MIN_SECONDS after rendering.
    fill("fast", token=None)
    _press(page, "#to-confirm")
    status = _press(page, "#submit")
    _expect(page, status, 400, t["too_fast"])
    shot("too-fast", "早すぎる送信（まだ送信されていません）", status)

    fill("held", token=form_token(settings, SETTLED_SECONDS), honeypot="https://spam.example")
    _press(page, "#to-confirm")
    status = _press(page, "#submit")
    _expect(page, status, 200, t["held_hint"])
    shot("done-held", "迷惑投稿の疑い（空欄の欄に入力あり）の完了", status)
    return shots


def all_form_pages(page: Page, api: str, settings: Settings, capture: Capture) -> list[Shot]:
    """The form in every language the application offers (chalicelib.intake.i18n.LANGUAGES)."""
    return [shot for lang in LANGUAGES for shot in form_pages(page, api, lang, settings, capture)]


def receipt_on(shots: list[Shot], name: str) -> str:
    """The receipt number a 完了 page showed."""
    for shot in shots:
        found = RECEIPT.search(shot.text) if shot.name == name else None
        if found:
            return found.group(0)
    raise GalleryError(f"no receipt number on {name}")


def _expert_for(category: str) -> tuple[str, str]:
    """A demo expert registered for the category: (expert id, address)."""
    for expert in ROSTER:
        if category in expert["categories"]:
            return str(expert["expert_id"]), str(expert["email"])
    raise GalleryError(f"no demo expert for the category {category}")


def action_pages(page: Page, receipt: str, settings: Settings, capture: Capture) -> list[Shot]:
    """The pages behind signed links in mail, on a case the form stored (Japanese only)."""
    staff = settings.staff_notify_to[0]
    expert_id, expert_address = _expert_for(submission("ja", "done")["category"])
    shots: list[Shot] = []

    def link(
        action: lifecycle.Action,
        recipient: str = staff,
        *,
        receipt_number: str = receipt,
        expert_id: str | None = None,
        serial: int | None = None,
        now: datetime | None = None,
    ) -> str:
        return link_for(
            settings,
            action=action,
            receipt_number=receipt_number,
            recipient=recipient,
            now=now or datetime.now(UTC),
            expert_id=expert_id,
            serial=serial,
        )

    def shot(state: str, note: str, status: int) -> None:
        shots.append(capture(page, f"actions-{state}", "ja", note, status))

    def act(url: str) -> None:
        _goto(page, url)
        status = _press(page, "form button[type=submit]")
        _expect(page, status, 200, "を実行しました")

    take = link(lifecycle.Action.TAKE)
    status = _goto(page, take)
    _expect(page, status, 200, "「担当する」の確認", "このページを開いただけでは")
    shot("confirm", "確認画面（開いただけでは何も変わらない）", status)
    status = _press(page, "form button[type=submit]")
    _expect(page, status, 200, "「担当する」を実行しました")
    shot("done", "実行した", status)
    status = _goto(page, take)
    _expect(page, status, 200, "このリンクはすでに使われています")
    shot("confirm-used", "使用済みのリンクを開いた", status)
    with page.expect_navigation() as navigation:
        page.evaluate(POST_AGAIN, take)
    response = navigation.value
    status = response.status if response is not None else 0
    _expect(page, status, 409, "このリンクはすでに使われています")
    shot("already-used", "使用済みのリンクでもう一度実行（409）", status)

    act(link(lifecycle.Action.START_HEARING))
    status = _goto(page, link(lifecycle.Action.START_HEARING))
    refusal = lifecycle.IllegalTransition(lifecycle.Action.START_HEARING, Status.HEARING)
    _expect(page, status, 200, refusal.message)
    shot("confirm-refused", "もうできない操作のリンク（状態が進んだ後）", status)

    act(link(lifecycle.Action.START_MATCHING))
    act(link(lifecycle.Action.ASK_EXPERT, expert_id=expert_id))
    accept = link(lifecycle.Action.EXPERT_ACCEPTED, expert_address, expert_id=expert_id)
    status = _goto(page, accept)
    _expect(page, status, 200, "「相談を引き受ける」の確認", "ご相談の内容")
    shot("confirm-expert", "専門家あての確認画面（相談内容つき）", status)
    status = _press(page, "form button[type=submit]")
    _expect(page, status, 200, "を実行しました")
    session = link(lifecycle.Action.RECORD_SESSION, expert_address, expert_id=expert_id, serial=1)
    status = _goto(page, session)
    _expect(page, status, 200, "相談した日")
    shot("confirm-session", "相談の記録（専門家の入力欄）", status)

    old = datetime.now(UTC) - timedelta(days=settings.action_link_ttl_days + 1)
    status = _goto(page, link(lifecycle.Action.CLOSE, now=old))
    _expect(page, status, 410, "有効期限が切れています")
    shot("expired", "有効期限切れのリンク（410）", status)

    token = urlsplit(take).path.rsplit("/", 1)[1]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    status = _goto(page, take.replace(token, forged))
    _expect(page, status, 404, "このリンクは使えません")
    shot("invalid", "正しくないリンク（404）", status)

    status = _goto(page, link(lifecycle.Action.TAKE, receipt_number="DX-000101-000001"))
    _expect(page, status, 404, "案件が見つかりません")
    shot("not-found", "案件が見つからない（404）", status)
    return shots


def requester_pages(
    page: Page, receipt: str, address: str, settings: Settings, capture: Capture
) -> list[Shot]:
    """The requester's own page (its link signed as the automatic reply signs it), adding
    information, the withdrawal step and the lookup, on a case the form stored."""
    # Imported here: the words of the requester's pages.
    from chalicelib.core.requesterlink import page_link
    from chalicelib.requester.i18n import LANGUAGES as REQUESTER_LANGUAGES
    from chalicelib.requester.i18n import UI as WORDS

    url = page_link(
        settings,
        receipt_number=receipt,
        email=address,
        expires_at=int((datetime.now(UTC) + timedelta(days=30)).timestamp()),
    )
    api = url.split("/my/", 1)[0]
    shots: list[Shot] = []

    def shot(state: str, lang: str, note: str, status: int) -> None:
        shots.append(capture(page, f"requester-{state}-{lang}", lang, note, status))

    for lang in REQUESTER_LANGUAGES:
        status = _goto(page, f"{url}?lang={lang}")
        _expect(page, status, 200, receipt, WORDS[lang]["add_button"])
        shot("page", lang, "相談者のページ（受付）", status)
        status = _goto(page, f"{api}/my/lookup?lang={lang}")
        _expect(page, status, 200, WORDS[lang]["lookup_button"])
        shot("lookup", lang, "ページのリンクを受け取る", status)

    _goto(page, f"{url}?lang=ja")
    status = _press(page, "#add-heading ~ form button[type=submit]")
    _expect(page, status, 422, "「追記する内容」を入力してください。")
    shot("page-error", "ja", "空の追記（入力欄の横にメッセージ）", status)
    page.fill("#field-text", "従業員は20名です。申請書は月に200件ほどあります。")
    status = _press(page, "#add-heading ~ form button[type=submit]")
    _expect(page, status, 200, WORDS["ja"]["added_heading"])
    shot("added", "ja", "追記を受け付けた", status)

    status = _goto(page, f"{url}/withdraw?lang=ja")
    _expect(page, status, 200, WORDS["ja"]["withdraw_button"])
    shot("withdraw", "ja", "取下げの確認", status)
    page.fill("#field-reason", "社内で対応できることになりました。")
    status = _press(page, "form button[type=submit]")
    _expect(page, status, 200, WORDS["ja"]["withdrawn_heading"])
    shot("withdrawn", "ja", "取下げを受け付けた", status)
    status = _goto(page, f"{url}?lang=ja")
    _expect(page, status, 200, "いまの状況は「取下げ」です。", "追記や取下げはできません")
    shot("page-withdrawn", "ja", "取下げ後のページ（操作なし）", status)

    _goto(page, f"{api}/my/lookup")
    page.fill("#field-receipt_number", receipt)
    page.fill("#field-email", address)
    status = _press(page, "form button[type=submit]")
    _expect(page, status, 200, WORDS["ja"]["lookup_done_heading"])
    shot("lookup-done", "ja", "照会の答え（一致してもしなくても同じ）", status)
    return shots


def survey_pages(page: Page, receipt: str, settings: Settings, capture: Capture) -> list[Shot]:
    """The requester's satisfaction survey (chalicelib/survey) on the case the action pages
    left in progress: closed by a staff link, then the survey in each language, its errors,
    the thanks and the polite refusal of a second answer."""
    from chalicelib.core import survey

    staff = settings.staff_notify_to[0]
    shots: list[Shot] = []
    close = link_for(
        settings,
        action=lifecycle.Action.CLOSE,
        receipt_number=receipt,
        recipient=staff,
        now=datetime.now(UTC),
    )
    _goto(page, close)
    _expect(page, _press(page, "form button[type=submit]"), 200, "を実行しました")
    requester = submission("ja", "done")["email"]
    url = survey.survey_url(settings, receipt, requester, datetime.now(UTC))
    headings = {"ja": "ご相談についてのアンケート", "en": "A short survey", "easy": "アンケート"}
    for lang in ("ja", "en", "easy"):
        status = _goto(page, f"{url}?lang={lang}")
        _expect(page, status, 200, headings[lang])
        shots.append(capture(page, f"survey-{lang}", lang, "満足度アンケート", status))
    _goto(page, url)
    status = _press(page, "form button[type=submit]")
    _expect(page, status, 422, "回答を確認してください")
    shots.append(capture(page, "survey-errors", "ja", "未回答の項目があるとき（422）", status))
    page.check("#field-satisfaction-4")
    page.check("#field-progress")
    page.fill("#field-comment", "日程の調整が早く、助かりました。")
    status = _press(page, "form button[type=submit]")
    _expect(page, status, 200, "ご回答ありがとうございました")
    shots.append(capture(page, "survey-thanks", "ja", "回答を受け付けた", status))
    status = _goto(page, url)
    _expect(page, status, 200, "すでにご回答いただいています")
    shots.append(capture(page, "survey-answered", "ja", "回答済みのリンクを開いた", status))
    return shots
