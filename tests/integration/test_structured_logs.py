"""Logs in Lambda: JSON lines keyed by request and receipt number, no personal data, no cost to the API.

The job functions write through Powertools' Logger (chalicelib/logs.py); the
API function keeps the standard library and Lambda's own JSON log format
(infra/resources.yaml) writes each record's `extra` keys. Outside Lambda the
logs stay as they were (readable lines; caplog sees every record).
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from typing import Any

import boto3
import pytest

from app import app
from chalicelib import logs
from chalicelib.mailin.handler import inbound_mail
from chalicelib.outbox.handler import outbox_sweep, sweep_once
from chalicelib.outbox.ses_events import ses_events
from chalicelib.runtime import get_settings
from tests.bench.child import proxy_event
from tests.conftest import ROOT, valid_payload
from tests.integration.test_inbound import PASS, STAFF_A, reply, staff_mail, submit

REQUESTER = "requester-a@example.com"
# What Lambda's runtime writes on every line of its JSON log format besides a
# record's own `extra` keys (awslambdaric's JsonFormatter; errors add stackTrace).
RUNTIME_JSON_KEYS = {"timestamp", "level", "message", "logger", "requestId", "location"}
# Attributes every LogRecord has: what is left of a record's __dict__ are its `extra` keys.
RECORD_ATTRIBUTES = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class Context:
    """The attributes of Lambda's context object Powertools reads."""

    def __init__(self, function_name: str) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 256
        self.invoked_function_arn = (
            f"arn:aws:lambda:ap-northeast-1:123456789012:function:{function_name}"
        )
        self.aws_request_id = str(uuid.uuid4())


@pytest.fixture
def in_lambda(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """This process as a Lambda function; yields a reader of the JSON lines written so far.

    Afterwards the loggers are as before (Powertools' handler, its marks and
    the filter it puts on the root handlers removed), so other tests see the
    standard logging they expect.
    """
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "under-test")
    names = (logs.PACKAGE, app.app_name)
    saved = {
        name: (list(logger.handlers), logger.propagate, logger.level)
        for name in names
        for logger in [logging.getLogger(name)]
    }
    root_filters = {handler: list(handler.filters) for handler in logging.root.handlers}
    logs.powertools_logger.cache_clear()
    capsys.readouterr()

    def lines() -> list[dict[str, Any]]:
        out = capsys.readouterr().out
        return [json.loads(line) for line in out.splitlines() if line.startswith("{")]

    yield lines
    logs.powertools_logger.cache_clear()
    for name, (handlers, propagate, level) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.propagate = propagate
        logger.setLevel(level)
        for mark in (
            "init",
            "powertools_handler",
            "powertools_buffer_config",
            "powertools_buffer_cache",
        ):
            logger.__dict__.pop(mark, None)
    for handler, filters in root_filters.items():
        handler.filters[:] = filters


def sns_event(notice: dict[str, Any]) -> dict[str, Any]:
    """An SNS event as Lambda delivers it (every field of the real shape)."""
    topic = "arn:aws:sns:ap-northeast-1:123456789012:dx-desk-inbound"
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{topic}:{uuid.uuid4()}",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": str(uuid.uuid4()),
                    "TopicArn": topic,
                    "Subject": "Amazon SES Email Receipt Notification",
                    "Message": json.dumps(notice),
                    "Timestamp": "2026-11-26T10:30:00.000Z",
                    "SignatureVersion": "1",
                    "Signature": "c2lnbmF0dXJl",
                    "SigningCertUrl": "https://sns.ap-northeast-1.amazonaws.com/cert.pem",
                    "UnsubscribeUrl": "https://sns.ap-northeast-1.amazonaws.com/?Action=Unsubscribe",
                    "MessageAttributes": {},
                },
            }
        ]
    }


def receipt_notice(raw: bytes, recipients: list[str], verdicts: dict[str, str]) -> dict[str, Any]:
    """What SES publishes for a received mail it stored in S3 (the raw message goes to S3 here)."""
    message_id = uuid.uuid4().hex
    bucket = get_settings().inbound_bucket
    boto3.client("s3").put_object(Bucket=bucket, Key=message_id, Body=raw)
    return {
        "notificationType": "Received",
        "mail": {
            "timestamp": "2026-11-26T10:30:00.000Z",
            "source": STAFF_A,
            "messageId": message_id,
            "destination": recipients,
            "headersTruncated": False,
            "headers": [],
            "commonHeaders": {"from": [STAFF_A], "to": recipients, "subject": "Re: ..."},
        },
        "receipt": {
            "timestamp": "2026-11-26T10:30:00.000Z",
            "processingTimeMillis": 120,
            "recipients": recipients,
            **{f"{name}Verdict": {"status": status} for name, status in verdicts.items()},
            "action": {
                "type": "S3",
                "topicArn": "arn:x",
                "bucketName": bucket,
                "objectKey": message_id,
            },
        },
    }


def scheduled_event() -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-11-26T10:31:00Z",
        "region": "ap-northeast-1",
        "resources": ["arn:aws:events:ap-northeast-1:123456789012:rule/outbox_sweep"],
        "detail": {},
    }


def replied_case(mailbox: Any) -> tuple[str, EmailMessage]:
    receipt = submit()
    sweep_once()
    return receipt, staff_mail(mailbox, receipt)


def never_personal(lines: list[dict[str, Any]], *secrets: str) -> None:
    """No address, body text or token in any line (`secrets`: more values that must not appear)."""
    assert lines, "nothing logged: the check would prove nothing"
    text = json.dumps(lines, ensure_ascii=False)
    for secret in (REQUESTER, STAFF_A, "staff-b@dx-desk.example.jp", *secrets):
        assert secret not in text


def test_job_functions_write_json_keyed_by_request_and_receipt(
    aws: dict[str, Any], mailbox: Any, in_lambda: Callable[[], list[dict[str, Any]]]
) -> None:
    receipt, original = replied_case(mailbox)
    reply_to = str(original["Reply-To"])
    body = "ヒアリング開始\n\n先方と電話で話しました。NOTE-THAT-MUST-NOT-LEAK"
    in_lambda()
    context = Context("inbound_mail")
    applied = receipt_notice(reply(original, body), [reply_to], PASS)
    failing = receipt_notice(
        reply(original, body), [reply_to], {**PASS, "dmarc": "FAIL", "spf": "FAIL"}
    )
    assert inbound_mail(sns_event(applied), context) == {"applied": 1}
    assert inbound_mail(sns_event(failing), Context("inbound_mail")) == {"quarantined": 1}
    lines = in_lambda()

    (done,) = [line for line in lines if line.get("outcome") == "applied"]
    assert done["receipt_number"] == receipt
    assert done["ses_message_id"] == applied["mail"]["messageId"]
    assert done["function_request_id"] == context.aws_request_id
    assert done["function_name"] == "inbound_mail" and done["service"] == "dx-desk"
    assert done["name"] == "chalicelib.mailin.service" and done["level"] == "INFO"
    (held,) = [line for line in lines if line.get("outcome") == "quarantined"]
    assert held["level"] == "ERROR" and held["reason"] == "authentication_verdict"
    assert held["ses_message_id"] == failing["mail"]["messageId"]
    # The alarm's metric filter still finds the line (infra/resources.yaml).
    assert "inbound: quarantined" in held["message"]
    # Lambda's request id changes with the invocation; nothing of the first stays.
    assert held["function_request_id"] != context.aws_request_id
    assert "receipt_number" not in held

    sweep_context = Context("outbox_sweep")
    assert outbox_sweep(scheduled_event(), sweep_context)["sent"] >= 1
    sent = [line for line in in_lambda() if line.get("outcome") == "sent"]
    assert {line["receipt_number"] for line in sent} == {receipt}
    assert {line["template"] for line in sent} >= {"reply_result"}
    assert all(line["function_request_id"] == sweep_context.aws_request_id for line in sent)
    never_personal(
        lines + sent,
        "NOTE-THAT-MUST-NOT-LEAK",
        "先方と電話",
        reply_to.split("@")[0],  # the reply address carries the case's signed token
    )


def test_outside_lambda_logs_stay_standard(
    aws: dict[str, Any],
    mailbox: Any,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.INFO, logger="chalicelib")
    receipt, _ = replied_case(mailbox)
    assert not logging.getLogger(logs.PACKAGE).handlers
    assert logging.getLogger(logs.PACKAGE).propagate
    assert "{" not in capsys.readouterr().out
    sent = [r for r in caplog.records if getattr(r, "outcome", None) == "sent"]
    assert sent and {getattr(r, "receipt_number", None) for r in sent} == {receipt}
    assert all(f"outbox: sent {getattr(r, 'message_id', '?')}" in r.getMessage() for r in sent)


def test_api_lines_carry_both_request_ids_and_the_receipt_number(
    aws: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The API function's records: Lambda's JSON format writes their `extra` keys as fields."""
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "api_handler")
    caplog.set_level(logging.INFO, logger="chalicelib")
    event = proxy_event(json.dumps(valid_payload()))
    response = app(event, Context("api_handler"))
    assert response["statusCode"] == 201, response["body"]
    receipt = json.loads(response["body"])["receipt_number"]
    (stored,) = [r for r in caplog.records if getattr(r, "outcome", None) == "stored"]
    assert getattr(stored, "receipt_number", None) == receipt
    assert getattr(stored, "correlation_id", None) == event["requestContext"]["requestId"]
    keys = set(vars(stored)) - RECORD_ATTRIBUTES
    assert keys == {"receipt_number", "correlation_id", "outcome"}
    assert REQUESTER not in caplog.text
    # The API function never took Powertools' handler: its records go to Lambda's.
    assert not logging.getLogger(logs.PACKAGE).handlers


IMPORTED = """
import json, os, sys, uuid
import app
from tests.bench.child import LambdaContext, proxy_event
which = sys.argv[1]
if which == "api":
    event = proxy_event("{}")
    event["httpMethod"] = event["requestContext"]["httpMethod"] = "GET"  # 405: no AWS call
    status = app.app(event, LambdaContext())["statusCode"]
else:
    from chalicelib.mailin.handler import inbound_mail

    status = inbound_mail({"Records": []}, LambdaContext())
print(json.dumps([status, "aws_lambda_powertools" in sys.modules]))
"""


@pytest.mark.parametrize(("which", "loaded"), [("api", False), ("job", True)])
def test_only_the_job_functions_load_powertools(which: str, loaded: bool) -> None:
    """The API function's cold start (import and a first request) never imports Powertools."""
    result = subprocess.run(
        [sys.executable, "-c", IMPORTED, which],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "", "PYTHONPATH": str(ROOT), "AWS_LAMBDA_FUNCTION_NAME": which},
    )
    status, imported = json.loads(result.stdout.strip().splitlines()[-1])
    assert imported is loaded, (status, result.stderr[-2000:])


# A permanent bounce of a mail whose case is gone (its tags still name it).
BOUNCE = {
    "eventType": "Bounce",
    "mail": {
        "messageId": "ses-untagged-7",
        "destination": ["someone@example.com"],
        "tags": {"receipt_number": ["R-NONE"], "message_id": ["m-7"], "template": ["intake_ack"]},
    },
    "bounce": {
        "bounceType": "Permanent",
        "bounceSubType": "NoEmail",
        "bouncedRecipients": [{"emailAddress": "someone@example.com"}],
        "feedbackId": "fb-7",
    },
}


def test_ses_events_log_the_case_and_message_they_name(
    aws: dict[str, Any], in_lambda: Callable[[], list[dict[str, Any]]]
) -> None:
    assert ses_events(sns_event(BOUNCE), Context("ses_events")) == {"undeliverable": 1}
    lines = in_lambda()
    keyed = [line for line in lines if line.get("ses_message_id") == "ses-untagged-7"]
    assert keyed and all(line["receipt_number"] == "R-NONE" for line in keyed)
    assert {line["ses_event"] for line in keyed} == {"bounce"}
    assert {line["outcome"] for line in keyed} >= {"undeliverable"}
    never_personal(lines, "someone@example.com")


def runbook_fields() -> set[str]:
    """The fields the Logs Insights queries of infra/RUNBOOK.md name (not @-fields, not keywords)."""
    runbook = (ROOT / "infra" / "RUNBOOK.md").read_text(encoding="utf-8")
    section = runbook.split("## Logs Insights", 1)[1].split("\n## ", 1)[0]
    queries = "\n".join(re.findall(r"```\n(.*?)```", section, re.S))
    assert "filter receipt_number" in queries, "the section or its queries moved"
    # Strings and regular expressions hold values, not field names.
    bare = re.sub(r'"[^"]*"|/[^/\n]*/', " ", queries)
    words = set(re.findall(r"(?<![@\w])[A-Za-z_]+\b(?!\()", bare))
    return words - INSIGHTS_WORDS


# The query language's own words, and the alias a query gives a count.
INSIGHTS_WORDS = {"fields", "filter", "sort", "stats", "as", "by", "asc", "desc"}
INSIGHTS_WORDS |= {"or", "and", "in", "like", "not", "errors"}


def test_the_runbook_queries_name_only_fields_the_code_writes(
    aws: dict[str, Any],
    mailbox: Any,
    caplog: pytest.LogCaptureFixture,
    in_lambda: Callable[[], list[dict[str, Any]]],
) -> None:
    """Every field a query filters or shows is a key some function's lines carry."""
    caplog.set_level(logging.INFO, logger="chalicelib")
    # The API function first: its records reach caplog (the jobs' takeover stops that).
    app(proxy_event(json.dumps(valid_payload())), Context("api_handler"))
    api_keys = {key for record in caplog.records for key in vars(record)} - RECORD_ATTRIBUTES
    _, original = replied_case(mailbox)
    reply_to = str(original["Reply-To"])
    for verdicts in (PASS, {**PASS, "spam": "FAIL"}):
        notice = receipt_notice(reply(original, "ヒアリング開始"), [reply_to], verdicts)
        inbound_mail(sns_event(notice), Context("inbound_mail"))
    outbox_sweep(scheduled_event(), Context("outbox_sweep"))
    ses_events(sns_event(BOUNCE), Context("ses_events"))
    job_keys = {key for line in in_lambda() for key in line}
    assert {"receipt_number", "ses_event", "message_id"} <= job_keys
    fields = runbook_fields()
    assert {"receipt_number", "outcome", "level", "reason"} <= fields
    assert fields <= job_keys | api_keys | RUNTIME_JSON_KEYS, fields - job_keys - api_keys
