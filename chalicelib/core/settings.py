"""Settings: every environment variable the desk reads, declared once as a pydantic model,
parsed once per environment and failing fast by name (pure: the runtime hands in the
environment and the SSM reader)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import (
    AliasGenerator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PositiveInt,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from chalicelib.core.errors import ConfigError
from chalicelib.core.retention import RetentionPolicy

DEFAULT_DEPLOYMENT_FILE = Path(__file__).resolve().parent.parent / "data" / "deployment.json"


def _split(value: str) -> tuple[str, ...]:
    """A comma-separated list; blanks around and between entries do not count."""
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _comma_separated(value: object) -> object:
    return _split(value) if isinstance(value, str) else value


def _parse_signing_keys(value: str) -> tuple[tuple[str, bytes], ...]:
    """`id:secret,id:secret`, the current key first; older ones keep links in flight valid.

    The error says what is wrong, never what was given: the value is a secret."""
    keys = []
    for entry in _split(value):
        key_id, _, secret = entry.partition(":")
        if not key_id.isalnum() or len(secret) < 16:
            raise ValueError("each entry is id:secret, secret 16+ characters")
        keys.append((key_id, secret.encode("utf-8")))
    return tuple(keys)


def _signing_keys(value: object) -> object:
    return _parse_signing_keys(value) if isinstance(value, str) else value


# A list setting is comma-separated text (blanks dropped), not JSON.
CommaSeparated = Annotated[tuple[str, ...], BeforeValidator(_comma_separated)]
SigningKeys = Annotated[tuple[tuple[str, bytes], ...], BeforeValidator(_signing_keys)]


class Settings(BaseModel):
    """One field per environment variable: the field name upper-cased is the variable's name
    (README "Configuration"); no default means required. An empty value counts as unset.

    A plain pydantic model read through `settings_from`, not pydantic-settings: the
    environment is a flat mapping of strings, which pydantic validates as it is, and
    pydantic-settings' sources (dotenv, secrets directories, CLI, asyncio) would cost the
    API function about 40 ms of every cold start for nothing it uses (docs/design.md).
    """

    model_config = ConfigDict(
        # Only the upper-cased names are read (like the variables, case-sensitive).
        alias_generator=AliasGenerator(validation_alias=str.upper),
        frozen=True,
    )

    table_name: str
    mail_from: str
    staff_notify_to: CommaSeparated
    desk_name: str = "DX相談窓口"
    desk_contact: str = ""
    # The right-hand side of Message-IDs: the domain of MAIL_FROM unless set.
    mail_domain: str = Field(default="", validate_default=True)
    allowed_origins: CommaSeparated = ()
    # The longest valid form, percent-encoded, is about 55 KB (4,000 four-byte characters
    # at 12 bytes each); twice that lets an over-long message reach its field message.
    max_body_bytes: PositiveInt = 131072
    replay_window_seconds: PositiveInt = 600
    idempotency_key_ttl_seconds: PositiveInt = 86400
    rate_limit_per_hour: PositiveInt = 20
    case_retention_days: PositiveInt = 1825
    mail_retention_days: PositiveInt = 400
    statistics_retention_days: PositiveInt = 3650
    reference_retention_days: PositiveInt = 3650
    undeliverable_retention_days: PositiveInt = 365
    audit_retention_days: PositiveInt = 2555
    ses_configuration_set: str = ""
    deployment_file: Path = DEFAULT_DEPLOYMENT_FILE
    # repr=False: a logged Settings never shows a key.
    form_signing_keys: SigningKeys = Field(default=(), repr=False)
    form_min_seconds: PositiveInt = 3
    form_max_age_seconds: PositiveInt = 86400
    link_signing_keys: SigningKeys = Field(default=(), repr=False)
    # In AWS the signing keys live in SSM Parameter Store (SecureString), not in
    # the environment: these name the parameters, read lazily and cached.
    form_signing_keys_param: str = ""
    link_signing_keys_param: str = ""
    secrets_cache_seconds: PositiveInt = 300
    action_link_ttl_days: PositiveInt = 14
    public_base_url: str = ""
    mail_reply_domain: str = ""
    inbound_bucket: str = ""
    mail_reply_cap_per_day: PositiveInt = 20
    max_sessions: PositiveInt = 3
    reminder_idle_business_days: PositiveInt = 3
    # The monthly summary goes to the desk itself unless a manager is named.
    desk_manager_to: CommaSeparated = Field(default=(), validate_default=True)
    directory_cache_seconds: PositiveInt = 60
    # The requester's lookup (/my/lookup): tries per client address and per mail address an hour.
    lookup_limit_per_hour: PositiveInt = 5
    # The satisfaction survey (core/survey.py): its links' life, the one reminder's delay.
    survey_link_ttl_days: PositiveInt = 60
    survey_reminder_business_days: PositiveInt = 5
    # The follow-up mail some months after 完了; FOLLOWUP_ENABLED=false turns it off.
    followup_enabled: bool = True
    followup_after_months: PositiveInt = 3
    # The console (/console/): sign-in links, sessions, sign-in mails per address and hour.
    console_link_minutes: PositiveInt = 15
    console_idle_minutes: PositiveInt = 30
    console_session_hours: PositiveInt = 8
    console_signin_per_hour: PositiveInt = 5

    @field_validator("mail_domain")
    @classmethod
    def _sender_domain(cls, value: str, info: ValidationInfo) -> str:
        mail_from = str(info.data.get("mail_from", ""))
        return value or mail_from.rpartition("@")[2].rstrip(">").strip()

    @field_validator("desk_manager_to")
    @classmethod
    def _desk_by_default(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        return value or tuple(info.data.get("staff_notify_to", ()))

    @field_validator("form_signing_keys_param", "link_signing_keys_param")
    @classmethod
    def _one_place_per_key(cls, parameter: str, info: ValidationInfo) -> str:
        """The SSM parameter holding a key setting; the plain value and a parameter exclude
        each other."""
        keys = str(info.field_name).removesuffix("_param")
        if parameter and info.data.get(keys):
            raise ValueError(f"set {keys.upper()} or {keys.upper()}_PARAM, not both")
        if parameter and not parameter.startswith("/"):
            raise ValueError("must be a full parameter name starting with /")
        return parameter

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
            try:
                keys = _parse_signing_keys(value)
            except ValueError as exc:
                raise ConfigError(f"{name}_PARAM ({parameter}): {exc}") from None
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


# Every environment variable the code reads, in declaration order.
VARIABLES: tuple[str, ...] = tuple(name.upper() for name in Settings.model_fields)


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
    """The settings `environ` holds, cached per distinct environment: a warm call costs one
    lookup per variable. A bad setting raises ConfigError naming it, never its value."""
    return _settings_for(tuple(map(environ.get, VARIABLES)))


@lru_cache(maxsize=16)
def _settings_for(values: tuple[str | None, ...]) -> Settings:
    # Unset and empty variables alike take the default.
    environ = {name: value for name, value in zip(VARIABLES, values, strict=True) if value}
    try:
        return Settings.model_validate(environ)
    except ValidationError as exc:
        problems = _named_problems(exc)
    # Raised outside the except block: the validation error shows each input (signing keys
    # are secrets), so it must not even be the context a logged traceback prints.
    raise problems


def _named_problems(exc: ValidationError) -> ConfigError:
    """Every bad setting by name, with what is wrong in words of our own (no input echoed)."""
    missing: list[str] = []
    problems: list[str] = []
    for error in exc.errors(include_url=False, include_input=False):
        name = str(error["loc"][0]) if error["loc"] else "settings"
        kind = error["type"]
        if kind == "missing":
            missing.append(name)
        elif kind == "int_parsing":
            problems.append(f"{name} must be a whole number")
        elif kind == "greater_than":
            problems.append(f"{name} must be positive")
        elif kind == "value_error":
            problems.append(f"{name}: {error.get('ctx', {}).get('error')}")
        else:
            problems.append(f"{name} is malformed")
    if missing:
        problems.insert(0, "missing settings: " + ", ".join(missing))
    return ConfigError("; ".join(problems))
