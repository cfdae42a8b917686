"""The one catalogue of labels and messages: every rule has a message in ja, en and やさしい日本語,
none blames, each names its field, and plain Japanese gives a reading for every kanji."""

from __future__ import annotations

import re

import pytest

from chalicelib.core import messages
from chalicelib.core.text import ruby_base, ruby_html, ruby_plain
from chalicelib.intake.i18n import UI
from chalicelib.runtime import load_deployment
from tests.conftest import ROOT

# CJK ideographs (kanji); kana, latin and punctuation need no reading.
KANJI = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# Messages about one field whose words they use themselves instead of {label}.
OWN_WORDS = {
    "consent_required": "個人情報の取扱い",
    "notice_outdated": "個人情報の取扱い",
    "unknown_field": "項目",
}


def without_readings(text: str) -> str:
    """The text with every marked reading taken out, base and reading alike."""
    return re.sub(r"\[[^\[\]|]+\|[^\[\]|]+\]", "", text)


@pytest.mark.parametrize("code", sorted(messages.MESSAGES))
def test_every_message_exists_in_each_language(code: str) -> None:
    text = messages.MESSAGES[code]
    for lang in messages.LANGUAGES:
        assert text.get(lang).strip(), (code, lang)


@pytest.mark.parametrize("code", sorted(messages.MESSAGES))
def test_no_message_blames_and_each_names_its_field(code: str) -> None:
    text = messages.MESSAGES[code]
    for lang in messages.LANGUAGES:
        written = text.get(lang)
        assert not [word for word in messages.BLAMING if word.lower() in written.lower()]
        if code in OWN_WORDS:
            assert OWN_WORDS[code] in text.ja
        else:
            assert "{label}" in written, (code, lang)


def test_the_blaming_check_can_fail() -> None:
    assert any(word in "入力内容が不正です" for word in messages.BLAMING)
    assert any(word in "メールアドレスが無効です" for word in messages.BLAMING)


@pytest.mark.parametrize(
    "field", sorted(f for f in messages.FIELD_LABELS if f != "privacy_notice_version")
)
def test_a_field_message_uses_the_label_it_shows(field: str) -> None:
    error = messages.field_error(field, "missing")
    assert messages.FIELD_LABELS[field].ja in error.message
    assert messages.FIELD_LABELS[field].en in error.message_en
    easy = messages.message_in(error, "easy")
    assert messages.FIELD_LABELS[field].easy in easy


def test_the_limit_is_said_in_every_language() -> None:
    error = messages.field_error("message", "too_long", max=4000)
    assert "4000" in error.message and "4000" in error.message_en
    assert "4000" in messages.message_in(error, "easy")


def easy_texts() -> dict[str, str]:
    found = {f"ui.{key}": value for key, value in UI["easy"].items()}
    found |= {f"label.{key}": label.easy for key, label in messages.FIELD_LABELS.items()}
    found |= {f"message.{key}": text.easy for key, text in messages.MESSAGES.items()}
    found["summary"] = messages.SUMMARY.easy
    deployment = load_deployment(ROOT / "chalicelib" / "data" / "deployment.json")
    for kind in (
        "municipalities",
        "categories",
        "requester_types",
        "support_types",
        "preferred_formats",
    ):
        for key, label in getattr(deployment, kind).items():
            found[f"{kind}.{key}"] = label.easy
    return found


def test_plain_japanese_gives_a_reading_for_every_kanji() -> None:
    missing = {
        name: KANJI.findall(without_readings(text))
        for name, text in easy_texts().items()
        if KANJI.search(without_readings(text))
    }
    assert missing == {}
    assert all(text for text in easy_texts().values())


def test_the_reading_check_can_fail() -> None:
    assert KANJI.search(without_readings("[相談|そうだん]の 内容"))
    assert not KANJI.search(without_readings("[相談|そうだん]の [内容|ないよう]"))


def test_readings_become_ruby_on_pages_and_brackets_in_text() -> None:
    marked = "[相談|そうだん]の <b>[内容|ないよう]</b>"
    assert ruby_html(marked) == (
        "<ruby>相談<rp>（</rp><rt>そうだん</rt><rp>）</rp></ruby>の &lt;b&gt;"
        "<ruby>内容<rp>（</rp><rt>ないよう</rt><rp>）</rp></ruby>&lt;/b&gt;"
    )
    assert ruby_plain(marked) == "相談（そうだん）の <b>内容（ないよう）</b>"
    assert ruby_base(marked) == "相談の <b>内容</b>"


def test_every_page_word_exists_in_each_language() -> None:
    assert set(UI["ja"]) == set(UI["en"]) == set(UI["easy"])
    for lang in messages.LANGUAGES:
        assert all(value.strip() for value in UI[lang].values()), lang
