"""The form's signed render token: forgery, rotation and the time trap (pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.formtoken import FormCheck, Verdict, is_bot, sign, verify
from chalicelib.web.formdata import decode_form

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


def test_bot_signs() -> None:
    ok = FormCheck(Verdict.OK, 10)
    assert is_bot("http://spam.example", ok)
    assert is_bot(None, FormCheck(Verdict.TOO_FAST, 0))
    assert not is_bot("", ok)
    assert not is_bot("  ", ok)
    # A person who left the page open for a day is not a bot.
    assert not is_bot(None, FormCheck(Verdict.EXPIRED, 90_000))


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
