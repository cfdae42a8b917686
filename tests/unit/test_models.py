"""The public intake contract: what is accepted, how it is normalised, how each error is named."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.core.consultation import ConsultationCreate, parse_consultation
from chalicelib.core.errors import InvalidSubmission
from chalicelib.core.settings import DEFAULT_DEPLOYMENT_FILE
from chalicelib.runtime import load_deployment
from tests.conftest import REQUIRED_FIELDS, valid_payload

DEPLOYMENT = load_deployment(DEFAULT_DEPLOYMENT_FILE)


def errors_of(payload: Any) -> dict[str, str]:
    with pytest.raises(InvalidSubmission) as info:
        parse_consultation(payload, DEPLOYMENT)
    return {err.field: err.code for err in info.value.errors}


def test_valid_submission_is_accepted_and_normalised() -> None:
    parsed = parse_consultation(
        valid_payload(
            name="ｿｳﾀﾞﾝｼｬ　エー",
            email="ＲＥＱＵＥＳＴＥＲ－Ａ＠ＥＸＡＭＰＬＥ．ＣＯＭ",
            phone="０５９ー０００ー００００",
            organization="　株式会社サンプル商事　",
        ),
        DEPLOYMENT,
    )
    assert parsed.name == "ソウダンシャ エー"
    assert parsed.email == "REQUESTER-A@example.com"  # the domain is case-insensitive
    assert parsed.phone == "0590000000"
    assert parsed.organization == "株式会社サンプル商事"


def test_default_deployment_lists_29_municipalities_and_outside() -> None:
    assert len(DEPLOYMENT.municipalities) == 30
    assert DEPLOYMENT.municipalities["outside"].ja == "県外"
    assert len([c for c in DEPLOYMENT.categories if c != "unknown"]) == 5


def test_every_field_error_is_listed_at_once() -> None:
    found = errors_of(
        {
            "requester_type": "alien",
            "name": "",
            "email": "not-an-address",
            "phone": "12",
            "municipality": "atlantis",
            "support_types": [],
            "category": "astrology",
            "message": " ",
            "preferred_format": "carrier-pigeon",
            "privacy_consent": False,
        }
    )
    assert found == {
        "requester_type": "invalid_choice",
        "name": "missing",
        "email": "invalid_email",
        "phone": "invalid_phone",
        "municipality": "invalid_choice",
        "support_types": "missing_choice",
        "category": "invalid_choice",
        "message": "missing",
        "preferred_format": "invalid_choice",
        "privacy_consent": "consent_required",
    }


@pytest.mark.parametrize("value", ["yes", "true", "on", 1, 1.0, [True], {"agree": True}, None])
def test_privacy_consent_is_only_the_json_boolean_true(value: object) -> None:
    assert errors_of(valid_payload(privacy_consent=value)) == {"privacy_consent": "invalid_type"}
    assert errors_of(valid_payload(privacy_consent=False)) == {
        "privacy_consent": "consent_required"
    }
    assert parse_consultation(valid_payload(privacy_consent=True), DEPLOYMENT).privacy_consent


def test_missing_required_fields_are_each_named() -> None:
    found = errors_of({})
    assert set(found) == set(REQUIRED_FIELDS)
    assert found["name"] == "missing"
    assert found["requester_type"] == "missing_choice"


def test_organization_required_unless_resident() -> None:
    assert errors_of(valid_payload(organization=None)) == {"organization": "organization_required"}
    assert errors_of(valid_payload(organization="")) == {"organization": "organization_required"}
    resident = parse_consultation(
        valid_payload(requester_type="resident", organization=None), DEPLOYMENT
    )
    assert resident.organization is None


def test_unknown_field_is_refused_by_name() -> None:
    assert errors_of(valid_payload(favourite_colour="blue")) == {
        "favourite_colour": "unknown_field"
    }


def test_error_messages_are_japanese_first_with_english_and_never_echo_the_value() -> None:
    secret = "secret-value-<script>"
    with pytest.raises(InvalidSubmission) as info:
        parse_consultation(valid_payload(email=secret, extra_field=secret), DEPLOYMENT)
    for err in info.value.errors:
        assert secret not in err.message and secret not in err.message_en
        assert any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in err.message)
        assert err.message_en.isascii()


def test_too_long_message_names_the_limit() -> None:
    with pytest.raises(InvalidSubmission) as info:
        parse_consultation(valid_payload(message="あ" * 4001), DEPLOYMENT)
    (err,) = info.value.errors
    assert err.code == "too_long"
    assert "4000" in err.message


@pytest.mark.parametrize("value", ["a\r\nBcc: victim@example.com@example.com", "a\nb@example.com"])
def test_line_breaks_in_header_bound_values_are_refused(value: str) -> None:
    assert errors_of(valid_payload(email=value)) == {"email": "forbidden_character"}


def test_duplicate_support_types_collapse() -> None:
    parsed = parse_consultation(
        valid_payload(support_types=["training", "training", "information"]), DEPLOYMENT
    )
    assert parsed.support_types == ["training", "information"]


def test_outdated_privacy_notice_version_is_refused() -> None:
    assert errors_of(valid_payload(privacy_notice_version="2019-01")) == {
        "privacy_notice_version": "notice_outdated"
    }
    current = DEPLOYMENT.privacy_notice_version
    assert parse_consultation(valid_payload(privacy_notice_version=current), DEPLOYMENT)


@pytest.mark.parametrize("body", [[], "text", 42, None, [valid_payload()]])
def test_a_body_that_is_not_an_object_is_an_error_not_a_crash(body: Any) -> None:
    with pytest.raises(InvalidSubmission):
        parse_consultation(body, DEPLOYMENT)


def test_model_forbids_extra_fields_in_its_schema() -> None:
    assert ConsultationCreate.model_config["extra"] == "forbid"
