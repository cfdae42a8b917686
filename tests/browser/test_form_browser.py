"""The consultation form in a real browser: keyboard use, errors, back, no-JS, iframe, axe.

One live stack and one Chromium serve the whole module (see conftest.py). Each
test gets fresh browser contexts. Submissions use a distinct tag so that no two
are taken as a replay of each other, and mails are matched by receipt number.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from typing import TYPE_CHECKING, Any

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - depends on the environment
    if os.environ.get("CI") == "true":
        raise
    pytest.skip(
        "Playwright for Python is not installed (pip install playwright)", allow_module_level=True
    )

from tests.browser.conftest import (
    ARTIFACTS,
    BROWSER_DIR,
    DESKTOP,
    MOBILE,
    ZOOM_200,
    LiveStack,
    OpenPage,
)
from tests.conftest import REQUIRED_FIELDS, local_stage_env

if TYPE_CHECKING:
    from playwright.sync_api import FrameLocator, Locator, Page

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
RECEIPT = re.compile(r"^DX-\d{6}-\d{6}$")
# A little over FORM_MIN_SECONDS=2 (tokens count whole seconds): sooner, the form
# asks the person to press again.
MIN_FILL_SECONDS = 2.3
STAFF = ("staff-a@dx-desk.example.jp", "staff-b@dx-desk.example.jp")

TEXT_FIELDS = ("organization", "name", "name_kana", "email", "phone", "message")
REQUIRED = REQUIRED_FIELDS  # every field the contract requires
CHOICES = {
    "requester_type": ("resident", "business", "municipality", "prefecture", "other"),
    "support_types": ("training", "information", "consultation"),
    "category": ("mindset", "talent", "workstyle", "data", "technology", "unknown"),
    "preferred_format": ("online", "visit", "either"),
}
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")

_rendered_at: dict[int, float] = {}


def submission(tag: str | None = None) -> dict[str, Any]:
    """A complete Japanese submission (fictitious), unique by its tag."""
    tag = tag or uuid.uuid4().hex[:8]
    return {
        "requester_type": "business",
        "organization": "株式会社ブラウザ試験商会",
        "name": "試験 花子",
        "name_kana": "しけん はなこ",
        "email": f"hanako-{tag}@example.com",
        "phone": "059-000-0000",
        "municipality": "24201",
        "support_types": ["training", "consultation"],
        "category": "workstyle",
        "message": f"紙の申請書を減らしたいです。\n何から始めればよいでしょうか。（{tag}）",
        "preferred_format": "online",
        "privacy_consent": True,
    }


# --- helpers -------------------------------------------------------------------------


def token_rendered_now() -> str:
    """A form token signed as the stack would sign one rendered this second."""
    from chalicelib.core.settings import settings_from
    from chalicelib.intake import formtoken

    key_id, keys = settings_from(local_stage_env()).form_keys()
    return formtoken.sign(keys, key_id, int(time.time()))


def load(page: Page, url: str) -> None:
    page.goto(url)
    _rendered_at[id(page)] = time.monotonic()


def wait_past_min_seconds(page: Page) -> None:
    """The form token is stamped at rendering; the server discards faster posts as bots'."""
    rendered = _rendered_at.get(id(page), 0.0)
    remaining = MIN_FILL_SECONDS - (time.monotonic() - rendered)
    if remaining > 0:
        time.sleep(remaining)


def focused_id(page: Page) -> str:
    return str(page.evaluate("() => (document.activeElement && document.activeElement.id) || ''"))


def tab_to(page: Page, element_id: str, *, limit: int = 60) -> int:
    """Press Tab until the element has focus (it must be reachable by keyboard)."""
    passed = []
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        now = focused_id(page)
        if now == element_id:
            return presses
        passed.append(now or "(no id)")
    pytest.fail(f"#{element_id} not reached by Tab; focus went through {passed}")


def set_choice(control: Locator, checked: bool) -> None:
    """Tick or untick a radio or checkbox with Space on it: a click could land on a
    neighbour while an inline error above it disappears and the layout shifts."""
    if control.is_checked() != checked:
        control.press("Space")
    expect(control).to_be_checked(checked=checked)


def fill(scope: Page | FrameLocator, values: dict[str, Any]) -> None:
    """Fill the input step with Playwright's actions (not the keyboard-only path)."""
    for name, value in values.items():
        if name in TEXT_FIELDS:
            scope.locator(f"#field-{name}").fill(value)
        elif name == "municipality":
            scope.locator("#field-municipality").select_option(value)
        elif name == "privacy_consent":
            set_choice(scope.locator("#field-privacy_consent"), bool(value))
        else:
            chosen = value if isinstance(value, list) else [value]
            for option in CHOICES[name]:
                if option in chosen or name == "support_types":
                    control = scope.locator(f'input[name="{name}"][value="{option}"]')
                    set_choice(control, option in chosen)


AUTOFILL = """(values) => {
  for (const [name, value] of Object.entries(values)) {
    const chosen = Array.isArray(value) ? value.map(String) : [String(value)];
    for (const control of document.querySelectorAll(`[name="${name}"]`)) {
      if (control.type === "radio" || control.type === "checkbox") {
        control.checked = control.type === "checkbox" && name === "privacy_consent"
          ? Boolean(value) : chosen.includes(control.value);
      } else if (control.type !== "hidden") {
        control.value = String(value);
      }
    }
  }
}"""


def autofill(page: Page, values: dict[str, Any]) -> None:
    """Every field at once, as a browser's autofill (or a password manager) does it."""
    page.evaluate(AUTOFILL, values)


def assert_values(scope: Page | FrameLocator, values: dict[str, Any]) -> None:
    """Every control shows `values` (and nothing else is chosen); the honeypot stays empty."""
    expect(scope.locator("#consultation-form")).to_be_visible()
    for name, value in values.items():
        if name in (*TEXT_FIELDS, "municipality"):
            expect(scope.locator(f"#field-{name}")).to_have_value(value)
        elif name == "privacy_consent":
            box = scope.locator("#field-privacy_consent")
            expect(box).to_be_checked() if value else expect(box).not_to_be_checked()
        else:
            chosen = value if isinstance(value, list) else [value]
            for option in CHOICES[name]:
                control = scope.locator(f'input[name="{name}"][value="{option}"]')
                if option in chosen:
                    expect(control).to_be_checked()
                else:
                    expect(control).not_to_be_checked()
    expect(scope.locator("#field-website")).to_have_value("")


def required_on_page(page: Page) -> list[str]:
    """The fields the page marks 必須 / Required, in page order."""
    return list(
        page.eval_on_selector_all(
            "#consultation-form [data-field]",
            "nodes => nodes.filter(n => n.querySelector('.req')).map(n => n.dataset.field)",
        )
    )


def assert_field_errors(page: Page, names: tuple[str, ...] | list[str]) -> None:
    """The summary links to each field, in order; each field shows and announces its error."""
    summary = page.locator("#error-summary")
    expect(summary).to_be_visible()
    links = summary.locator("a")
    expect(links).to_have_count(len(names))
    assert [links.nth(i).get_attribute("href") for i in range(len(names))] == [
        f"#field-{name}" for name in names
    ]
    for name in names:
        error = page.locator(f"#error-{name}")
        expect(error).to_be_visible()
        assert error.inner_text().strip(), f"#error-{name} is empty"
        container = page.locator(f'[data-field="{name}"]')
        group = container.evaluate("n => n.tagName") == "FIELDSET"
        # A group of choices is described as a whole (fieldset); a single control itself.
        described = container if group else page.locator(f"#field-{name}")
        expect(described).to_have_attribute("aria-describedby", re.compile(rf"\berror-{name}\b"))
        invalid = described.get_attribute("aria-invalid") == "true" or (
            group and page.locator(f"#field-{name}").get_attribute("aria-invalid") == "true"
        )
        assert invalid, f"neither #field-{name} nor its group has aria-invalid=true"


def run_axe(page: Page, axe_source: str, step: str) -> None:
    """axe-core (WCAG 2.0/2.1 A and AA) on the page as it is now: no violation allowed.

    axe is evaluated through the DevTools protocol: the form's CSP (script-src
    'self') refuses the inline <script> that page.add_script_tag would add.
    """
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source + "\n;void 0")
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})",
        AXE_TAGS,
    )
    violations = result["violations"]
    if violations:
        lines = [f"axe: {len(violations)} violation(s) on the {step} step ({page.url}):"]
        for v in violations:
            lines.append(f"- {v['id']} [{v['impact']}] {v['help']} ({v['helpUrl']})")
            for node in v["nodes"]:
                lines.append(f"    {node['target']}: {node['html'][:200]}")
        pytest.fail("\n".join(lines), pytrace=False)


def assert_no_horizontal_scroll(page: Page, step: str) -> None:
    widths = page.evaluate(
        """() => {
          const root = document.documentElement;
          const wide = [...document.querySelectorAll('body *')]
            .filter(n => n.getBoundingClientRect().right > root.clientWidth + 0.5)
            .slice(0, 5)
            .map(n => n.tagName.toLowerCase() + (n.id ? '#' + n.id : '')
                      + (n.className && typeof n.className === 'string' ? '.' + n.className : ''));
          return {scroll: root.scrollWidth, client: root.clientWidth, wide};
        }"""
    )
    assert widths["scroll"] <= widths["client"], (
        f"horizontal scrolling on the {step} step at {page.viewport_size}: {widths}"
    )


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def assert_mail(stack: LiveStack, receipt: str, values: dict[str, Any]) -> None:
    """The automatic reply to the requester and the staff notification, naming the receipt.

    Staff may get one mail for all or one each; either way every staff address gets
    exactly one, the requester exactly one, and no mail goes to both.
    """
    requester = values["email"]
    mails = stack.wait_for_mail(receipt, {requester, *STAFF})
    shown = [(sorted(set(m.destinations)), m.text[:300]) for m in mails]
    log = stack.log()[-4000:]
    to_requester = [m for m in mails if requester in m.destinations]
    to_staff = [m for m in mails if requester not in m.destinations]
    assert len(to_requester) == 1, f"automatic reply to {requester}: {shown}\n{log}"
    assert set(to_requester[0].destinations) == {requester}, shown
    for address in STAFF:
        assert sum(address in m.destinations for m in to_staff) == 1, (
            f"staff notification to {address}: {shown}\n{log}"
        )
    assert {a for m in to_staff for a in m.destinations} == set(STAFF), shown
    # What the person typed reached the desk (the last line of the message).
    for mail in to_staff:
        assert values["message"].splitlines()[-1] in mail.text, mail.text


def receipt_number(scope: Page | FrameLocator) -> str:
    number = scope.locator("#receipt-number")
    expect(number).to_have_text(RECEIPT)
    return number.inner_text().strip()


def confirm_review_text(page: Page) -> str:
    review = page.locator("dl.review")
    expect(review).to_be_visible()
    return review.inner_text()


# --- tests ---------------------------------------------------------------------------


def test_keyboard_only_flow_with_edit_and_mail(live_stack: LiveStack, open_page: OpenPage) -> None:
    page = open_page(js=True)
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    values = submission()
    load(page, live_stack.form_url("ja"))
    keys = page.keyboard

    tab_to(page, "field-requester_type")
    keys.press("ArrowDown")  # the second choice: 事業者 (business)
    expect(page.locator("#field-requester_type-business")).to_be_checked()
    for name in ("organization", "name", "name_kana", "email", "phone"):
        tab_to(page, f"field-{name}", limit=3)
        keys.type(values[name])
    tab_to(page, "field-municipality", limit=3)
    keys.press("ArrowDown")  # the first municipality: 津市 (24201)
    expect(page.locator("#field-municipality")).to_have_value("24201")
    tab_to(page, "field-support_types", limit=3)
    keys.press("Space")
    tab_to(page, "field-support_types-consultation", limit=3)
    keys.press("Space")
    tab_to(page, "field-category", limit=3)
    keys.press("ArrowDown")
    keys.press("ArrowDown")  # the third category: workstyle
    tab_to(page, "field-message", limit=3)
    keys.type(values["message"])
    tab_to(page, "field-preferred_format", limit=3)
    keys.press("Space")  # オンライン
    tab_to(page, "field-privacy_consent", limit=3)
    keys.press("Space")
    assert_values(page, values)
    expect(page.locator("#error-summary")).to_be_hidden()

    wait_past_min_seconds(page)
    tab_to(page, "to-confirm", limit=3)
    keys.press("Space")
    expect(page.locator("#confirm-form")).to_be_visible()
    expect(page.locator("#step-heading")).to_be_focused()
    expect(page.locator("#step-heading")).to_contain_text("確認")
    # As the server renders the confirm step: no language links that would lose the input.
    expect(page.locator(".lang-switch")).to_be_hidden()
    review = confirm_review_text(page)
    for shown in ("事業者", values["name"], values["email"], "津市", "働き方", "オンライン"):
        assert shown in review

    tab_to(page, "back", limit=10)
    keys.press("Space")
    expect(page.locator("#consultation-form")).to_be_visible()
    expect(page.locator("#step-heading")).to_be_focused()
    expect(page.locator(".lang-switch")).to_be_visible()
    assert_values(page, values)

    # Change two answers: add a line to the message, pick 訪問・来所 instead of オンライン.
    addition = "追記：できれば訪問で相談したいです。"
    tab_to(page, "field-message")
    keys.press("Control+End")
    keys.type("\n" + addition)
    tab_to(page, "field-preferred_format", limit=3)
    keys.press("ArrowDown")
    values = {**values, "message": values["message"] + "\n" + addition, "preferred_format": "visit"}
    assert_values(page, values)

    tab_to(page, "to-confirm", limit=5)
    keys.press("Space")
    expect(page.locator("#confirm-form")).to_be_visible()
    expect(page.locator("#step-heading")).to_be_focused()
    review = confirm_review_text(page)
    assert addition in review and "訪問・来所" in review and "オンライン" not in review

    tab_to(page, "submit", limit=10)
    keys.press("Space")
    number = receipt_number(page)
    expect(page.locator("#step-heading")).to_be_focused()
    assert_mail(live_stack, number, values)
    # Two presses of 確認, one of 送信する: one post each (a form restored by 修正する
    # must not be enhanced twice).
    confirms = [u for u in posts if u.endswith("/form/confirm")]
    api = [u for u in posts if u.endswith("/consultations")]
    plain = [u for u in posts if u.endswith("/form/submit")]
    assert (len(confirms), len(api), len(plain)) == (2, 1, 0), posts


def test_errors_with_js_summary_focus_and_links(live_stack: LiveStack, open_page: OpenPage) -> None:
    page = open_page(js=True)
    load(page, live_stack.form_url("ja"))
    assert required_on_page(page) == list(REQUIRED)
    wait_past_min_seconds(page)
    page.locator("#to-confirm").click()

    summary = page.locator("#error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    expect(page.locator("#consultation-form")).to_be_visible()
    assert page.title().startswith("エラー")
    assert_field_errors(page, REQUIRED)
    expect(page.locator("#error-name")).to_contain_text("「お名前」を入力してください。")

    for name in REQUIRED:
        summary.locator(f'a[href="#field-{name}"]').click()
        expect(page.locator(f"#field-{name}")).to_be_focused()


def test_inline_validation_on_blur(live_stack: LiveStack, open_page: OpenPage) -> None:
    page = open_page(js=True)
    load(page, live_stack.form_url("ja"))
    email, error = page.locator("#field-email"), page.locator("#error-email")
    email.focus()
    page.keyboard.type("not-an-email")
    page.keyboard.press("Tab")
    expect(error).to_be_visible()
    expect(error).to_contain_text(
        "「メールアドレス」は dx-taro@example.jp のような形で入力してください。"
    )
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(email).to_have_attribute("aria-describedby", re.compile(r"\berror-email\b"))
    expect(email).to_have_attribute("aria-describedby", re.compile(r"\bhint-email\b"))
    # Only the field that was left is judged: untouched empty fields stay quiet.
    expect(page.locator("#error-name")).to_be_hidden()

    email.focus()
    email.fill("dx-taro@example.jp")
    page.keyboard.press("Tab")
    expect(error).to_be_hidden()
    expect(email).not_to_have_attribute("aria-invalid", "true")
    expect(email).to_have_attribute("aria-describedby", "hint-email")


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_back_from_confirm_keeps_every_value(
    live_stack: LiveStack, open_page: OpenPage, js: bool
) -> None:
    page = open_page(js=js)
    values = submission()
    # Choices other than the first of each group, and several boxes, to catch ids mixed up.
    values.update(
        requester_type="other",
        municipality="24562",
        support_types=["information", "consultation"],
        category="unknown",
        preferred_format="either",
    )
    load(page, live_stack.form_url("ja"))
    fill(page, values)
    wait_past_min_seconds(page)
    for _ in range(2):  # twice: a second round trip must behave as the first
        page.locator("#to-confirm").click()
        expect(page.locator("#confirm-form")).to_be_visible()
        expect(page.locator("#step-heading")).to_contain_text("確認")
        assert "紀宝町" in confirm_review_text(page)
        page.locator("#back").click()
        assert_values(page, values)
        expect(page.locator("#error-summary")).to_be_hidden()
    if not js:
        assert page.url.endswith("/form/submit")  # the server rendered the input step again


@pytest.mark.parametrize("js", [True, False], ids=["js", "nojs"])
def test_an_empty_form_pressed_at_once_shows_the_error_summary(
    live_stack: LiveStack, open_page: OpenPage, js: bool
) -> None:
    page = open_page(js=js)
    load(page, live_stack.form_url("ja"))
    page.locator("#to-confirm").click()  # at once: well inside FORM_MIN_SECONDS
    expect(page.locator("#error-summary")).to_be_visible()
    expect(page.locator("#receipt-number")).to_have_count(0)
    assert_field_errors(page, REQUIRED)


@pytest.mark.parametrize("js", [True, False], ids=["js", "nojs"])
def test_a_form_sent_at_once_asks_to_send_again_and_then_stores_it(
    live_stack: LiveStack, open_page: OpenPage, js: bool
) -> None:
    """Autofill and two quick presses: asked once more, nothing lost, never a receipt for nothing."""
    page = open_page(js=js)
    values = submission()
    load(page, live_stack.form_url("ja"))
    autofill(page, values)
    page.locator("#to-confirm").click()
    expect(page.locator("#confirm-form")).to_be_visible()
    # "At once", whatever the machine's load: the page's token as if rendered just now.
    page.evaluate(
        "(token) => { document.querySelector('#confirm-form [name=form_token]').value = token; }",
        token_rendered_now(),
    )
    page.locator("#submit").click()
    notice = page.locator(".notice")
    expect(notice).to_contain_text("まだ送信されていません")
    expect(page.locator("#receipt-number")).to_have_count(0)
    assert values["email"] in confirm_review_text(page)
    assert page.title().startswith("確認")
    time.sleep(MIN_FILL_SECONDS)  # a person reads the notice, then presses again
    page.locator("#submit").click()
    number = receipt_number(page)
    assert_mail(live_stack, number, values)


def test_autofill_in_the_hidden_field_is_kept_and_said_honestly(
    live_stack: LiveStack, open_page: OpenPage
) -> None:
    page = open_page(js=True)
    values = submission()
    load(page, live_stack.form_url("ja"))
    fill(page, values)
    # What a browser's autofill may do to the "leave empty" field.
    page.evaluate(
        "() => { document.getElementById('field-website').value = 'https://example.jp'; }"
    )
    wait_past_min_seconds(page)
    page.locator("#to-confirm").click()
    expect(page.locator("#confirm-form")).to_be_visible()
    page.locator("#submit").click()
    number = receipt_number(page)
    expect(page.locator("main")).to_contain_text("担当者が内容を確認してから")
    expect(page.locator("main")).not_to_contain_text("確認のメールもお送りしました")
    assert number.startswith("DX-")
    assert page.title().startswith("完了")


def test_the_message_counts_characters_without_cutting_or_chattering(
    live_stack: LiveStack, open_page: OpenPage
) -> None:
    page = open_page(js=True)
    load(page, live_stack.form_url("ja"))
    area = page.locator("#field-message")
    count = page.locator("#count-message")
    live = page.locator("#count-message-live")
    assert area.get_attribute("maxlength") is None  # never cut what is typed
    expect(count).to_have_text("あと4000文字入力できます。")
    # An IME composing 「そうだん」 and converting it: counted once, at compositionend.
    area.focus()
    page.evaluate(
        """() => {
          const area = document.getElementById('field-message');
          area.dispatchEvent(new CompositionEvent('compositionstart'));
          area.value = 'そうだん';
          area.dispatchEvent(new InputEvent('input', {isComposing: true}));
        }"""
    )
    expect(count).to_have_text("あと4000文字入力できます。")
    page.evaluate(
        """() => {
          const area = document.getElementById('field-message');
          area.value = '相談';
          area.dispatchEvent(new CompositionEvent('compositionend'));
        }"""
    )
    expect(count).to_have_text("あと3998文字入力できます。")
    # Over the limit: typing goes on, the count says by how much (an emoji is one character).
    area.fill("あ" * 3999 + "😀\r\n")
    assert len(area.input_value()) >= 4001
    expect(count).to_have_text("1文字多すぎます。短くしてください。")
    expect(count).to_have_class(re.compile(r"\bover\b"))
    # Screen readers hear it once the person pauses, not at every keystroke.
    assert live.inner_text() != "1文字多すぎます。短くしてください。"
    expect(live).to_have_text("1文字多すぎます。短くしてください。", timeout=4000)


def test_inline_errors_in_plain_japanese_come_with_their_readings(
    live_stack: LiveStack, open_page: OpenPage
) -> None:
    page = open_page(js=True)
    load(page, live_stack.form_url("easy"))
    page.locator("#field-name").focus()
    page.keyboard.press("Tab")  # left empty
    error = page.locator("#error-name")
    expect(error).to_be_visible()
    expect(error.locator("ruby")).to_have_count(2)  # 名前 and 書く, each with its reading
    assert "なまえ" in error.inner_html() and "<script" not in error.inner_html()


def test_whole_flow_without_javascript(live_stack: LiveStack, open_page: OpenPage) -> None:
    page = open_page(js=False)
    values = submission()
    load(page, live_stack.form_url("ja"))
    fill(page, values)
    wait_past_min_seconds(page)
    page.locator("#to-confirm").click()
    page.wait_for_url("**/form/confirm")
    expect(page.locator("#step-heading")).to_contain_text("確認")
    assert values["email"] in confirm_review_text(page)
    page.locator("#submit").click()
    page.wait_for_url("**/form/submit")
    number = receipt_number(page)
    expect(page.locator("#step-heading")).to_have_text("ご相談を受け付けました")
    assert_mail(live_stack, number, values)


def test_errors_without_javascript(
    live_stack: LiveStack, open_page: OpenPage, axe_source: str
) -> None:
    page = open_page(js=False)
    load(page, live_stack.form_url("ja"))
    wait_past_min_seconds(page)
    page.locator("#to-confirm").click()
    page.wait_for_url("**/form/confirm")
    assert required_on_page(page) == list(REQUIRED)
    assert_field_errors(page, REQUIRED)
    assert page.title().startswith("エラー")
    screenshot(page, "input-errors-nojs-desktop")
    page.locator('#error-summary a[href="#field-email"]').click()
    expect(page.locator("#field-email")).to_be_focused()

    # axe needs JavaScript: the same server-rendered step, form.js never loaded.
    plain = open_page(js=True, enhanced=False)
    load(plain, live_stack.form_url("ja"))
    wait_past_min_seconds(plain)
    plain.locator("#to-confirm").click()
    plain.wait_for_url("**/form/confirm")
    assert_field_errors(plain, REQUIRED)
    assert (
        plain.locator("#error-summary").inner_text() == page.locator("#error-summary").inner_text()
    )
    run_axe(plain, axe_source, "input with errors (without JavaScript)")


def test_embedded_in_an_iframe_on_another_origin(
    live_stack: LiveStack, open_page: OpenPage, host_page: str
) -> None:
    page = open_page(js=True)
    values = submission()
    page.goto(host_page)
    iframe = page.locator("#dx-desk-form iframe")
    expect(iframe).to_have_attribute("src", re.compile(r"/form/input\?embed=1&lang=ja$"))
    expect(iframe).to_have_attribute("title", re.compile(r"\S"))
    frame = page.frame_locator("#dx-desk-form iframe")
    expect(frame.locator("#consultation-form")).to_be_visible()
    _rendered_at[id(page)] = time.monotonic()
    expect(frame.locator("body")).to_have_class(re.compile(r"\bembedded\b"))
    expect(frame.locator(".site-header")).to_have_count(0)

    # embed.js starts the frame at its min-height (40rem); the form's height messages grow it.
    initial = float(iframe.evaluate("f => parseFloat(getComputedStyle(f).minHeight)"))
    page.wait_for_function(
        "min => document.querySelector('#dx-desk-form iframe').getBoundingClientRect().height"
        " > min + 100",
        arg=initial,
    )
    grown = iframe.evaluate("f => f.getBoundingClientRect().height")
    assert grown > initial
    # No inner scrollbar: the frame is as tall as its document.
    framed = page.frame(url=re.compile(r"/form/input\?embed=1"))
    assert framed is not None
    inner = framed.evaluate("() => document.documentElement.scrollHeight")
    assert abs(inner - grown) <= 2, (inner, grown)

    fill(frame, values)
    wait_past_min_seconds(page)
    frame.locator("#to-confirm").click()
    expect(frame.locator("#confirm-form")).to_be_visible()
    expect(frame.locator("#step-heading")).to_be_focused()
    frame.locator("#submit").click()
    number = receipt_number(frame)
    assert_mail(live_stack, number, values)


def test_embedded_frame_follows_the_height_of_each_step(
    live_stack: LiveStack, open_page: OpenPage, host_page: str
) -> None:
    """The frame grows for the long input step and shrinks again for the short confirm step
    (no inner scrollbar, no screen of blank space under the frame)."""
    page = open_page(js=True)
    page.goto(host_page)
    frame = page.frame_locator("#dx-desk-form iframe")
    expect(frame.locator("#consultation-form")).to_be_visible()
    _rendered_at[id(page)] = time.monotonic()
    framed = page.frame(url=re.compile(r"/form/input\?embed=1"))
    assert framed is not None
    height = "() => document.querySelector('#dx-desk-form iframe').getBoundingClientRect().height"
    content = "() => Math.ceil(document.body.getBoundingClientRect().height)"

    def fits() -> tuple[float, int]:
        """(frame height, content height), once they agree or after 3 s."""
        deadline = time.monotonic() + 3
        while True:
            pair = (float(page.evaluate(height)), int(framed.evaluate(content)))
            if abs(pair[0] - pair[1]) <= 2 or time.monotonic() > deadline:
                return pair
            time.sleep(0.1)

    frame_height, content_height = fits()
    assert abs(frame_height - content_height) <= 2, ("input", frame_height, content_height)

    fill(frame, submission())
    wait_past_min_seconds(page)
    frame.locator("#to-confirm").click()
    expect(frame.locator("#confirm-form")).to_be_visible()
    shorter_height, shorter_content = fits()
    assert shorter_content < content_height  # the confirm step is shorter than the input step
    assert abs(shorter_height - shorter_content) <= 2, (
        f"confirm step: the frame stays {shorter_height}px for {shorter_content}px of content"
    )


def test_english_page_and_error_flow(live_stack: LiveStack, open_page: OpenPage) -> None:
    page = open_page(js=True)
    load(page, live_stack.form_url("en"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#step-heading")).to_contain_text("Request a DX consultation")
    expect(page.locator('label[for="field-name"]')).to_contain_text("Name")
    expect(page.locator('label[for="field-email"]')).to_contain_text("Email address")
    expect(page.locator('[data-field="requester_type"] legend')).to_contain_text("Who is asking")
    expect(page.locator('label[for="field-requester_type"]')).to_have_text(
        "Resident or resident group"
    )
    expect(page.locator("#field-municipality option").nth(1)).to_have_text("Tsu")
    expect(page.locator("#to-confirm")).to_have_text("Review your request")

    page.locator("#field-name").fill("Jane Doe")
    page.locator("#field-email").fill("not-an-email")
    wait_past_min_seconds(page)
    page.locator("#to-confirm").click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("Please check your entries")
    expect(page.locator("#error-email")).to_contain_text(
        "Enter Email address in the form dx-taro@example.jp"
    )
    expect(page.locator("#error-requester_type")).to_contain_text("Select Who is asking.")
    assert page.title().startswith("Error")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    english = [summary.inner_text()] + [
        page.locator(f"#error-{name}").inner_text() for name in (*REQUIRED, "email")
    ]
    assert not [text for text in english if CJK.search(text)], english
    expect(page.locator("#field-name")).to_have_value("Jane Doe")
    expect(page.locator("#field-email")).to_have_value("not-an-email")


@pytest.mark.parametrize(
    ("lang", "viewport"),
    [
        pytest.param("ja", DESKTOP, id="ja-desktop"),
        pytest.param("ja", MOBILE, id="ja-mobile"),
        pytest.param("ja", ZOOM_200, id="ja-zoom200"),
        pytest.param("en", DESKTOP, id="en-desktop"),
        pytest.param("en", MOBILE, id="en-mobile"),
        pytest.param("easy", DESKTOP, id="easy-desktop"),
        pytest.param("easy", MOBILE, id="easy-mobile"),
    ],
)
def test_every_step_passes_axe(
    live_stack: LiveStack,
    open_page: OpenPage,
    axe_source: str,
    lang: str,
    viewport: dict[str, int],
) -> None:
    size = {DESKTOP["width"]: "desktop", MOBILE["width"]: "mobile"}.get(
        viewport["width"], "zoom200"
    )
    if lang != "ja":
        size = f"{lang}-{size}"
    narrow = viewport["width"] < DESKTOP["width"]
    page = open_page(js=True, viewport=viewport)

    def check(step: str) -> None:
        screenshot(page, f"{step}-{size}")
        run_axe(page, axe_source, f"{step} ({size})")
        if narrow:
            assert_no_horizontal_scroll(page, step)

    load(page, live_stack.form_url(lang))
    check("input")
    if size == "desktop":
        readme = BROWSER_DIR / "screenshots" / "form-input-desktop.png"
        if not readme.exists():
            readme.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(readme))  # the first screen, as a visitor sees it

    wait_past_min_seconds(page)
    page.locator("#to-confirm").click()
    expect(page.locator("#error-summary")).to_be_focused()
    check("input-errors")

    values = submission()
    fill(page, values)
    page.locator("#to-confirm").click()
    expect(page.locator("#confirm-form")).to_be_visible()
    check("confirm")

    page.locator("#submit").click()
    receipt_number(page)
    check("done")


def test_form_root_redirects_to_the_japanese_input_page(
    live_stack: LiveStack, open_page: OpenPage
) -> None:
    page = open_page(js=False)
    page.goto(f"{live_stack.api}/form")
    assert re.search(r"/form/input\?lang=ja$", page.url), page.url
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(page.locator("#consultation-form")).to_be_visible()
