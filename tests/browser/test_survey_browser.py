"""The satisfaction survey in a real browser: axe-clean in each language at desktop and phone
widths, answered without JavaScript, a second answer refused politely."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import DESKTOP, LiveStack, OpenPage
from tests.browser.test_form_browser import (
    STAFF,
    assert_no_horizontal_scroll,
    expect,
    run_axe,
    screenshot,
)
from tests.conftest import local_stage_env, valid_payload
from tests.livestack import http as request

if TYPE_CHECKING:
    from playwright.sync_api import Page

PHONE = {"width": 375, "height": 740}
MAIL_TIMEOUT = 20.0


def _wait_for(stack: LiveStack, address: str, pattern: str) -> str:
    """The first URL matching `pattern` in a mail to `address`."""
    deadline = time.monotonic() + MAIL_TIMEOUT
    while time.monotonic() < deadline:
        for mail in stack.sent_mail():
            if address in mail.destinations:
                found = re.search(pattern, mail.text)
                if found:
                    return found.group(0)
        time.sleep(0.25)
    pytest.fail(f"no mail to {address} with {pattern}:\n{stack.log()[-3000:]}")


def referred_case_survey(stack: LiveStack) -> str:
    """A case submitted, referred by staff from their mail's link; the survey URL mailed."""
    address = f"survey-{uuid.uuid4().hex[:8]}@example.com"
    status, _, body = request(
        "POST",
        f"{stack.api}/consultations",
        json.dumps(valid_payload(email=address)).encode(),
        {"Content-Type": "application/json"},
    )
    assert status == 201, body
    receipt = json.loads(body)["receipt_number"]
    deadline = time.monotonic() + MAIL_TIMEOUT
    refer = None
    while refer is None and time.monotonic() < deadline:
        for mail in stack.sent_mail():
            if STAFF[0] in mail.destinations and receipt in mail.text:
                found = re.search(r"・他機関を紹介する\n\s+(\S+)", mail.text)
                refer = found.group(1) if found else None
        time.sleep(0.25)
    assert refer, stack.log()[-3000:]
    status, _, body = request(
        "POST", refer, b"", {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert status == 200, body.decode()
    return _wait_for(stack, address, r"http://\S+/survey/\S+")


@pytest.fixture(scope="module")
def survey_url(live_stack: LiveStack) -> str:
    return referred_case_survey(live_stack)


@pytest.mark.parametrize("lang", ["ja", "en", "easy"])
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "375"])
def test_the_survey_page_passes_axe(
    survey_url: str,
    open_page: OpenPage,
    axe_source: str,
    lang: str,
    viewport: dict[str, int],
) -> None:
    page = open_page(viewport=viewport)
    page.goto(f"{survey_url}?lang={lang}")
    assert page.locator("h1").count() == 1
    expected = {"ja": "アンケート", "en": "survey", "easy": "アンケート"}[lang]
    assert expected in page.locator("h1").inner_text()
    screenshot(page, f"survey-{lang}-{viewport['width']}")
    run_axe(page, axe_source, f"survey {lang} {viewport['width']}")
    if viewport["width"] < DESKTOP["width"]:
        assert_no_horizontal_scroll(page, "survey")


def _answer_by_keyboard(page: Page) -> None:
    page.locator("#field-satisfaction-4").check()
    page.locator("#field-progress").check()
    page.locator("#field-comment").fill("ブラウザからの回答です。")
    page.locator("#field-comment").press("Tab")
    page.keyboard.press("Enter")  # the submit button follows the comment (no expert here)


def test_answered_without_javascript_once_with_errors_first(
    live_stack: LiveStack, open_page: OpenPage, axe_source: str
) -> None:
    url = referred_case_survey(live_stack)
    # With JavaScript on but nothing but the server's HTML (the page loads no script).
    page = open_page(viewport=PHONE)
    page.goto(url)
    page.locator("button[type=submit]").click()
    # expect waits for the answer page (an assert right after the press raced the navigation).
    expect(page.locator("#error-summary")).to_be_visible()
    run_axe(page, axe_source, "survey with errors")
    plain = open_page(js=False)
    plain.goto(url)
    _answer_by_keyboard(plain)
    expect(plain.locator("h1")).to_contain_text("ご回答ありがとうございました")
    plain.goto(url)
    assert "すでにご回答いただいています" in plain.locator("h1").inner_text()
    assert plain.locator("form").count() == 0
    # The errors page's form posted again, now: refused politely, the first answer kept.
    page.locator("#field-satisfaction-1").check()
    page.locator("#field-progress-not").check()
    page.locator("button[type=submit]").click()
    assert "すでにご回答いただいています" in page.locator("h1").inner_text()
    run_axe(page, axe_source, "survey answered before")


def followup_urls(stack: LiveStack, survey: str) -> dict[str, str]:
    """The follow-up links of the case `survey` belongs to, as the follow-up mail would carry
    them. Three months cannot pass in a live stack: the test marks the follow-up sent on the
    survey record (what the daily job does) and signs the links with the stage's key."""
    import boto3

    from chalicelib.core import survey as rules
    from chalicelib.core.settings import settings_from
    from chalicelib.runtime import now

    env = {**local_stage_env(), "PUBLIC_BASE_URL": stack.api}
    settings = settings_from(env)
    claim = rules.read_token(survey.rsplit("/", 1)[1], settings, now(), followup=False)
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=stack.moto,
        region_name="ap-northeast-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    dynamodb.update_item(
        TableName=env["TABLE_NAME"],
        Key={"pk": {"S": f"CASE#{claim.receipt_number}"}, "sk": {"S": "SURVEY"}},
        UpdateExpression="SET followup_sent_at = :at",
        ExpressionAttributeValues={":at": {"S": "2026-12-01T00:00:00.000000Z"}},
    )
    # Signed for the requester the survey mail went to (the claim holds only a digest).
    address = next(
        destination
        for mail in stack.sent_mail()
        if survey in mail.text
        for destination in mail.destinations
    )
    return {
        choice: rules.followup_url(settings, claim.receipt_number, address, choice, now())
        for choice, _ in rules.FOLLOWUP
    }


@pytest.fixture(scope="module")
def followup(live_stack: LiveStack) -> dict[str, str]:
    return followup_urls(live_stack, referred_case_survey(live_stack))


@pytest.mark.parametrize("lang", ["ja", "en", "easy"])
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "375"])
def test_the_follow_up_page_passes_axe_and_records_only_on_its_button(
    followup: dict[str, str],
    open_page: OpenPage,
    axe_source: str,
    lang: str,
    viewport: dict[str, int],
) -> None:
    page = open_page(viewport=viewport)
    page.goto(f"{followup['some']}?lang={lang}")
    assert page.locator("form button[type=submit]").count() == 1
    screenshot(page, f"followup-{lang}-{viewport['width']}")
    run_axe(page, axe_source, f"follow-up {lang} {viewport['width']}")
    if viewport["width"] < DESKTOP["width"]:
        assert_no_horizontal_scroll(page, "follow-up")


def test_the_follow_up_is_recorded_by_its_button_once(
    live_stack: LiveStack, open_page: OpenPage
) -> None:
    links = followup_urls(live_stack, referred_case_survey(live_stack))
    page = open_page(js=False)
    page.goto(links["progressed"])
    page.goto(links["same"])  # opening records nothing: both pages still offer their button
    page.locator("button[type=submit]").click()
    assert "ご回答ありがとうございました" in page.locator("h1").inner_text()
    page.goto(links["progressed"])
    assert "すでにご回答いただいています" in page.locator("h1").inner_text()
