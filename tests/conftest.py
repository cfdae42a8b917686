"""Shared fixtures: AWS under moto with resources built from infra/, settings from .chalice/config.json."""

from __future__ import annotations

import email
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "123456789012"
REGION = "ap-northeast-1"


def local_stage_env() -> dict[str, str]:
    """The environment of the `local` stage, as Chalice would set it (one source)."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
    return {
        **config["environment_variables"],
        **config["stages"]["local"]["environment_variables"],
        # make dev sets this from its port; tests pretend the API is here.
        "PUBLIC_BASE_URL": "http://desk.test",
    }


@pytest.fixture
def stage_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = local_stage_env()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, stage_env: dict[str, str]) -> Iterator[dict[str, Any]]:
    """moto for every AWS call, with the table and the sending identity created from infra/."""
    from moto import mock_aws

    from chalicelib import runtime
    from infra.local.moto_patches import prepare_moto
    from infra.local.resources import create_buckets, create_tables, verify_sender

    for name in list(os.environ):
        if name.startswith("AWS_ENDPOINT_URL") or name == "AWS_PROFILE":
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    runtime.reset()
    prepare_moto()
    with mock_aws():
        import boto3

        create_tables(boto3.client("dynamodb"), stage_env)
        create_buckets(boto3.client("s3"), stage_env)
        verify_sender(boto3.client("sesv2"), stage_env["MAIL_FROM"])
        yield {"dynamodb": boto3.client("dynamodb"), "env": stage_env}
    runtime.reset()


def sent_mail() -> list[EmailMessage]:
    """Every message moto's SES accepted, parsed from the raw bytes it kept."""
    from moto.ses.models import ses_backends

    backend = ses_backends[ACCOUNT][REGION]
    messages = []
    for sent in backend.sent_messages:
        raw = sent.raw_data if hasattr(sent, "raw_data") else ""
        msg = email.message_from_string(raw, policy=default_policy)
        assert isinstance(msg, EmailMessage)
        messages.append(msg)
    return messages


@pytest.fixture
def mailbox(aws: dict[str, Any]) -> Any:
    return sent_mail


@pytest.fixture
def client(aws: dict[str, Any]) -> Iterator[Any]:
    from chalice.test import Client

    from app import app

    with Client(app, project_dir=str(ROOT), stage_name="local") as test_client:
        yield test_client


# The contract's required fields, in page order (organization: unless resident).
REQUIRED_FIELDS = (
    "requester_type",
    "name",
    "email",
    "municipality",
    "support_types",
    "category",
    "message",
    "preferred_format",
    "privacy_consent",
)

NOW = datetime(2026, 11, 26, 10, 30, tzinfo=UTC)


def valid_payload(**overrides: Any) -> dict[str, Any]:
    """A complete, valid submission (fictitious data only)."""
    payload: dict[str, Any] = {
        "requester_type": "business",
        "organization": "株式会社サンプル商事",
        "name": "相談者A",
        "name_kana": "ソウダンシャエー",
        "email": "requester-a@example.com",
        "phone": "059-000-0000",
        "municipality": "24201",
        "support_types": ["training", "consultation"],
        "category": "workstyle",
        "message": "社内の紙の申請書を減らしたいです。\n何から始めればよいか相談したいです。",
        "preferred_format": "online",
        "privacy_consent": True,
    }
    payload.update(overrides)
    return payload
