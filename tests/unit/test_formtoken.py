"""The form's signed render token: forgery, rotation and the time trap (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.intake.formdata import decode_form
from chalicelib.intake.formtoken import Verdict, honeypot_filled, sign, verify

KEYS = {"k2": b"current-key-0123456789", "k1": b"previous-key-0123456789"}


def check(token: str | None, now: int = 1_000_100, keys: dict[str, bytes] = KEYS) -> Verdict:
    return verify(token, keys, now=now, min_seconds=3, max_seconds=86_400).verdict


def test_a_token_verifies_within_its_window() -> None:
    assert check(sign(KEYS, "k2", 1_000_000)) is Verdict.OK


def test_too_fast_and_too_old() -> None:
    token = sign(KEYS, "k2", 1_000_000)
    assert check(token, now=1_000_001) is Verdict.TOO_FAST
    assert check(token, now=1_000_000 + 86_401) is Verdict.EXPIRED


def test_tampering_with_any_part_is_detected() -> None:
    token = sign(KEYS, "k2", 1_000_000, nonce="abc")
    parts = token.split(".")
    for index, replacement in ((1, "k1"), (2, "999999"), (3, "abd"), (4, "A" * len(parts[4]))):
        forged = parts.copy()
        forged[index] = replacement
        assert check(".".join(forged)) is Verdict.INVALID


def test_rotation_keeps_tokens_signed_with_the_previous_key() -> None:
    old = sign(KEYS, "k1", 1_000_000)
    assert check(old) is Verdict.OK
    assert check(old, keys={"k3": b"newest-key-0123456789"}) is Verdict.INVALID


def test_missing_token() -> None:
    assert check(None) is Verdict.MISSING
    assert check("") is Verdict.MISSING


@given(st.text(max_size=200))
def test_arbitrary_text_never_verifies_and_never_crashes(text: str) -> None:
    assert check(text) in (Verdict.INVALID, Verdict.MISSING)


@pytest.mark.parametrize(
    "value",
    ["http://spam.example", " x ", ["http://spam.example"], [], {"a": 1}, 0, 1, False, True],
)
def test_honeypot_counts_any_value_in_any_shape_as_filled(value: object) -> None:
    assert honeypot_filled(value)


@pytest.mark.parametrize("value", [None, "", "  ", "\t\n"])
def test_honeypot_is_empty_only_when_missing_or_blank(value: object) -> None:
    assert not honeypot_filled(value)


def test_decode_form_refuses_a_repeated_single_value_field() -> None:
    # `website=http://spam&website=` must not hide the filled value behind an empty repeat.
    with pytest.raises(ValueError):
        decode_form(b"website=http%3A%2F%2Fspam&website=&name=A")
    with pytest.raises(ValueError):
        decode_form(b"name=A&name=B")
    fields, _ = decode_form(b"support_types=training&support_types=information")
    assert fields["support_types"] == ["training", "information"]


def test_decode_form_shapes_fields_like_the_json_contract() -> None:
    fields, control = decode_form(
        b"name=%E7%9B%B8%E8%AB%87%E8%80%85A&support_types=training&support_types=information"
        b"&privacy_consent=true&form_token=t&website=&action=send&lang=en&phone="
    )
    assert fields == {
        "name": "相談者A",
        "support_types": ["training", "information"],
        "privacy_consent": True,
        "phone": "",
    }
    assert control == {"form_token": "t", "website": "", "action": "send", "lang": "en"}


def test_decode_form_defaults_unticked_boxes() -> None:
    fields, _ = decode_form(b"name=a")
    assert fields["support_types"] == []
    assert fields["privacy_consent"] is False
