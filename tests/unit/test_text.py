"""Normalising Japanese input: NFKC for short fields, NFC for long text, controls refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.core import text


def test_short_field_nfkc_turns_full_width_into_ascii() -> None:
    assert text.normalize_short("ｒｅｑｕｅｓｔｅｒ＠ｅｘａｍｐｌｅ．ｃｏｍ", max_length=50) == (
        "requester@example.com"
    )


def test_short_field_nfkc_turns_half_width_kana_into_full_width() -> None:
    assert text.normalize_short("ｿｳﾀﾞﾝｼｬ ｴｰ", max_length=50) == "ソウダンシャ エー"


def test_short_field_folds_ideographic_space_and_trims() -> None:
    assert text.normalize_short("　相談者　　A　", max_length=50) == "相談者 A"


@pytest.mark.parametrize(
    "raw",
    [
        "０５９－０００－００００",
        "059-000-0000",
        "059ー000ー0000",  # katakana prolonged sound mark typed as a dash
        "059‐000‐0000",  # U+2010 hyphen
        "059−000−0000",  # U+2212 minus
        "059–000–0000",  # en dash
        "(059) 000 0000",
        "+81 59-000-0000",
    ],
)
def test_phone_dashes_of_every_kind_are_stripped(raw: str) -> None:
    assert text.normalize_phone(raw) == "0590000000"


@pytest.mark.parametrize("raw", ["12345", "059-000-000a", "0590000000000", "+", "電話"])
def test_phone_that_is_not_a_number_is_refused(raw: str) -> None:
    with pytest.raises(text.TextError) as info:
        text.normalize_phone(raw)
    assert info.value.code == "invalid_phone"


@pytest.mark.parametrize(
    "raw",
    [
        "相談者\x00A",
        "相談者\u202eA",  # right-to-left override
        "相談者\u2066A",  # left-to-right isolate
        "相談者\x1bA",
        "相談者\x85A",  # C1 next line
        "相談者\ud800A",  # lone surrogate (JSON can carry one)
        "相談者\nA",
        "相談者\tA",
    ],
)
def test_short_field_refuses_control_and_bidi_characters(raw: str) -> None:
    with pytest.raises(text.TextError) as info:
        text.normalize_short(raw, max_length=50)
    assert info.value.code == "forbidden_character"


@pytest.mark.parametrize(
    "raw",
    [
        "相談\u2028者",  # line separator (Zl)
        "相談\u2029者",  # paragraph separator (Zp)
        "相談\u200b者",  # zero-width space (Cf)
        "\ufeff相談者",  # byte order mark (Cf)
        "相談\u00ad者",  # soft hyphen (Cf)
        "相談\u200d者",  # zero-width joiner (Cf)
        "相談\u2060者",  # word joiner (Cf)
        "相談者\U000e0041",  # tag character (Cf)
    ],
)
def test_short_field_refuses_invisible_characters_by_their_own_code(raw: str) -> None:
    with pytest.raises(text.TextError) as info:
        text.normalize_short(raw, max_length=50)
    assert info.value.code == "invisible_character"


def test_a_phone_number_refuses_invisible_characters() -> None:
    with pytest.raises(text.TextError) as info:
        text.normalize_phone("059\u200b-000-0000")
    assert info.value.code == "invisible_character"


def test_short_field_keeps_what_a_name_may_hold() -> None:
    # Variation selectors pick a kanji's form (葛 with its IVS); private use is 外字.
    assert text.normalize_short("葛\U000e0100飾", max_length=10) == "葛\U000e0100飾"
    assert text.normalize_short("\ue000子", max_length=10) == "\ue000子"


def test_long_text_keeps_emoji_sequences_and_turns_separators_into_line_ends() -> None:
    family = "家族で参加します👨\u200d👩\u200d👧"
    wales = "\U0001f3f4\U000e0067\U000e0062\U000e0077\U000e006c\U000e0073\U000e007f"
    assert text.normalize_long(family + wales, max_length=100) == family + wales
    assert text.normalize_long("一行目\u2028二行目\u2029三行目", max_length=100) == (
        "一行目\n二行目\n三行目"
    )
    assert text.normalize_long("ゼロ幅\u200bスペース", max_length=100) == "ゼロ幅\u200bスペース"
    # Tag characters outside a flag can carry text nobody sees.
    with pytest.raises(text.TextError) as info:
        text.normalize_long("本文\U000e0069\U000e0067\U000e006e", max_length=100)
    assert info.value.code == "invisible_character"


def test_long_text_keeps_newlines_and_tabs_and_unifies_line_ends() -> None:
    assert text.normalize_long("一行目\r\n二行目\r三行目\n\tインデント", max_length=100) == (
        "一行目\n二行目\n三行目\n\tインデント"
    )


def test_long_text_is_nfc_only_so_full_width_letters_stay() -> None:
    # NFKC would turn "①" into "1" and "ｱ" into "ア"; free text keeps its look.
    assert text.normalize_long("①ｱＡ", max_length=10) == "①ｱＡ"


def test_long_text_nfc_composes_decomposed_kana() -> None:
    assert text.normalize_long("か\u3099", max_length=10) == "が"


@pytest.mark.parametrize("raw", ["本文\x00", "本文\u202e逆", "本文\x07"])
def test_long_text_refuses_other_controls(raw: str) -> None:
    with pytest.raises(text.TextError):
        text.normalize_long(raw, max_length=100)


def test_length_limit_applies_after_normalisation() -> None:
    assert text.normalize_short("ａ" * 10, max_length=10) == "a" * 10
    with pytest.raises(text.TextError) as info:
        text.normalize_short("a" * 11, max_length=10)
    assert info.value.code == "too_long"
    assert info.value.params == {"max": 10}


@pytest.mark.parametrize("raw", ["ソウダン", "そうだん", "ソウダン エー", "Smith"])
def test_kana_accepts_readings(raw: str) -> None:
    assert text.check_kana(raw) == raw


def test_kana_refuses_kanji() -> None:
    with pytest.raises(text.TextError):
        text.check_kana("相談")


@given(st.text(max_size=200))
def test_normalisers_either_return_clean_text_or_refuse(raw: str) -> None:
    for normalise in (
        lambda v: text.normalize_short(v, max_length=500),
        lambda v: text.normalize_long(v, max_length=500),
        text.normalize_phone,
    ):
        try:
            result = normalise(raw)
        except text.TextError:
            continue
        assert not any(ch in text.BIDI_CONTROLS for ch in result)
        assert "\r" not in result
        result.encode("utf-8")  # never a lone surrogate


@given(st.text(max_size=100))
def test_short_normalisation_is_idempotent(raw: str) -> None:
    try:
        once = text.normalize_short(raw, max_length=500)
    except text.TextError:
        return
    assert text.normalize_short(once, max_length=500) == once


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("0590000000", "059-000-0000"),
        ("0312345678", "03-1234-5678"),
        ("0595123456", "0595-12-3456"),
        ("09012345678", "090-1234-5678"),
        ("0120123456", "0120-123-456"),
        ("+14155550100", "+1 415-555-0100"),
        ("0", "0"),  # nothing the metadata can place: as stored
        ("", ""),
    ],
)
def test_phone_numbers_are_shown_the_way_people_read_them(stored: str, shown: str) -> None:
    assert text.display_phone(stored) == shown
