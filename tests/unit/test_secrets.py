"""Signing keys from SSM Parameter Store: read on first use, cached for a bounded time, rotated safely."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib import runtime
from chalicelib.core import actiontoken, replyaddress
from chalicelib.core import settings as config
from chalicelib.core.errors import ConfigError
from chalicelib.core.settings import ParameterCache, ParameterUnavailable
from chalicelib.intake import formtoken
from chalicelib.runtime import get_settings
from tests.conftest import NOW, REGION, ROOT

FORM_PARAM = "/dx-desk/test/form-signing-keys"
LINK_PARAM = "/dx-desk/test/link-signing-keys"
OLD = "k1:first-secret-for-signing-0001"
NEW = "k2:second-secret-for-signing-002"


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds


@pytest.fixture
def ssm(monkeypatch: pytest.MonkeyPatch, stage_env: dict[str, str]) -> Iterator[dict[str, Any]]:
    """moto's SSM holding both key parameters; settings name the parameters, not the keys."""
    from moto import mock_aws

    for name in list(os.environ):
        if name.startswith("AWS_ENDPOINT_URL") or name == "AWS_PROFILE":
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.delenv("FORM_SIGNING_KEYS")
    monkeypatch.delenv("LINK_SIGNING_KEYS")
    monkeypatch.setenv("FORM_SIGNING_KEYS_PARAM", FORM_PARAM)
    monkeypatch.setenv("LINK_SIGNING_KEYS_PARAM", LINK_PARAM)
    clock = Clock()
    runtime.reset()
    monkeypatch.setattr(config, "_parameters", ParameterCache(runtime.read_parameter, clock))
    with mock_aws():
        import boto3

        client = boto3.client("ssm")
        for name in (FORM_PARAM, LINK_PARAM):
            client.put_parameter(Name=name, Value=OLD, Type="SecureString")
        calls: list[str] = []
        runtime.ssm().meta.events.register(
            "before-parameter-build.ssm.GetParameter",
            lambda params, **_: calls.append(params["Name"]),
        )
        yield {"client": client, "clock": clock, "calls": calls}
    runtime.reset()


def put(ssm: dict[str, Any], name: str, value: str) -> None:
    ssm["client"].put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)


def test_signing_keys_come_from_the_named_parameters(ssm: dict[str, Any]) -> None:
    settings = get_settings()
    assert settings.form_keys() == ("k1", {"k1": b"first-secret-for-signing-0001"})
    assert settings.link_keys()[0] == "k1"
    assert sorted(ssm["calls"]) == [FORM_PARAM, LINK_PARAM]


def test_settings_and_requests_that_sign_nothing_make_no_ssm_call(ssm: dict[str, Any]) -> None:
    settings = get_settings()
    assert settings.table_name and settings.base_url()
    assert settings.form_signing_keys_param == FORM_PARAM
    assert ssm["calls"] == []
    settings.link_keys()
    assert ssm["calls"] == [LINK_PARAM]  # only the key asked for


def test_values_are_kept_for_the_cache_time(ssm: dict[str, Any]) -> None:
    assert get_settings().secrets_cache_seconds == 300
    for _ in range(5):
        get_settings().link_keys()
        ssm["clock"].seconds += 59
    assert ssm["calls"] == [LINK_PARAM]


def test_values_are_read_again_after_the_cache_time(ssm: dict[str, Any]) -> None:
    assert get_settings().link_keys()[0] == "k1"
    put(ssm, LINK_PARAM, f"{NEW},{OLD}")
    ssm["clock"].seconds += 299
    assert get_settings().link_keys()[0] == "k1"  # still the cached value
    ssm["clock"].seconds += 2
    assert get_settings().link_keys()[0] == "k2"  # rotation without a redeploy
    assert ssm["calls"] == [LINK_PARAM, LINK_PARAM]


def test_a_missing_parameter_is_a_config_error_naming_it(
    ssm: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINK_SIGNING_KEYS_PARAM", "/dx-desk/test/no-such-parameter")
    with pytest.raises(ConfigError) as info:
        get_settings().link_keys()
    assert "/dx-desk/test/no-such-parameter" in str(info.value)
    assert "ParameterNotFound" in str(info.value)
    assert not isinstance(info.value, ParameterUnavailable)


def test_a_malformed_parameter_is_named_without_its_value(ssm: dict[str, Any]) -> None:
    put(ssm, FORM_PARAM, "k1:short")
    with pytest.raises(ConfigError) as info:
        get_settings().form_keys()
    assert FORM_PARAM in str(info.value)
    assert "short" not in str(info.value)


def test_throttling_is_a_passing_failure_and_a_missing_parameter_is_not(
    ssm: dict[str, Any],
) -> None:
    from botocore.stub import Stubber

    with Stubber(runtime.ssm()) as stub:
        stub.add_client_error("get_parameter", service_error_code="ThrottlingException")
        stub.add_client_error("get_parameter", service_error_code="ParameterNotFound")
        with pytest.raises(ParameterUnavailable):
            runtime.read_parameter(LINK_PARAM)
        with pytest.raises(ConfigError) as info:
            runtime.read_parameter(LINK_PARAM)
        assert not isinstance(info.value, ParameterUnavailable)


def test_a_passing_failure_keeps_the_value_already_held() -> None:
    clock = Clock()
    answers: list[Any] = ["k1:first-secret-for-signing-0001", ParameterUnavailable("throttled")]

    def fetch(name: str) -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return str(answer)

    cache = ParameterCache(fetch, clock)
    assert cache.get("/p", 300) == OLD
    clock.seconds += 301
    assert cache.get("/p", 300) == OLD  # SSM throttled: the held value serves

    def unreachable(name: str) -> str:
        raise ParameterUnavailable("unreachable")

    with pytest.raises(ParameterUnavailable):
        ParameterCache(unreachable, clock).get("/p", 300)  # nothing held: nothing to serve


def test_a_key_and_a_parameter_for_it_exclude_each_other(
    stage_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINK_SIGNING_KEYS_PARAM", LINK_PARAM)
    with pytest.raises(ConfigError) as info:
        get_settings()
    assert "LINK_SIGNING_KEYS or LINK_SIGNING_KEYS_PARAM" in str(info.value)


def test_importing_the_app_reads_no_parameter() -> None:
    script = (
        "import app\n"
        "from chalicelib import runtime\nfrom chalicelib.core import settings as config\n"
        "assert runtime.ssm.cache_info().currsize == 0\n"
        "assert config._parameters._values == {}\n"
    )
    env = {
        "PATH": "",
        "FORM_SIGNING_KEYS_PARAM": FORM_PARAM,
        "LINK_SIGNING_KEYS_PARAM": LINK_PARAM,
    }
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, env=env)


# Rotation: add the new key in front (it signs, the old one still verifies),
# wait until nothing signed with the old key can still be used, then drop it.


def _signed_with_current_keys() -> dict[str, str]:
    settings = get_settings()
    link_id, link_keys = settings.link_keys()
    form_id, form_keys = settings.form_keys()
    return {
        "link": actiontoken.sign(
            link_keys,
            link_id,
            purpose="staff:take",
            receipt_number="DX-261126-482175",
            recipient=actiontoken.recipient_id("staff-a@dx-desk.example.jp", link_keys[link_id]),
            expires_at=int(NOW.timestamp()) + 14 * 86400,
        ),
        "reply": replyaddress.reply_address(
            link_keys, link_id, "DX-261126-482175", "reply.dx-desk.example.jp"
        ),
        "form": formtoken.sign(form_keys, form_id, int(NOW.timestamp())),
    }


def _still_valid(signed: dict[str, str]) -> dict[str, bool]:
    settings = get_settings()
    _, link_keys = settings.link_keys()
    _, form_keys = settings.form_keys()
    now = int(NOW.timestamp()) + 60
    try:
        actiontoken.verify(signed["link"], link_keys, now=now)
        link = True
    except actiontoken.TokenRefused:
        link = False
    reply = replyaddress.read_reply_address(signed["reply"], link_keys, "reply.dx-desk.example.jp")
    form = formtoken.verify(signed["form"], form_keys, now=now, min_seconds=3, max_seconds=86400)
    return {
        "link": link,
        "reply": reply is not None,
        "form": form.verdict is formtoken.Verdict.OK,
    }


def _rotate(ssm: dict[str, Any], value: str) -> None:
    for name in (FORM_PARAM, LINK_PARAM):
        put(ssm, name, value)
    ssm["clock"].seconds += get_settings().secrets_cache_seconds + 1


def test_adding_a_new_key_first_keeps_links_in_flight_valid(ssm: dict[str, Any]) -> None:
    before = _signed_with_current_keys()
    _rotate(ssm, f"{NEW},{OLD}")
    assert get_settings().link_keys()[0] == "k2"
    after = _signed_with_current_keys()
    assert after["link"].split(".")[1] == "k2"  # the new key signs
    assert _still_valid(before) == {"link": True, "reply": True, "form": True}
    assert _still_valid(after) == {"link": True, "reply": True, "form": True}


def test_dropping_the_old_key_later_refuses_only_what_it_signed(ssm: dict[str, Any]) -> None:
    before = _signed_with_current_keys()
    _rotate(ssm, f"{NEW},{OLD}")
    after = _signed_with_current_keys()
    _rotate(ssm, NEW)
    assert _still_valid(before) == {"link": False, "reply": False, "form": False}
    assert _still_valid(after) == {"link": True, "reply": True, "form": True}
