"""The one place that builds boto3 clients, stores, the mailer and the clock, lazily and cached."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

from chalicelib.config import get_settings
from chalicelib.mail.ses import SesMailer
from chalicelib.stores.admin import AdminStore
from chalicelib.stores.cases import CaseStore
from chalicelib.stores.outbox import OutboxStore
from chalicelib.stores.roster import RosterStore


def now() -> datetime:
    return datetime.now(UTC)


@cache
def dynamodb() -> Any:
    # Endpoints come only from the standard AWS_ENDPOINT_URL* variables.
    return boto3.client(
        "dynamodb",
        config=Config(
            retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5
        ),
    )


@cache
def sesv2() -> Any:
    # No botocore retries: a retried send after a timeout could deliver twice.
    # The outbox retries instead (services/outbox.py).
    return boto3.client(
        "sesv2",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=3, read_timeout=10),
    )


@cache
def s3() -> Any:
    return boto3.client("s3", config=Config(retries={"mode": "standard", "max_attempts": 3}))


def case_store() -> CaseStore:
    return CaseStore(dynamodb(), get_settings().table_name)


def roster_store() -> RosterStore:
    return RosterStore(dynamodb(), get_settings().table_name)


def admin_store() -> AdminStore:
    return AdminStore(dynamodb(), get_settings().table_name)


def outbox_store() -> OutboxStore:
    return OutboxStore(dynamodb(), get_settings().table_name)


def mailer() -> SesMailer:
    return SesMailer(sesv2(), get_settings().ses_configuration_set)


def reset() -> None:
    """Forget cached clients (tests, and the dev launcher after it moves endpoints)."""
    dynamodb.cache_clear()
    sesv2.cache_clear()
    s3.cache_clear()
