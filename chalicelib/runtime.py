"""The one place that builds boto3 clients, stores, the mailer and the clock, lazily and cached."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.core import settings as settings_rules
from chalicelib.core.deployment import Deployment, deployment_from
from chalicelib.core.errors import ConfigError
from chalicelib.core.ports import Desk, IntakeDesk
from chalicelib.core.settings import ParameterUnavailable, Settings, forget_parameters

# The stores are imported where they are built: a request loads only the ones it uses
# (the intake only the case store), which keeps the API function's cold start short.
if TYPE_CHECKING:
    from chalicelib.core.directory import Directory, DirectoryCache
    from chalicelib.storage.addresses import AddressStore
    from chalicelib.storage.admin import AdminStore
    from chalicelib.storage.cases import CaseStore
    from chalicelib.storage.console import ConsoleStore
    from chalicelib.storage.mailer import SesMailer
    from chalicelib.storage.outbox import OutboxStore
    from chalicelib.storage.privacy import PrivacyStore
    from chalicelib.storage.requester import RequesterStore
    from chalicelib.storage.roster import RosterStore
    from chalicelib.storage.survey import SurveyStore


def get_settings() -> Settings:
    """The settings for the current environment (cheap: cached per distinct environment)."""
    return settings_rules.settings_from(os.environ)


def get_deployment() -> Deployment:
    return load_deployment(get_settings().deployment_file)


@lru_cache(maxsize=4)
def load_deployment(path: Path) -> Deployment:
    """The deployment file (DEPLOYMENT_FILE), read once per process."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read deployment file {path}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"deployment file {path} is not a JSON object")
    return deployment_from(data)


def now() -> datetime:
    return datetime.now(UTC)


def desk() -> Desk:
    """The composition root of one invocation: settings, the directory's deployment and
    staff (cached per process), and now. Entry points build it once and pass it on."""
    found = directory()
    return Desk(get_settings(), found.deployment, found.staff, now())


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
    # The outbox retries instead (outbox/service.py).
    return boto3.client(
        "sesv2",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=3, read_timeout=10),
    )


@cache
def s3() -> Any:
    return boto3.client("s3", config=Config(retries={"mode": "standard", "max_attempts": 3}))


@cache
def ssm() -> Any:
    return boto3.client(
        "ssm",
        config=Config(
            retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5
        ),
    )


# SSM answers that no retry will change: the setting itself is wrong.
_PARAMETER_MISCONFIGURED = {
    "ParameterNotFound",
    "ParameterVersionNotFound",
    "AccessDeniedException",
    "InvalidKeyId",
    "ValidationException",
}


def read_parameter(name: str) -> str:
    """The decrypted value of one SSM parameter (config.py caches it; never logged)."""
    try:
        response = ssm().get_parameter(Name=name, WithDecryption=True)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in _PARAMETER_MISCONFIGURED:
            raise ConfigError(f"SSM parameter {name}: {code}") from exc
        raise ParameterUnavailable(f"SSM parameter {name}: {code or 'error'}") from exc
    except BotoCoreError as exc:
        raise ParameterUnavailable(f"SSM parameter {name}: {type(exc).__name__}") from exc
    return str(response["Parameter"]["Value"])


def case_store() -> CaseStore:
    from chalicelib.storage.cases import CaseStore

    settings = get_settings()
    return CaseStore(dynamodb(), settings.table_name, settings.retention())


def roster_store() -> RosterStore:
    from chalicelib.storage.roster import RosterStore

    settings = get_settings()
    return RosterStore(dynamodb(), settings.table_name, settings.retention())


def admin_store() -> AdminStore:
    from chalicelib.storage.admin import AdminStore

    return AdminStore(dynamodb(), get_settings().table_name)


def outbox_store() -> OutboxStore:
    from chalicelib.storage.outbox import OutboxStore

    settings = get_settings()
    return OutboxStore(dynamodb(), settings.table_name, settings.retention())


def privacy_store() -> PrivacyStore:
    from chalicelib.storage.privacy import PrivacyStore

    return PrivacyStore(dynamodb(), get_settings().table_name)


def address_store() -> AddressStore:
    from chalicelib.storage.addresses import AddressStore

    settings = get_settings()
    return AddressStore(dynamodb(), settings.table_name, settings.retention())


def requester_store() -> RequesterStore:
    from chalicelib.storage.requester import RequesterStore

    settings = get_settings()
    return RequesterStore(dynamodb(), settings.table_name, settings.retention())


def survey_store() -> SurveyStore:
    from chalicelib.storage.survey import SurveyStore

    settings = get_settings()
    return SurveyStore(dynamodb(), settings.table_name, settings.retention())


def console_store() -> ConsoleStore:
    from chalicelib.storage.console import ConsoleStore

    settings = get_settings()
    return ConsoleStore(dynamodb(), settings.table_name, settings.retention())


def mailer() -> SesMailer:
    from chalicelib.storage.mailer import SesMailer

    return SesMailer(sesv2(), get_settings().ses_configuration_set)


# The desk directory (staff list + taxonomy, core/directory.py), one per
# configuration: read with one Query, then kept for DIRECTORY_CACHE_SECONDS. Pages,
# links, admin views and the outbox read it; an intake never does (intake_desk()).
_directories: dict[tuple[Any, ...], DirectoryCache] = {}


def directory() -> Directory:
    """The staff list and taxonomy now in force (cached per process)."""
    return _directory_cache(get_settings()).get()


def intake_desk() -> IntakeDesk:
    """What a submission needs, read from nothing: the settings, the deployment (with the
    stored taxonomy when this process holds a fresh directory) and now (core/ports.py)."""
    settings = get_settings()
    held = _directories.get(_directory_key(settings))
    found = held.peek() if held is not None else None
    if found is not None:
        deployment, applied = found.deployment, True
    else:
        deployment, applied = load_deployment(settings.deployment_file), False
    return IntakeDesk(settings, deployment, now(), applied, _reread_taxonomy)


def _reread_taxonomy() -> tuple[Deployment, int]:
    """The taxonomy in force now (one Query), which the directory then holds."""
    held = _directory_cache(get_settings())
    held.forget()
    found = held.get()
    return found.deployment, found.taxonomy.version


def _directory_key(settings: Settings) -> tuple[Any, ...]:
    return (
        settings.table_name,
        settings.staff_notify_to,
        settings.deployment_file,
        settings.directory_cache_seconds,
    )


def _directory_cache(settings: Settings) -> DirectoryCache:
    # Imported here: nothing of it is needed until a request reads the directory.
    from chalicelib.core.directory import DirectoryCache, load_directory

    key = _directory_key(settings)
    held = _directories.get(key)
    if held is None:

        def load() -> Directory:
            from chalicelib.storage.admin import AdminStore

            return load_directory(
                AdminStore(dynamodb(), settings.table_name),
                settings,
                load_deployment(settings.deployment_file),
                int(now().timestamp()),
            )

        held = _directories[key] = DirectoryCache(load, settings.directory_cache_seconds)
    return held


def forget_directory() -> None:
    """Read the directory again on next use (after an admin edit in this process)."""
    _directories.clear()


def reset() -> None:
    """Forget cached clients (tests, and the dev launcher after it moves endpoints)."""
    forget_directory()
    dynamodb.cache_clear()
    sesv2.cache_clear()
    s3.cache_clear()
    ssm.cache_clear()
    # Values fetched through the old clients go too.
    forget_parameters()


def after_restore() -> None:
    """What a Lambda SnapStart restore must not carry over from the snapshot (docs/operations.md
    "SnapStart"): clients and their connections, parameters read from SSM and the directory
    (all built lazily again), and the `random` module's state, which every environment restored
    from one snapshot would otherwise share (botocore draws its retry jitter from it). Receipt
    numbers, tokens and ids come from `secrets`/`uuid4`, which read the kernel's generator
    on every call, so they stay unique after a restore."""
    import random

    reset()
    random.seed()


def register_restore_hook(hooks: Any) -> None:
    """Register `after_restore` with the runtime's hook module (snapshot_restore_py)."""
    hooks.register_after_restore(after_restore)


# Signing keys named by a *_PARAM setting are read from SSM through this process's client.
settings_rules.use_parameter_source(read_parameter)

try:
    # Present in Lambda's Python 3.12+ runtimes, where SnapStart exists; absent here and in tests.
    import snapshot_restore_py  # type: ignore[import-not-found]
except ImportError:
    pass
else:
    register_restore_hook(snapshot_restore_py)
