"""Settings: every environment variable the desk reads, parsed once per environment and failing
fast by name (pure: the runtime hands in the environment and the SSM reader)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from chalicelib.core.errors import ConfigError
from chalicelib.core.retention import RetentionPolicy

DEFAULT_DEPLOYMENT_FILE = Path(__file__).resolve().parent.parent / "data" / "deployment.json"

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
    "STATISTICS_RETENTION_DAYS": "3650",
    "REFERENCE_RETENTION_DAYS": "3650",
    "UNDELIVERABLE_RETENTION_DAYS": "365",
    "AUDIT_RETENTION_DAYS": "2555",
    "SES_CONFIGURATION_SET": "",
    "DEPLOYMENT_FILE": "",
    "FORM_SIGNING_KEYS": "",
    "FORM_MIN_SECONDS": "3",
    "FORM_MAX_AGE_SECONDS": "86400",
    "LINK_SIGNING_KEYS": "",
    # In AWS the signing keys live in SSM Parameter Store (SecureString), not in
    # the environment: these name the parameters, read lazily and cached.
    "FORM_SIGNING_KEYS_PARAM": "",
    "LINK_SIGNING_KEYS_PARAM": "",
    "SECRETS_CACHE_SECONDS": "300",
    "ACTION_LINK_TTL_DAYS": "14",
    "PUBLIC_BASE_URL": "",
    "MAIL_REPLY_DOMAIN": "",
    "INBOUND_BUCKET": "",
    "MAIL_REPLY_CAP_PER_DAY": "20",
    "MAX_SESSIONS": "3",
    "REMINDER_IDLE_BUSINESS_DAYS": "3",
    "DESK_MANAGER_TO": "",
    "DIRECTORY_CACHE_SECONDS": "60",
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
    statistics_retention_days: int
    reference_retention_days: int
    undeliverable_retention_days: int
    audit_retention_days: int
    ses_configuration_set: str
    deployment_file: Path
    form_signing_keys: tuple[tuple[str, bytes], ...]
    form_min_seconds: int
    form_max_age_seconds: int
    link_signing_keys: tuple[tuple[str, bytes], ...]
    form_signing_keys_param: str
    link_signing_keys_param: str
    secrets_cache_seconds: int
    action_link_ttl_days: int
    public_base_url: str
    mail_reply_domain: str
    inbound_bucket: str
    mail_reply_cap_per_day: int
    max_sessions: int
    reminder_idle_business_days: int
    desk_manager_to: tuple[str, ...]
    directory_cache_seconds: int

    def form_keys(self) -> tuple[str, dict[str, bytes]]:
        """The current key id and every accepted key; fails fast when none is configured."""
        keys = self._keys("FORM_SIGNING_KEYS", self.form_signing_keys, self.form_signing_keys_param)
        return keys[0][0], dict(keys)

    def link_keys(self) -> tuple[str, dict[str, bytes]]:
        """The current key id and every accepted key for action links in mail."""
        keys = self._keys("LINK_SIGNING_KEYS", self.link_signing_keys, self.link_signing_keys_param)
        return keys[0][0], dict(keys)

    def _keys(
        self, name: str, inline: tuple[tuple[str, bytes], ...], parameter: str
    ) -> tuple[tuple[str, bytes], ...]:
        # The environment value (local stage, tests) or, in AWS, the SSM
        # parameter: fetched on first use, so requests that sign nothing never
        # wait for SSM, and re-read after SECRETS_CACHE_SECONDS (rotation).
        if inline:
            return inline
        if parameter:
            value = _parameters.get(parameter, self.secrets_cache_seconds)
            keys = _signing_keys(f"{name}_PARAM ({parameter})", value)
            if keys:
                return keys
            raise ConfigError(f"{name}_PARAM: parameter {parameter} holds no key")
        raise ConfigError(f"missing settings: {name} (or {name}_PARAM)")

    def retention(self) -> RetentionPolicy:
        """The retention periods the stores stamp on what they write (docs/operations.md "Retention")."""
        return RetentionPolicy(
            case_days=self.case_retention_days,
            mail_days=self.mail_retention_days,
            statistics_days=self.statistics_retention_days,
            reference_days=self.reference_retention_days,
            undeliverable_days=self.undeliverable_retention_days,
        )

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


def _parameter_name(name: str, values: Mapping[str, str]) -> str:
    """The SSM parameter holding setting `name`; the plain value and a parameter exclude each other."""
    parameter = values[f"{name}_PARAM"]
    if parameter and values[name]:
        raise ConfigError(f"set {name} or {name}_PARAM, not both")
    if parameter and not parameter.startswith("/"):
        raise ConfigError(f"{name}_PARAM must be a full parameter name starting with /")
    return parameter


class ParameterUnavailable(ConfigError):
    """SSM could not answer just now (throttled, unreachable); a later call may succeed."""


class ParameterCache:
    """SSM parameter values, fetched on first use and kept for a bounded time.

    The bound is what lets a rotated key take effect without a redeploy; a
    refresh that fails for a passing reason keeps the value already held, so a
    throttled SSM does not turn into failed requests.
    """

    def __init__(
        self,
        fetch: Callable[[str], str],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._values: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def get(self, name: str, max_age_seconds: float) -> str:
        now = self._clock()
        with self._lock:
            held = self._values.get(name)
        if held is not None and now - held[0] < max_age_seconds:
            return held[1]
        try:
            value = self._fetch(name)
        except ParameterUnavailable:
            if held is None:
                raise
            return held[1]
        with self._lock:
            self._values[name] = (now, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()

    def set_source(self, fetch: Callable[[str], str]) -> None:
        self._fetch = fetch


def _no_parameter_source(name: str) -> str:
    raise ConfigError(f"SSM parameter {name}: no parameter source (chalicelib.runtime sets it)")


# The runtime plugs its SSM reader in (runtime.read_parameter); core itself does no I/O.
_parameters = ParameterCache(_no_parameter_source)


def use_parameter_source(fetch: Callable[[str], str]) -> None:
    """Where signing keys named by a *_PARAM setting come from (the runtime's SSM reader)."""
    _parameters.set_source(fetch)


def forget_parameters() -> None:
    """Drop every cached parameter value (tests; the next use fetches again)."""
    _parameters.clear()


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
        statistics_retention_days=_int(
            "STATISTICS_RETENTION_DAYS", values["STATISTICS_RETENTION_DAYS"]
        ),
        reference_retention_days=_int(
            "REFERENCE_RETENTION_DAYS", values["REFERENCE_RETENTION_DAYS"]
        ),
        undeliverable_retention_days=_int(
            "UNDELIVERABLE_RETENTION_DAYS", values["UNDELIVERABLE_RETENTION_DAYS"]
        ),
        audit_retention_days=_int("AUDIT_RETENTION_DAYS", values["AUDIT_RETENTION_DAYS"]),
        ses_configuration_set=values["SES_CONFIGURATION_SET"],
        deployment_file=Path(values["DEPLOYMENT_FILE"] or DEFAULT_DEPLOYMENT_FILE),
        form_signing_keys=_signing_keys("FORM_SIGNING_KEYS", values["FORM_SIGNING_KEYS"]),
        form_min_seconds=_int("FORM_MIN_SECONDS", values["FORM_MIN_SECONDS"]),
        form_max_age_seconds=_int("FORM_MAX_AGE_SECONDS", values["FORM_MAX_AGE_SECONDS"]),
        link_signing_keys=_signing_keys("LINK_SIGNING_KEYS", values["LINK_SIGNING_KEYS"]),
        form_signing_keys_param=_parameter_name("FORM_SIGNING_KEYS", values),
        link_signing_keys_param=_parameter_name("LINK_SIGNING_KEYS", values),
        secrets_cache_seconds=_int("SECRETS_CACHE_SECONDS", values["SECRETS_CACHE_SECONDS"]),
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
        directory_cache_seconds=_int("DIRECTORY_CACHE_SECONDS", values["DIRECTORY_CACHE_SECONDS"]),
    )
