"""Settings and deployment data, read when called (never at import), cached, failing fast by name."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from chalicelib.errors import ConfigError

DEFAULT_DEPLOYMENT_FILE = Path(__file__).with_name("data") / "deployment.json"

# Every environment variable the code reads, with its default (None: required).
_ENV: dict[str, str | None] = {
    "TABLE_NAME": None,
    "MAIL_FROM": None,
    "STAFF_NOTIFY_TO": None,
    "DESK_NAME": "DX相談窓口",
    "DESK_CONTACT": "",
    "MAIL_DOMAIN": "",
    "ALLOWED_ORIGINS": "",
    "MAX_BODY_BYTES": "32768",
    "REPLAY_WINDOW_SECONDS": "600",
    "IDEMPOTENCY_KEY_TTL_SECONDS": "86400",
    "RATE_LIMIT_PER_HOUR": "20",
    "CASE_RETENTION_DAYS": "1825",
    "MAIL_RETENTION_DAYS": "400",
    "AUDIT_RETENTION_DAYS": "2555",
    "SES_CONFIGURATION_SET": "",
    "DEPLOYMENT_FILE": "",
    "FORM_SIGNING_KEYS": "",
    "FORM_MIN_SECONDS": "3",
    "FORM_MAX_AGE_SECONDS": "86400",
    "LINK_SIGNING_KEYS": "",
    "ACTION_LINK_TTL_DAYS": "14",
    "PUBLIC_BASE_URL": "",
    "MAIL_REPLY_DOMAIN": "",
    "INBOUND_BUCKET": "",
    "MAIL_REPLY_CAP_PER_DAY": "20",
    "MAX_SESSIONS": "3",
    "REMINDER_IDLE_BUSINESS_DAYS": "3",
    "DESK_MANAGER_TO": "",
}


@dataclass(frozen=True)
class Settings:
    table_name: str
    mail_from: str
    staff_notify_to: tuple[str, ...]
    desk_name: str
    desk_contact: str
    mail_domain: str
    allowed_origins: tuple[str, ...]
    max_body_bytes: int
    replay_window_seconds: int
    idempotency_key_ttl_seconds: int
    rate_limit_per_hour: int
    case_retention_days: int
    mail_retention_days: int
    audit_retention_days: int
    ses_configuration_set: str
    deployment_file: Path
    form_signing_keys: tuple[tuple[str, bytes], ...]
    form_min_seconds: int
    form_max_age_seconds: int
    link_signing_keys: tuple[tuple[str, bytes], ...]
    action_link_ttl_days: int
    public_base_url: str
    mail_reply_domain: str
    inbound_bucket: str
    mail_reply_cap_per_day: int
    max_sessions: int
    reminder_idle_business_days: int
    desk_manager_to: tuple[str, ...]

    def form_keys(self) -> tuple[str, dict[str, bytes]]:
        """The current key id and every accepted key; fails fast when none is configured."""
        if not self.form_signing_keys:
            raise ConfigError("missing settings: FORM_SIGNING_KEYS")
        return self.form_signing_keys[0][0], dict(self.form_signing_keys)

    def link_keys(self) -> tuple[str, dict[str, bytes]]:
        """The current key id and every accepted key for action links in mail."""
        if not self.link_signing_keys:
            raise ConfigError("missing settings: LINK_SIGNING_KEYS")
        return self.link_signing_keys[0][0], dict(self.link_signing_keys)

    def base_url(self) -> str:
        """Where links in mail point (the API's public address)."""
        if not self.public_base_url:
            raise ConfigError("missing settings: PUBLIC_BASE_URL")
        return self.public_base_url.rstrip("/")


def _signing_keys(name: str, value: str) -> tuple[tuple[str, bytes], ...]:
    """`id:secret,id:secret`, the current key first; older ones keep links in flight valid."""
    keys = []
    for entry in _split(value):
        key_id, _, secret = entry.partition(":")
        if not key_id.isalnum() or len(secret) < 16:
            raise ConfigError(f"{name}: each entry is id:secret, secret 16+ characters")
        keys.append((key_id, secret.encode("utf-8")))
    return tuple(keys)


def get_settings() -> Settings:
    """The settings for the current environment (cheap: cached per distinct environment)."""
    return settings_from(os.environ)


def settings_from(environ: Mapping[str, str]) -> Settings:
    return _build_settings(tuple((name, environ.get(name)) for name in _ENV))


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _int(name: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number") from None
    if number <= 0:
        raise ConfigError(f"{name} must be positive")
    return number


@lru_cache(maxsize=16)
def _build_settings(env: tuple[tuple[str, str | None], ...]) -> Settings:
    values: dict[str, str] = {}
    missing = []
    for name, value in env:
        if value is None or value == "":
            default = _ENV[name]
            if default is None:
                missing.append(name)
                continue
            value = default
        values[name] = value
    if missing:
        raise ConfigError("missing settings: " + ", ".join(missing))
    mail_from = values["MAIL_FROM"]
    return Settings(
        table_name=values["TABLE_NAME"],
        mail_from=mail_from,
        staff_notify_to=_split(values["STAFF_NOTIFY_TO"]),
        desk_name=values["DESK_NAME"],
        desk_contact=values["DESK_CONTACT"],
        mail_domain=values["MAIL_DOMAIN"] or mail_from.rpartition("@")[2].rstrip(">").strip(),
        allowed_origins=_split(values["ALLOWED_ORIGINS"]),
        max_body_bytes=_int("MAX_BODY_BYTES", values["MAX_BODY_BYTES"]),
        replay_window_seconds=_int("REPLAY_WINDOW_SECONDS", values["REPLAY_WINDOW_SECONDS"]),
        idempotency_key_ttl_seconds=_int(
            "IDEMPOTENCY_KEY_TTL_SECONDS", values["IDEMPOTENCY_KEY_TTL_SECONDS"]
        ),
        rate_limit_per_hour=_int("RATE_LIMIT_PER_HOUR", values["RATE_LIMIT_PER_HOUR"]),
        case_retention_days=_int("CASE_RETENTION_DAYS", values["CASE_RETENTION_DAYS"]),
        mail_retention_days=_int("MAIL_RETENTION_DAYS", values["MAIL_RETENTION_DAYS"]),
        audit_retention_days=_int("AUDIT_RETENTION_DAYS", values["AUDIT_RETENTION_DAYS"]),
        ses_configuration_set=values["SES_CONFIGURATION_SET"],
        deployment_file=Path(values["DEPLOYMENT_FILE"] or DEFAULT_DEPLOYMENT_FILE),
        form_signing_keys=_signing_keys("FORM_SIGNING_KEYS", values["FORM_SIGNING_KEYS"]),
        form_min_seconds=_int("FORM_MIN_SECONDS", values["FORM_MIN_SECONDS"]),
        form_max_age_seconds=_int("FORM_MAX_AGE_SECONDS", values["FORM_MAX_AGE_SECONDS"]),
        link_signing_keys=_signing_keys("LINK_SIGNING_KEYS", values["LINK_SIGNING_KEYS"]),
        action_link_ttl_days=_int("ACTION_LINK_TTL_DAYS", values["ACTION_LINK_TTL_DAYS"]),
        public_base_url=values["PUBLIC_BASE_URL"],
        mail_reply_domain=values["MAIL_REPLY_DOMAIN"],
        inbound_bucket=values["INBOUND_BUCKET"],
        mail_reply_cap_per_day=_int("MAIL_REPLY_CAP_PER_DAY", values["MAIL_REPLY_CAP_PER_DAY"]),
        max_sessions=_int("MAX_SESSIONS", values["MAX_SESSIONS"]),
        reminder_idle_business_days=_int(
            "REMINDER_IDLE_BUSINESS_DAYS", values["REMINDER_IDLE_BUSINESS_DAYS"]
        ),
        # The monthly summary goes to the desk itself unless a manager is named.
        desk_manager_to=_split(values["DESK_MANAGER_TO"]) or _split(values["STAFF_NOTIFY_TO"]),
    )


@dataclass(frozen=True)
class Label:
    ja: str
    en: str


@dataclass(frozen=True)
class Deployment:
    """Data that differs between prefectures: lists shown on the form and used in mail."""

    municipalities: dict[str, Label]
    categories: dict[str, Label]
    requester_types: dict[str, Label]
    support_types: dict[str, Label]
    preferred_formats: dict[str, Label]
    privacy_notice_version: str
    expected_contact_business_days: int


def get_deployment() -> Deployment:
    return load_deployment(get_settings().deployment_file)


def _labels(data: dict[str, Any], key: str) -> dict[str, Label]:
    try:
        return {item["id"]: Label(ja=item["ja"], en=item["en"]) for item in data[key]}
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"deployment file: {key} needs a list of {{id, ja, en}}") from exc


@lru_cache(maxsize=4)
def load_deployment(path: Path) -> Deployment:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read deployment file {path}") from exc
    return Deployment(
        municipalities=_labels(data, "municipalities"),
        categories=_labels(data, "categories"),
        requester_types=_labels(data, "requester_types"),
        support_types=_labels(data, "support_types"),
        preferred_formats=_labels(data, "preferred_formats"),
        privacy_notice_version=str(data["privacy_notice_version"]),
        expected_contact_business_days=int(data.get("expected_contact_business_days", 3)),
    )
