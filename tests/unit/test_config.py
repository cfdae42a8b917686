"""Settings: read at call time, named when missing, never built at import."""

from __future__ import annotations

import traceback
from pathlib import Path

import pytest
from pydantic import ValidationError

from chalicelib.core.errors import ConfigError
from chalicelib.core.settings import DEFAULT_DEPLOYMENT_FILE, Settings, settings_from
from chalicelib.runtime import get_settings


def test_missing_settings_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TABLE_NAME", "MAIL_FROM", "STAFF_NOTIFY_TO"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError) as info:
        get_settings()
    assert "TABLE_NAME" in str(info.value)
    assert "MAIL_FROM" in str(info.value)


def test_settings_follow_the_environment_at_call_time(
    stage_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert get_settings().table_name == stage_env["TABLE_NAME"]
    monkeypatch.setenv("TABLE_NAME", "another-table")
    assert get_settings().table_name == "another-table"


def test_bad_number_is_named_without_its_value(
    stage_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_BODY_BYTES", "lots")
    with pytest.raises(ConfigError) as info:
        get_settings()
    assert "MAX_BODY_BYTES" in str(info.value)
    assert "lots" not in str(info.value)


def test_mail_domain_defaults_to_the_sender_domain(stage_env: dict[str, str]) -> None:
    assert get_settings().mail_domain == "dx-desk.example.jp"


def test_plain_signing_keys_still_work_without_ssm(stage_env: dict[str, str]) -> None:
    # The local stage and the tests name the keys themselves: no AWS call is possible here.
    settings = get_settings()
    assert settings.form_keys()[0] == "local1"
    assert settings.link_keys()[0] == "local1"
    assert settings.form_signing_keys_param == settings.link_signing_keys_param == ""


def test_missing_signing_keys_name_both_ways_to_set_them(
    stage_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LINK_SIGNING_KEYS")
    with pytest.raises(ConfigError) as info:
        get_settings().link_keys()
    assert "LINK_SIGNING_KEYS" in str(info.value)
    assert "LINK_SIGNING_KEYS_PARAM" in str(info.value)


def test_a_parameter_name_must_be_a_full_path(
    stage_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FORM_SIGNING_KEYS")
    monkeypatch.setenv("FORM_SIGNING_KEYS_PARAM", "form-signing-keys")
    with pytest.raises(ConfigError) as info:
        get_settings()
    assert "FORM_SIGNING_KEYS_PARAM" in str(info.value)


def test_the_secrets_cache_time_is_a_positive_number(
    stage_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert get_settings().secrets_cache_seconds == 300
    monkeypatch.setenv("SECRETS_CACHE_SECONDS", "0")
    with pytest.raises(ConfigError) as info:
        get_settings()
    assert "SECRETS_CACHE_SECONDS" in str(info.value)


@pytest.mark.parametrize(
    "value",
    [
        "k9:Zq7-leaked-key",  # a secret under 16 characters
        "k9:Zq7-leaked-key-long-enough,no-secret-here",  # an entry without id:secret
        "k 9:Zq7-leaked-key-long-enough",  # a key id that is not alphanumeric
    ],
)
@pytest.mark.parametrize("name", ["FORM_SIGNING_KEYS", "LINK_SIGNING_KEYS"])
def test_a_bad_signing_key_is_named_without_its_value(
    stage_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        get_settings()
    assert str(info.value).startswith(f"{name}: ")
    # Not in the message, nor anywhere in the traceback a log would print (the validation
    # error underneath shows each input).
    assert info.value.__cause__ is None and info.value.__context__ is None
    printed = "".join(traceback.format_exception(info.value))
    assert "Zq7" not in printed
    assert "no-secret-here" not in printed


def test_every_bad_setting_is_named_at_once(
    stage_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TABLE_NAME")
    monkeypatch.setenv("MAIL_FROM", "")  # empty counts as unset
    monkeypatch.setenv("RATE_LIMIT_PER_HOUR", "20/h")
    monkeypatch.setenv("MAX_SESSIONS", "-1")
    with pytest.raises(ConfigError) as info:
        get_settings()
    assert str(info.value) == (
        "missing settings: TABLE_NAME, MAIL_FROM; RATE_LIMIT_PER_HOUR must be a whole number;"
        " MAX_SESSIONS must be positive"
    )


def test_settings_read_only_the_mapping_they_are_given(
    stage_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    given = {**stage_env, "TABLE_NAME": "given-table"}
    monkeypatch.setenv("TABLE_NAME", "process-table")
    monkeypatch.setenv("DESK_NAME", "process-desk")
    settings = settings_from(given)
    assert settings.table_name == "given-table"
    assert settings.desk_name == "DX相談窓口"  # the default: DESK_NAME is not in `given`
    del given["MAIL_FROM"]
    with pytest.raises(ConfigError, match="missing settings: MAIL_FROM"):
        settings_from(given)
    # Settings() itself reads no environment at all (settings_from is the way in).
    with pytest.raises(ValidationError):
        Settings()


def test_lists_are_comma_separated_and_empty_values_take_the_default(
    stage_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALLOWED_ORIGINS", " https://a.example.jp ,, https://b.example.jp ")
    monkeypatch.setenv("DESK_NAME", "")
    monkeypatch.setenv("MAX_BODY_BYTES", "")
    monkeypatch.setenv("DEPLOYMENT_FILE", "")
    settings = get_settings()
    assert settings.allowed_origins == ("https://a.example.jp", "https://b.example.jp")
    assert settings.desk_name == "DX相談窓口"
    assert settings.max_body_bytes == 131072
    assert settings.deployment_file == DEFAULT_DEPLOYMENT_FILE
    monkeypatch.setenv("DEPLOYMENT_FILE", "/srv/desk/deployment.json")
    assert get_settings().deployment_file == Path("/srv/desk/deployment.json")


def test_derived_values_follow_what_they_derive_from(
    stage_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAIL_FROM", "窓口 <desk@pref.example.jp>")
    monkeypatch.setenv("STAFF_NOTIFY_TO", "staff-a@pref.example.jp, staff-b@pref.example.jp")
    settings = get_settings()
    assert settings.mail_domain == "pref.example.jp"
    # The monthly summary goes to the desk's notified staff unless a manager is named.
    assert settings.desk_manager_to == ("staff-a@pref.example.jp", "staff-b@pref.example.jp")
    monkeypatch.setenv("MAIL_DOMAIN", "mail.pref.example.jp")
    monkeypatch.setenv("DESK_MANAGER_TO", "manager@pref.example.jp")
    settings = get_settings()
    assert settings.mail_domain == "mail.pref.example.jp"
    assert settings.desk_manager_to == ("manager@pref.example.jp",)


def test_settings_are_cached_per_environment_and_frozen(stage_env: dict[str, str]) -> None:
    settings = get_settings()
    assert get_settings() is settings
    assert settings_from(dict(stage_env)) is settings  # same values, same settings
    with pytest.raises(ValidationError):
        settings.table_name = "another-table"  # type: ignore[misc]


def test_a_printed_settings_object_shows_no_signing_key(stage_env: dict[str, str]) -> None:
    settings = get_settings()
    assert settings.form_keys()[1]["local1"] in stage_env["FORM_SIGNING_KEYS"].encode()
    for key in ("local-development-form-key", "local-development-link-key"):
        assert key not in repr(settings)
        assert key not in str(settings)
