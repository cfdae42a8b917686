"""The dev mailbox (infra/local/mailbox.py) in the live local stack: list, open, reply, run jobs."""

from __future__ import annotations

import contextlib
import email
import html
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default as default_policy
from html.parser import HTMLParser
from pathlib import Path
from typing import TypeVar

import pytest

from infra.local.launch import free_port, stack_environment
from tests.conftest import REGION, ROOT, local_stage_env, valid_payload
from tests.livestack import Stack, http

MAIL_TIMEOUT = 30.0  # generous: two cores shared by the stack, moto and pytest
EXIT_TIMEOUT = 15.0
START_EXIT_TIMEOUT = 30.0
STAFF = local_stage_env()["STAFF_NOTIFY_TO"].split(",")
STAFF_A = STAFF[0]

T = TypeVar("T")


@dataclass
class DevStack:
    stack: Stack
    mailbox: str

    def get(self, path: str) -> str:
        status, _, body = http("GET", self.mailbox + path)
        assert status == 200, body.decode("utf-8", errors="replace")
        return body.decode("utf-8")

    def post(
        self, path: str, fields: dict[str, str], headers: dict[str, str] | None = None
    ) -> tuple[int, str]:
        """A form POST as a browser sends it from a mailbox page (303s are followed).

        `headers` replaces the page's own Origin, if it names one or a Referer.
        """
        sent = {"Content-Type": "application/x-www-form-urlencoded"}
        sent.update(headers or {"Origin": self.mailbox})
        status, _, body = http(
            "POST", self.mailbox + path, urllib.parse.urlencode(fields).encode("ascii"), sent
        )
        return status, body.decode("utf-8", errors="replace")


def kill_stack(process: subprocess.Popen[bytes]) -> None:
    """The stack runs in its own process group: end every process in it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=EXIT_TIMEOUT)


def start_stack(log_path: Path, mailbox_port: int) -> tuple[subprocess.Popen[bytes], Stack]:
    api_port = free_port()
    moto_port = free_port()
    while len({api_port, moto_port, mailbox_port}) < 3:
        moto_port = free_port()
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "infra.local.dev"],
            cwd=ROOT,
            env={**stack_environment(api_port, moto_port), "MAILBOX_PORT": str(mailbox_port)},
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    api, moto = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{moto_port}"
    return process, Stack(process, api, moto, log_path)


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    """One stack for the module: starting it is the slow part."""
    mailbox_port = free_port()
    process, stack = start_stack(
        tmp_path_factory.mktemp("dev-mailbox") / "dev-stack.log", mailbox_port
    )
    try:
        stack.wait_until_healthy()
        yield DevStack(stack, f"http://127.0.0.1:{mailbox_port}")
    finally:
        kill_stack(process)


@dataclass
class Listed:
    number: int
    sender: str
    to: str
    subject: str
    reply_to: str


class _Rows(HTMLParser):
    """The text of every table row made of <td> cells."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag == "td":
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def listed(dev: DevStack) -> list[Listed]:
    parser = _Rows()
    parser.feed(dev.get("/"))
    return [Listed(int(c[0]), c[2], c[3], c[4], c[5]) for c in parser.rows if len(c) == 6]


def wait_for(dev: DevStack, what: str, probe: Callable[[], T | None]) -> T:
    deadline = time.monotonic() + MAIL_TIMEOUT
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.25)
    pytest.fail(f"{what}: not within {MAIL_TIMEOUT} s\n{dev.stack.log()}")


def submit(dev: DevStack) -> str:
    status, _, body = http(
        "POST",
        f"{dev.stack.api}/consultations",
        json.dumps(valid_payload()).encode("utf-8"),
        {"Content-Type": "application/json"},
    )
    assert status == 201, body
    return str(json.loads(body)["receipt_number"])


def mails_about(dev: DevStack, receipt: str, count: int) -> list[Listed]:
    def probe() -> list[Listed] | None:
        found = [m for m in listed(dev) if receipt in m.subject]
        return found if len(found) >= count else None

    return wait_for(dev, f"{count} mails about {receipt}", probe)


def staff_mail(dev: DevStack, receipt: str) -> Listed:
    return next(m for m in mails_about(dev, receipt, 3) if m.to == STAFF_A)


def test_the_banner_names_the_mailbox(dev: DevStack) -> None:
    assert f"メールボックス（開発用） / mailbox:    {dev.mailbox}/" in dev.stack.log()


def test_sent_mail_is_listed_newest_first_with_clickable_action_links(dev: DevStack) -> None:
    receipt = submit(dev)
    mails = mails_about(dev, receipt, 3)
    assert len(mails) == 3
    assert {m.to for m in mails} == {valid_payload()["email"], *STAFF}
    numbers = [m.number for m in listed(dev)]
    assert numbers == sorted(numbers, reverse=True)

    staff = next(m for m in mails if m.to == STAFF_A)
    assert staff.reply_to.startswith("case-local1-" + receipt.lower())
    page = dev.get(f"/mail/{staff.number}")
    links = re.findall(r'<a href="(https?://[^"]+)"', page)
    assert links and all(link.startswith(f"{dev.stack.api}/actions/") for link in links), page
    # Following an action link only shows the API's confirmation page.
    status, _, body = http("GET", html.unescape(links[0]))
    assert status == 200, body

    # The HTML part is inert: escaped into a sandboxed frame, never markup of this page.
    assert '<iframe sandbox="" srcdoc="&lt;' in page
    assert page.count("<html") == 1 and "<script" not in page

    assert f'<form method="post" action="/mail/{staff.number}/reply">' in page
    assert all(f'<option value="{address}">' in page for address in STAFF)
    assert html.escape("ヒアリング開始\n分野：データ利活用\n\n（メモ）") in page
    assert "元のメールを引用する" in page

    ack = next(m for m in mails if m.to == valid_payload()["email"])
    assert "<form" not in dev.get(f"/mail/{ack.number}")  # no Reply-To, no reply form


def test_a_reply_from_the_mailbox_goes_through_the_inbound_handler(dev: DevStack) -> None:
    receipt = submit(dev)
    staff = staff_mail(dev, receipt)

    status, page = dev.post(
        f"/mail/{staff.number}/reply", {"sender": STAFF_A, "text": "担当", "quote": "1"}
    )
    assert status == 200, page
    outcome = re.search(r"<pre>(\{.*?\})</pre>", page)
    assert outcome is not None, page
    assert json.loads(html.unescape(outcome.group(1))) == {"applied": 1}, page
    # The reply as sent: the original quoted under an attribution line.
    assert html.escape(" DX相談窓口 <desk@dx-desk.example.jp>:\n> DX相談窓口 事務局各位") in page

    answer = wait_for(
        dev,
        "the answer to the reply",
        lambda: next(
            (m for m in listed(dev) if receipt in m.subject and "返信を反映しました" in m.subject),
            None,
        ),
    )
    assert answer.to == STAFF_A
    assert answer.reply_to == staff.reply_to


def test_mail_markup_is_shown_inert_and_8bit_text_decoded(dev: DevStack) -> None:
    import boto3

    marker = uuid.uuid4().hex
    hostile = EmailMessage()  # 8bit text, markup in a header, the text and the HTML
    hostile["From"] = "desk@dx-desk.example.jp"
    hostile["To"] = "someone@example.com"
    hostile["Subject"] = f"<b>{marker}</b>"
    hostile.set_content("リンク https://example.com/a?b=1&c=2）の続き <script>x()</script>")
    hostile.add_alternative(
        '<p>本文</p><script>parent.x()</script><img src="http://example.com/t">', subtype="html"
    )
    ses = boto3.client(
        "sesv2",
        endpoint_url=dev.stack.moto,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    ses.send_email(
        FromEmailAddress="desk@dx-desk.example.jp",
        Destination={"ToAddresses": ["someone@example.com"]},
        Content={"Raw": {"Data": hostile.as_bytes()}},
    )
    (mail,) = wait_for(
        dev, "the sent mail", lambda: [m for m in listed(dev) if marker in m.subject]
    )
    assert mail.subject == f"<b>{marker}</b>"
    page = dev.get(f"/mail/{mail.number}")
    assert "<b>" not in page and "<script>" not in page and "<img" not in page
    assert html.escape("&lt;b&gt;") not in page  # escaped once, not twice
    link = '<a href="https://example.com/a?b=1&amp;c=2" target="_blank" rel="noopener">'
    assert f"リンク {link}https://example.com/a?b=1&amp;c=2</a>）の続き &lt;script&gt;" in page
    assert '<iframe sandbox="" srcdoc="&lt;p&gt;本文&lt;/p&gt;&lt;script&gt;' in page


def test_scheduled_jobs_run_on_demand(dev: DevStack) -> None:
    assert 'action="/jobs/outbox_sweep"' in dev.get("/jobs")
    status, page = dev.post("/jobs/outbox_sweep", {})
    assert status == 200, page
    counts = dict(re.findall(r"<th>(\w+)</th><td>(\d+)</td>", page))
    assert set(counts) == {"sent", "retried", "failed", "unknown"}, page


def test_posts_need_the_mailbox_origin_and_pages_a_local_host(dev: DevStack) -> None:
    assert dev.post("/jobs/outbox_sweep", {}, {"Origin": "http://evil.example"})[0] == 403
    assert dev.post("/jobs/outbox_sweep", {}, {"Origin": "null"})[0] == 403
    assert dev.post("/jobs/outbox_sweep", {}, {"Referer": "http://evil.example/"})[0] == 403
    assert dev.post("/jobs/outbox_sweep", {}, {"Referer": f"{dev.mailbox}/jobs"})[0] == 200
    port = urllib.parse.urlsplit(dev.mailbox).port
    assert http("GET", f"{dev.mailbox}/", headers={"Host": f"evil.example:{port}"})[0] == 400
    assert http("GET", f"{dev.mailbox}/mail/99999")[0] == 404


def test_a_busy_mailbox_port_stops_the_stack_with_a_clear_message(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        process, stack = start_stack(tmp_path / "dev-stack.log", port)
        try:
            assert process.wait(timeout=START_EXIT_TIMEOUT) != 0
        finally:
            kill_stack(process)
    assert f"mailbox port {port} is already in use" in stack.log()


def test_a_reply_quotes_the_original_like_a_mail_client() -> None:
    from infra.local.mailbox import build_reply

    original = EmailMessage()
    original["From"] = "DX相談窓口 <desk@dx-desk.example.jp>"
    original["To"] = STAFF_A
    original["Reply-To"] = "case-x@reply.dx-desk.example.jp"
    original["Subject"] = "【新規相談】DX-1"
    original["Date"] = "Thu, 26 Nov 2026 01:00:00 +0000"
    original["Message-ID"] = "<m1@dx-desk.example.jp>"
    original["References"] = "<root@dx-desk.example.jp>"
    original.set_content("一行目\n\n三行目\n", charset="utf-8")
    original.add_alternative("<p>一行目</p>", subtype="html", charset="utf-8")
    # As the mailbox reads it: parsed back from the raw bytes SES kept.
    original = email.message_from_bytes(original.as_bytes(), policy=default_policy)
    assert isinstance(original, EmailMessage)
    reply = build_reply(original, sender=STAFF_A, text="担当\r\n", quote=True)
    assert reply["To"] == "case-x@reply.dx-desk.example.jp"
    assert reply["Subject"] == "Re: 【新規相談】DX-1"
    assert reply["In-Reply-To"] == "<m1@dx-desk.example.jp>"
    assert reply["References"] == "<root@dx-desk.example.jp> <m1@dx-desk.example.jp>"
    assert reply.get_content() == (
        "担当\n\n"
        "2026年11月26日(木) 10:00 DX相談窓口 <desk@dx-desk.example.jp>:\n"
        "> 一行目\n>\n> 三行目\n"
    )
    unquoted = build_reply(original, sender=STAFF_A, text="担当", quote=False)
    assert unquoted.get_content() == "担当\n"


def test_sent_mail_is_read_from_a_separate_ses_emulator_or_explained() -> None:
    import boto3
    from moto.server import ThreadedMotoServer

    from infra.local.mailbox import Mailbox

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        emulator = f"http://127.0.0.1:{server.get_host_and_port()[1]}"
        ses = boto3.client(
            "sesv2",
            endpoint_url=emulator,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        ses.create_email_identity(EmailIdentity="dx-desk.example.jp")
        marker = uuid.uuid4().hex
        sent = EmailMessage()
        sent["From"] = "desk@dx-desk.example.jp"
        sent["To"] = "someone@example.com"
        sent["Subject"] = f"件名 {marker}"
        sent.set_content("本文")
        ses.send_email(
            FromEmailAddress="desk@dx-desk.example.jp",
            Destination={"ToAddresses": ["someone@example.com"]},
            Content={"Raw": {"Data": sent.as_bytes()}},
        )
        # The stack's own moto is elsewhere: only the SES endpoint is asked.
        mailbox = Mailbox(0, {"AWS_ENDPOINT_URL_SESV2": emulator})
        mailbox.moto_url = "http://127.0.0.1:1"
        subjects = [str(m.message()["Subject"]) for m in mailbox.sent_mail()]
        assert f"件名 {marker}" in subjects
    finally:
        server.stop()

    unreachable = Mailbox(0, {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}).index()
    assert unreachable.status == 200 and "cannot read sent mail from" in unreachable.body
    nowhere = Mailbox(0, {}).index()
    assert "no SES endpoint is set" in nowhere.body
