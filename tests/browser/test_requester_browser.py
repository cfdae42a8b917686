"""The requester's pages in a real browser: the page from the automatic reply, adding
information, the withdrawal step and the lookup, axe-clean in ja, en and やさしい日本語 at
1280 and 375 px, and usable without JavaScript (the pages carry none)."""

from __future__ import annotations

import json
import os
import re
import uuid
from typing import TYPE_CHECKING

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - depends on the environment
    if os.environ.get("CI") == "true":
        raise
    pytest.skip(
        "Playwright for Python is not installed (pip install playwright)", allow_module_level=True
    )

from tests.browser.conftest import DESKTOP, LiveStack, OpenPage
from tests.browser.test_form_browser import (
    assert_no_horizontal_scroll,
    run_axe,
    screenshot,
    submission,
)
from tests.livestack import http

if TYPE_CHECKING:
    from playwright.sync_api import Page

PHONE = {"width": 375, "height": 740}
LANGS = ("ja", "en", "easy")


def submitted(stack: LiveStack) -> tuple[str, str, str]:
    """(receipt number, requester address, page URL from their automatic reply)."""
    values = submission(uuid.uuid4().hex[:8])
    status, _, body = http(
        "POST",
        f"{stack.api}/consultations",
        json.dumps(values).encode("utf-8"),
        {"Content-Type": "application/json"},
    )
    assert status == 201, body
    receipt = json.loads(body)["receipt_number"]
    mails = stack.wait_for_mail(receipt, {values["email"]})
    (ack,) = [m for m in mails if values["email"] in m.destinations]
    found = re.findall(r"(https?://\S+/my/a1\.\S+)", ack.text)
    assert found, ack.text
    return receipt, values["email"], found[0]


@pytest.fixture(scope="module")
def case_page(live_stack: LiveStack) -> tuple[str, str, str]:
    return submitted(live_stack)


def check(page: Page, axe_source: str, name: str, viewport: dict[str, int]) -> None:
    screenshot(page, f"requester-{name}")
    run_axe(page, axe_source, name)
    if viewport["width"] < DESKTOP["width"]:
        assert_no_horizontal_scroll(page, name)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "375"])
def test_every_requester_page_passes_axe(
    live_stack: LiveStack,
    open_page: OpenPage,
    axe_source: str,
    case_page: tuple[str, str, str],
    lang: str,
    viewport: dict[str, int],
) -> None:
    receipt, _, url = case_page
    size = f"{lang}-{viewport['width']}"
    page = open_page(js=True, viewport=viewport)
    page.goto(f"{url}?lang={lang}")
    expect(page.locator("#receipt-number")).to_have_text(receipt)
    check(page, axe_source, f"page-{size}", viewport)

    # An empty addition: the page again, with the message beside the box.
    page.locator("#add-heading ~ form button[type=submit]").click()
    expect(page.locator("#error-text")).to_be_visible()
    check(page, axe_source, f"page-error-{size}", viewport)

    page.goto(f"{url}/withdraw?lang={lang}")
    expect(page.locator("#field-reason")).to_be_visible()
    check(page, axe_source, f"withdraw-{size}", viewport)

    page.goto(f"{live_stack.api}/my/lookup?lang={lang}")
    check(page, axe_source, f"lookup-{size}", viewport)
    page.locator("form button[type=submit]").click()  # empty: what to fix
    expect(page.locator(".error-summary")).to_be_visible()
    check(page, axe_source, f"lookup-error-{size}", viewport)


def test_add_and_withdraw_without_javascript_by_keyboard(
    live_stack: LiveStack, open_page: OpenPage, axe_source: str
) -> None:
    receipt, address, url = submitted(live_stack)
    page = open_page(js=False)
    page.goto(url)
    page.locator("#field-text").focus()
    page.keyboard.type("従業員は12名です。")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("追記を受け付けました")
    page.get_by_role("link", name="ご相談の状況に戻る").click()
    expect(page.locator(".history")).to_contain_text("従業員は12名です。")

    page.locator("#withdraw-link").click()
    # The same step open in a second tab, pressed after the first: told honestly.
    second = page.context.new_page()
    second.goto(page.url)
    page.locator("#field-reason").fill("社内で解決しました")
    page.get_by_role("button", name="取り下げる").click()
    expect(page.locator("h1")).to_have_text("取下げを受け付けました")
    page.get_by_role("link", name="ご相談の状況に戻る").click()
    expect(page.locator("#status-now")).to_have_text("いまの状況は「取下げ」です。")
    assert page.locator("form").count() == 0
    second.get_by_role("button", name="取り下げる").click()
    expect(second.locator("#result-text")).to_contain_text("いま「取下げ」のため")

    staff = live_stack.wait_for_mail(receipt, {"staff-a@dx-desk.example.jp"})
    assert any("追記" in m.text and "従業員は12名です。" in m.text for m in staff)
    assert address  # the requester's own address received the page link (submitted())
