"""Settings: read at call time, named when missing, never built at import."""

from __future__ import annotations

import pytest

from chalicelib.config import get_settings
from chalicelib.errors import ConfigError


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
