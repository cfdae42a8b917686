"""Settings: read at call time, named when missing, never built at import."""

from __future__ import annotations

import pytest

from chalicelib.core.errors import ConfigError
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
