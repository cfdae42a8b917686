"""A dev-only mailbox for the local stack: sent mail, replies through the inbound handler, jobs."""

from __future__ import annotations

import html
import json
import logging
import os
import re
import threading
import urllib.parse
import urllib.request
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import (
    format_datetime,
    getaddresses,
    make_msgid,
    parseaddr,
    parsedate_to_datetime,
)
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import import_module
from typing import Any

log = logging.getLogger("infra.local.mailbox")

JST = timezone(timedelta(hours=9), "JST")
WEEKDAYS_JA = "月火水木金土日"
REPLY_HINT = "ヒアリング開始\n分野：データ利活用\n\n（メモ）"
MAX_FORM_BYTES = 1024 * 1024
KEPT_RESULTS = 100
MOTO_API_TIMEOUT_SECONDS = 3.0
VERDICTS = ("spf", "dkim", "dmarc", "spam", "virus")


@dataclass(frozen=True)
class Job:
    label: str
    target: str  # "module:function"; the function takes no arguments and returns counts

    def run(self) -> Any:
        module, _, name = self.target.partition(":")
        return getattr(import_module(module), name)()


# Scheduled jobs that can be run on demand, one line each.
JOBS: dict[str, Job] = {
    "outbox_sweep": Job(
        "送信待ちメールの送信 / outbox sweep", "chalicelib.outbox.handler:sweep_once"
    ),
    "daily_mail": Job("朝の定期メール / daily mail", "chalicelib.scheduled.handler:run_daily_now"),
}

# What the inbound handler's outcome kinds mean (chalicelib/mailin/service.py).
OUTCOME_LABELS = {
    "applied": "反映しました / applied",
    "refused": "反映できませんでした（理由を返信します） / refused",
    "dropped": "自動応答などとして破棄 / dropped",
    "quarantined": "隔離（送信者・宛先・判定が不正） / quarantined",
    "duplicate": "処理済みの重複 / duplicate",
}

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem auto; max-width: 72rem; padding: 0 1rem;
  line-height: 1.5; }
nav a { margin-right: 1rem; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: .35rem .5rem; text-align: left;
  vertical-align: top; }
th { background: #f3f3f3; }
pre { white-space: pre-wrap; word-break: break-all; background: #f6f6f6; padding: .75rem; }
iframe { width: 100%; height: 30rem; border: 1px solid #ccc; }
textarea { width: 100%; font: inherit; }
.note { color: #555; }
.error { color: #a00; }
"""

# No scripts, nothing from elsewhere; a sandboxed srcdoc frame inherits this policy too.
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)

# http(s) URLs made of URL characters only: Japanese text right after a link is not part of it.
_URL = re.compile(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_URL_TRAILING = ".,;:!?')"
_MAIL_PATH = re.compile(r"/mail/(\d+)")
_REPLY_PATH = re.compile(r"/mail/(\d+)/reply")
_JOB_PATH = re.compile(r"/jobs/([a-z0-9_]+)")
_RESULT_PATH = re.compile(r"/results/([0-9a-f]{32})")


class MailSourceError(Exception):
    """Sent mail cannot be read from where the stack sends it."""


@dataclass(frozen=True)
class SentMail:
    number: int  # 1-based, in the order SES accepted the messages
    raw: str
    destinations: tuple[str, ...]

    def message(self) -> EmailMessage:
        # Parsed from bytes: from a str, 8bit parts would decode as raw-unicode-escape.
        parsed = message_from_bytes(
            self.raw.encode("utf-8", errors="surrogateescape"), policy=default_policy
        )
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Response:
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def linkify(text: str) -> str:
    """Escaped text with every http(s) URL as a link."""
    out: list[str] = []
    last = 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(_URL_TRAILING)
        out.append(esc(text[last : match.start()]))
        out.append(f'<a href="{esc(url)}" target="_blank" rel="noopener">{esc(url)}</a>')
        last = match.start() + len(url)
    out.append(esc(text[last:]))
    return "".join(out)


def _header(message: EmailMessage, name: str) -> str:
    # Folded headers keep the whitespace before the continuation line.
    value = message.get(name)
    return "" if value is None else str(value).strip()


def _date(message: EmailMessage) -> datetime | None:
    raw = message.get("Date")
    if raw is None:
        return None
    try:
        return parsedate_to_datetime(str(raw)).astimezone(JST)
    except (TypeError, ValueError):
        return None


def _text_part(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body((subtype,))
    if part is None:
        return None
    content = part.get_content()
    return content if isinstance(content, str) else None


def readable(message: EmailMessage) -> str:
    """Headers and the decoded text of a message (its raw form is base64)."""
    lines = [f"{name}: {value}" for name, value in message.items()]
    return "\n".join(lines) + "\n\n" + (_text_part(message, "plain") or "")


def staff_addresses(environ: Mapping[str, str]) -> list[str]:
    return [a.strip() for a in environ.get("STAFF_NOTIFY_TO", "").split(",") if a.strip()]


def reply_senders(original: EmailMessage, environ: Mapping[str, str]) -> list[str]:
    """Who may reply: whom the mail went to (a staff member, stored or from the
    environment), then the STAFF_NOTIFY_TO addresses."""
    addressed = [addr for _, addr in getaddresses([_header(original, "To")]) if addr]
    return list(dict.fromkeys([*addressed, *staff_addresses(environ)]))


def attribution(original: EmailMessage) -> str:
    """The line a Japanese Gmail puts above a quoted message."""
    when = _date(original) or datetime.now(JST)
    day = f"{when.year}年{when.month}月{when.day}日({WEEKDAYS_JA[when.weekday()]})"
    return f"{day} {when:%H:%M} {_header(original, 'From')}:"


def build_reply(original: EmailMessage, *, sender: str, text: str, quote: bool) -> EmailMessage:
    """A reply as a mail client writes it: the new text, optionally the original quoted below."""
    reply = EmailMessage()
    reply["From"] = sender
    reply["To"] = _header(original, "Reply-To")
    subject = _header(original, "Subject")
    reply["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
    reply["Date"] = format_datetime(datetime.now(JST))
    reply["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
    original_id = _header(original, "Message-ID")
    if original_id:
        reply["In-Reply-To"] = original_id
        reply["References"] = " ".join(
            part for part in (_header(original, "References"), original_id) if part
        )
    body = text.replace("\r\n", "\n").rstrip("\n")
    original_text = _text_part(original, "plain") if quote else None
    if original_text is not None:
        quoted = "\n".join(f"> {line}" if line else ">" for line in original_text.splitlines())
        body = f"{body}\n\n{attribution(original)}\n{quoted}"
    reply.set_content(body + "\n", charset="utf-8")
    return reply


def deliver_inbound(raw: bytes, recipients: list[str]) -> dict[str, int]:
    """Do what SES does with a reply (store it in S3, notify SNS), then run the handler here."""
    from chalicelib import runtime
    from chalicelib.mailin.handler import inbound_mail
    from chalicelib.runtime import get_settings

    bucket = get_settings().inbound_bucket
    if not bucket:
        raise MailSourceError("INBOUND_BUCKET が設定されていません / INBOUND_BUCKET is not set")
    message_id = uuid.uuid4().hex
    # An S3 action without a prefix stores each message under SES's message id.
    runtime.s3().put_object(Bucket=bucket, Key=message_id, Body=raw)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    notice = {
        "notificationType": "Received",
        "mail": {"timestamp": now, "messageId": message_id, "destination": recipients},
        "receipt": {
            "timestamp": now,
            "recipients": recipients,
            **{f"{name}Verdict": {"status": "PASS"} for name in VERDICTS},
            "action": {"type": "S3", "bucketName": bucket, "objectKey": message_id},
        },
    }
    event = {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "Sns": {"Type": "Notification", "Message": json.dumps(notice)},
            }
        ]
    }
    return dict(inbound_mail(event, None))


class Mailbox:
    """Reads sent mail and answers the mailbox's pages (no HTTP plumbing in here)."""

    def __init__(self, port: int, environ: Mapping[str, str] = os.environ) -> None:
        self.port = port
        self.environ = environ
        self.moto_url: str | None = None
        self._results: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def origins(self) -> set[str]:
        return {f"http://127.0.0.1:{self.port}", f"http://localhost:{self.port}"}

    # Reading sent mail

    def ses_endpoint(self) -> str:
        env = self.environ
        return (env.get("AWS_ENDPOINT_URL_SESV2") or env.get("AWS_ENDPOINT_URL") or "").rstrip("/")

    def sent_mail(self) -> list[SentMail]:
        endpoint = self.ses_endpoint()
        if self.moto_url and endpoint == self.moto_url.rstrip("/"):
            found = _in_process_mail()
        elif endpoint:
            found = _moto_api_mail(endpoint)
        else:
            raise MailSourceError(
                "SES のエンドポイントが設定されていないため、送信メールを読めません"
                " / no SES endpoint is set, so sent mail cannot be read"
            )
        return [
            SentMail(number, raw, tuple(destinations))
            for number, (raw, destinations) in enumerate(found, start=1)
        ]

    def mail(self, number: int) -> SentMail | None:
        found = self.sent_mail()
        return found[number - 1] if 0 < number <= len(found) else None

    # Results of POSTs, shown after a redirect

    def keep(self, page: str) -> str:
        result_id = uuid.uuid4().hex
        with self._lock:
            self._results[result_id] = page
            while len(self._results) > KEPT_RESULTS:
                self._results.popitem(last=False)
        return result_id

    def result(self, result_id: str) -> str | None:
        with self._lock:
            return self._results.get(result_id)

    # Requests

    def respond(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Response:
        """One request; `headers` has lower-case names."""
        if headers.get("host") not in {o.removeprefix("http://") for o in self.origins}:
            # A page reached under another host name is a DNS-rebinding attempt.
            return error_page(HTTPStatus.BAD_REQUEST, "このホスト名では開けません / unknown host")
        if method == "POST":
            if not self.same_origin(headers):
                return error_page(
                    HTTPStatus.FORBIDDEN,
                    "このメールボックス以外からの送信は受け付けません / cross-origin POST refused",
                )
            form = {
                name: values[-1]
                for name, values in urllib.parse.parse_qs(
                    body.decode("utf-8", errors="replace"), keep_blank_values=True
                ).items()
            }
            if match := _REPLY_PATH.fullmatch(path):
                return self.post_reply(int(match.group(1)), form)
            if match := _JOB_PATH.fullmatch(path):
                return self.post_job(match.group(1))
        elif method == "GET":
            if path == "/":
                return self.index()
            if match := _MAIL_PATH.fullmatch(path):
                return self.show_mail(int(match.group(1)))
            if path == "/jobs":
                return self.jobs()
            if (match := _RESULT_PATH.fullmatch(path)) and (page := self.result(match.group(1))):
                return Response(HTTPStatus.OK, page)
        return error_page(HTTPStatus.NOT_FOUND, "ページがありません / not found")

    def same_origin(self, headers: Mapping[str, str]) -> bool:
        origin = headers.get("origin")
        if origin:
            return origin in self.origins
        referer = headers.get("referer") or ""
        return any(referer.startswith(f"{o}/") for o in self.origins)

    def index(self) -> Response:
        try:
            found = self.sent_mail()
        except MailSourceError as exc:
            return Response(
                HTTPStatus.OK,
                layout("メールボックス / mailbox", f'<p class="error">{esc(exc)}</p>'),
            )
        rows = []
        for sent in reversed(found):
            message = sent.message()
            when = _date(message)
            link = f"/mail/{sent.number}"
            rows.append(
                "<tr>"
                f'<td><a href="{link}">{sent.number}</a></td>'
                f"<td>{esc(f'{when:%Y-%m-%d %H:%M:%S}' if when else '—')}</td>"
                f"<td>{esc(_header(message, 'From'))}</td>"
                f"<td>{esc(_header(message, 'To'))}</td>"
                f'<td><a href="{link}">{esc(_header(message, "Subject") or "（件名なし）")}</a></td>'
                f"<td>{esc(_header(message, 'Reply-To'))}</td>"
                "</tr>"
            )
        table = (
            "<table><thead><tr><th>No.</th><th>日時 (JST)</th><th>差出人 From</th>"
            "<th>宛先 To</th><th>件名 Subject</th><th>返信先 Reply-To</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
            if rows
            else "<p>まだメールはありません。 / no mail yet.</p>"
        )
        body = (
            f'<p class="note">ローカルの SES が受け付けたメール {len(found)} 件（新しい順）。'
            f'<a href="/">再読み込み</a></p>{table}'
        )
        return Response(HTTPStatus.OK, layout("メールボックス / mailbox", body))

    def show_mail(self, number: int) -> Response:
        sent = self.mail(number)
        if sent is None:
            return error_page(HTTPStatus.NOT_FOUND, f"メール {number} はありません / no such mail")
        message = sent.message()
        rows = [
            (name, _header(message, name))
            for name in (
                "Date",
                "From",
                "To",
                "Cc",
                "Reply-To",
                "Subject",
                "Message-ID",
                "In-Reply-To",
                "References",
            )
        ]
        rows.append(("SES 宛先 / envelope", ", ".join(dict.fromkeys(sent.destinations))))
        headers = "".join(
            f"<tr><th>{esc(name)}</th><td>{esc(value)}</td></tr>" for name, value in rows if value
        )
        parts = [f"<table>{headers}</table>"]
        text = _text_part(message, "plain")
        if text is not None:
            parts.append(f"<h2>本文（テキスト） / text</h2><pre>{linkify(text)}</pre>")
        markup = _text_part(message, "html")
        if markup is not None:
            # sandbox="" : no scripts, no forms, no top navigation; CSP blocks remote content.
            parts.append(
                "<h2>本文（HTML） / HTML</h2>"
                f'<iframe sandbox="" srcdoc="{esc(markup)}" title="HTML 本文"></iframe>'
                f"<details><summary>HTML ソース / source</summary><pre>{esc(markup)}</pre></details>"
            )
        reply_to = _header(message, "Reply-To")
        if reply_to:
            parts.append(self.reply_form(sent.number, reply_to, message))
        parts.append(
            f"<details><summary>元のメール / raw message</summary><pre>{esc(sent.raw)}</pre></details>"
        )
        title = _header(message, "Subject") or f"メール {number}"
        return Response(HTTPStatus.OK, layout(title, "".join(parts)))

    def reply_form(self, number: int, reply_to: str, original: EmailMessage) -> str:
        staff = reply_senders(original, self.environ)
        if not staff:
            return '<p class="error">STAFF_NOTIFY_TO が空のため返信できません。</p>'
        options = "".join(f'<option value="{esc(a)}">{esc(a)}</option>' for a in staff)
        return (
            "<h2>返信する / reply</h2>"
            '<p class="note">本番と同じ経路（S3 に保存して受信処理を実行）で返信を届けます。</p>'
            f'<form method="post" action="/mail/{number}/reply">'
            f"<p>宛先 To：{esc(reply_to)}</p>"
            '<p><label>差出人（事務局スタッフ） <select name="sender">'
            f"{options}</select></label></p>"
            '<p><label for="reply-text">本文</label><br>'
            f'<textarea id="reply-text" name="text" rows="8">{esc(REPLY_HINT)}</textarea></p>'
            '<p><label><input type="checkbox" name="quote" value="1" checked> '
            "元のメールを引用する</label></p>"
            "<p><button>返信を送る / send reply</button></p></form>"
        )

    def post_reply(self, number: int, form: Mapping[str, str]) -> Response:
        sent = self.mail(number)
        if sent is None:
            return error_page(HTTPStatus.NOT_FOUND, f"メール {number} はありません / no such mail")
        original = sent.message()
        reply_to = _header(original, "Reply-To")
        if not reply_to:
            return error_page(HTTPStatus.BAD_REQUEST, "このメールには返信先がありません")
        sender = form.get("sender", "")
        if sender not in reply_senders(original, self.environ):
            return error_page(
                HTTPStatus.BAD_REQUEST, "差出人は事務局スタッフから選んでください / unknown sender"
            )
        reply = build_reply(
            original, sender=sender, text=form.get("text", ""), quote=form.get("quote") == "1"
        )
        raw = reply.as_bytes()
        outcome = deliver_inbound(raw, [parseaddr(reply_to)[1]])
        log.info("メールボックスからの返信 / reply from the mailbox: %s", outcome)
        rows = "".join(
            f"<tr><th>{esc(kind)}</th><td>{esc(count)}</td>"
            f"<td>{esc(OUTCOME_LABELS.get(kind, ''))}</td></tr>"
            for kind, count in outcome.items()
        )
        body = (
            f"<p>メール {number} への返信を受信処理に渡しました。</p>"
            "<h2>受信処理の結果 / outcome</h2>"
            + (f"<table>{rows}</table>" if rows else "<p>（結果なし / no outcome）</p>")
            + f"<pre>{esc(json.dumps(outcome, ensure_ascii=False))}</pre>"
            '<p class="note">返信への応答メールは、1 秒ほどでメールボックスに届きます。</p>'
            f'<p><a href="/">メールボックスに戻る</a> ・ <a href="/mail/{number}">元のメール</a></p>'
            "<details><summary>送った返信 / the reply as sent</summary>"
            f"<pre>{esc(readable(reply))}</pre></details>"
        )
        return redirect_to(self.keep(layout("返信の結果 / reply outcome", body)))

    def jobs(self) -> Response:
        items = "".join(
            f'<li><form method="post" action="/jobs/{esc(name)}">{esc(job.label)} '
            f"<button>実行 / run</button></form></li>"
            for name, job in JOBS.items()
        )
        body = (
            '<p class="note">AWS ではスケジュールで動く処理を、今すぐ実行します。</p>'
            f"<ul>{items}</ul>"
        )
        return Response(HTTPStatus.OK, layout("ジョブ / scheduled jobs", body))

    def post_job(self, name: str) -> Response:
        job = JOBS.get(name)
        if job is None:
            return error_page(HTTPStatus.NOT_FOUND, f"ジョブ {name} はありません / no such job")
        result = job.run()
        log.info("ジョブ %s を実行 / ran job %s: %s", name, name, result)
        if isinstance(result, Mapping):
            rows = "".join(
                f"<tr><th>{esc(key)}</th><td>{esc(value)}</td></tr>"
                for key, value in result.items()
            )
            shown = f"<table>{rows}</table>"
        else:
            shown = f"<pre>{esc(result)}</pre>"
        body = (
            f"<p>{esc(job.label)} を実行しました。</p>{shown}"
            '<p><a href="/jobs">ジョブ一覧に戻る</a> ・ <a href="/">メールボックス</a></p>'
        )
        return redirect_to(self.keep(layout(f"ジョブの結果 / {name}", body)))


def _in_process_mail() -> list[tuple[str, list[str]]]:
    """Raw sends kept by the moto running in this process (every account and region)."""
    from moto.ses.models import ses_backends

    found: list[tuple[str, list[str]]] = []
    for regions in list(ses_backends.values()):
        for backend in list(regions.values()):
            # The desk sends raw MIME only; simple sends have no raw_data.
            found += [
                (m.raw_data, list(m.destinations))
                for m in list(backend.sent_messages)
                if hasattr(m, "raw_data")
            ]
    return found


def _moto_api_mail(endpoint: str) -> list[tuple[str, list[str]]]:
    """Raw sends kept by a moto server elsewhere, read from its data dump."""
    url = f"{endpoint}/moto-api/data.json"
    try:
        with urllib.request.urlopen(url, timeout=MOTO_API_TIMEOUT_SECONDS) as response:
            data = json.loads(response.read())
        raw_messages = data.get("ses", {}).get("RawMessage", [])
        return [(str(m["raw_data"]), list(m.get("destinations", []))) for m in raw_messages]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise MailSourceError(
            f"送信メールを {url} から読めません（moto 以外の SES エミュレーターかもしれません）"
            f" / cannot read sent mail from {url}: {exc}"
        ) from exc


def layout(title: str, body: str) -> str:
    """A whole page; `body` is markup built from escaped values."""
    return (
        '<!doctype html><html lang="ja"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)} - dx-desk 開発用メールボックス</title><style>{STYLE}</style></head>"
        '<body><nav><a href="/">メールボックス</a><a href="/jobs">ジョブ</a>'
        '<span class="note">開発用 / dev only</span></nav>'
        f"<h1>{esc(title)}</h1>{body}</body></html>"
    )


def error_page(status: int, message: str) -> Response:
    return Response(status, layout(f"{status}", f'<p class="error">{esc(message)}</p>'))


def redirect_to(result_id: str) -> Response:
    return Response(HTTPStatus.SEE_OTHER, "", {"Location": f"/results/{result_id}"})


class MailboxServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, mailbox: Mailbox | None = None) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.mailbox = mailbox or Mailbox(self.server_address[1])
        self.mailbox.port = int(self.server_address[1])
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.mailbox.port}"

    def start(self, *, moto_url: str | None = None) -> None:
        """Serve in a daemon thread; `moto_url`: the moto running in this process, if any."""
        self.mailbox.moto_url = moto_url
        self._thread = threading.Thread(target=self.serve_forever, name="mailbox", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=5)
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: MailboxServer
    server_version = "dx-desk-mailbox"

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def _handle(self, method: str) -> None:
        path = urllib.parse.urlsplit(self.path).path
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_FORM_BYTES:
                self.close_connection = True
                response = error_page(
                    HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "大きすぎます / too large"
                )
            else:
                body = self.rfile.read(length) if length > 0 else b""
                headers = {name.lower(): value for name, value in self.headers.items()}
                response = self.server.mailbox.respond(method, path, headers, body)
        except Exception as exc:
            # The boundary of one request: whatever a page or the desk code it runs raises
            # (a module being edited, an endpoint restarting) becomes a logged 500 page;
            # the mailbox and the rest of the stack keep running.
            log.exception("メールボックスのエラー / mailbox error: %s %s", method, path)
            response = error_page(
                HTTPStatus.INTERNAL_SERVER_ERROR,
                f"処理中にエラーが起きました / error: {type(exc).__name__}: {exc}",
            )
        self._send(response)

    def _send(self, response: Response) -> None:
        payload = response.body.encode("utf-8")
        self.send_response(response.status)
        headers = {
            "Content-Type": "text/html; charset=utf-8",
            "Content-Length": str(len(payload)),
            "Content-Security-Policy": CSP,
            "Cache-Control": "no-store",
            # POSTs from these pages must carry their Origin (no-referrer would make it null).
            "Referrer-Policy": "same-origin",
            "X-Content-Type-Options": "nosniff",
            **response.headers,
        }
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


def bind_mailbox(port: int, *, api_port: int) -> MailboxServer:
    """The mailbox server bound to 127.0.0.1:`port` (0: any free port), not yet serving."""
    if port == api_port:
        raise SystemExit(f"MAILBOX_PORT と PORT が同じです / MAILBOX_PORT and PORT are both {port}")
    try:
        return MailboxServer(port)
    except OSError:
        raise SystemExit(
            f"メールボックスのポート {port} は使用中です（MAILBOX_PORT で変更できます）"
            f" / mailbox port {port} is already in use (set MAILBOX_PORT)"
        ) from None
