"""The gallery's checks catch what they are for, its mail samples cover every template, and it
never empties a folder that is not a gallery (no browser needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.core.settings import settings_from
from chalicelib.runtime import load_deployment
from chalicelib.templating import environment
from infra.gallery.build import MARKER, index_html, prepare
from infra.gallery.checks import (
    TITLE_MAX,
    all_problems,
    leaks,
    mail_problems,
    mail_region_problems,
    page_problems,
    page_region_problems,
    title_problems,
)
from infra.gallery.mails import MAIL_BASE_URL, GalleryError, mail_samples, mail_templates
from infra.local.dev import stage_environment

CLEAN_TEXT = (
    "受付番号 DX-261126-048217（なし） (none)\n"
    "Nonexistent, nano, Nancy and banana are words; 3 ≧ 2 → 1.\n"
    # Words are not looked for inside links: signed tokens are random base64url text.
    "https://desk.example.jp/api/actions/a1.local1.x-None-nan.y\n"
)


def test_clean_text_passes() -> None:
    assert leaks(CLEAN_TEXT, "page") == []


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("お名前：<b>架空 花子</b>", "'<'"),
        ("a -> b", "'>'"),
        ("架空 花子 様 {{ case.name }}", "'{{'"),
        ("{% if held %}確認のメール", "'{%'"),
        ("担当：None", "'None'"),
        ("残り undefined 回", "'undefined'"),
        ("平均 nan 日", "'nan'"),
        ("平均 NaN 日", "'NaN'"),
        ("None", "'None'"),
        ("（担当：None）", "'None'"),
    ],
)
def test_leaks_are_found(text: str, found: str) -> None:
    problems = leaks(text, "page")
    assert problems, text
    assert all(p.startswith("page: ") for p in problems)
    assert any(found in p for p in problems), problems


def test_a_none_printed_by_the_project_template_environment_is_caught() -> None:
    # The failure mode the check exists for: a missing value rendered by the real Jinja setup.
    shown = environment().from_string("担当：{{ owner }}").render(owner=None)
    assert shown == "担当：None"
    assert leaks(shown, "mail") != []


def test_a_short_plain_title_passes() -> None:
    assert title_problems("確認｜DX相談の申込み｜DX相談窓口", "page") == []
    assert title_problems("x" * TITLE_MAX, "page") == []


@pytest.mark.parametrize(
    ("title", "found"),
    [
        (None, "no <title>"),
        ("", "empty"),
        ("   ", "empty"),
        ("確認\n｜DX相談窓口", "spans lines"),
        ("x" * (TITLE_MAX + 1), "characters"),
        ("<b>確認</b>｜DX相談窓口", "'<'"),
        ("{{ t.page_title }}", "'{{'"),
        ("None｜DX相談窓口", "'None'"),
    ],
)
def test_bad_titles_are_found(title: str | None, found: str) -> None:
    problems = title_problems(title, "page")
    assert any(found in p for p in problems), problems


def test_required_regions_of_a_page() -> None:
    assert page_region_problems(["ご相談を受け付けました"], "受付番号 DX-…", "p") == []
    assert page_region_problems([], "本文", "p") == ["p: no <h1>"]
    assert page_region_problems(["見出し", " \n"], "本文", "p") == ["p: an empty <h1>"]
    assert page_region_problems(["見出し"], None, "p") == ["p: no <main>"]
    assert page_region_problems(["見出し"], "\n ", "p") == ["p: the <main> is empty"]


def test_required_regions_of_a_mail() -> None:
    assert mail_region_problems("【DX相談窓口】件名", "本文", "本文", "m") == []
    assert mail_region_problems(" ", "本文", "本文", "m") == ["m: the subject is empty"]
    assert mail_region_problems("件名", "\n", "本文", "m") == ["m: the text part is empty"]
    assert mail_region_problems("件名", "本文", "", "m") == ["m: the HTML part shows no text"]


def test_page_and_mail_problems_name_where_they_are() -> None:
    page = page_problems(
        where="form-done-ja",
        title="完了",
        headings=[""],
        main="受付番号 None",
        text="受付番号 None",
    )
    assert any("form-done-ja: 'None'" in p for p in page)
    assert "form-done-ja: an empty <h1>" in page
    mail = mail_problems(
        where="intake_ack", subject="受付 {{ n }}", text="本文", html_title=None, html_text="<p>"
    )
    assert any(p.startswith("intake_ack subject: '{{'") for p in mail)
    assert any(p.startswith("intake_ack HTML part: '<'") for p in mail)
    assert "intake_ack HTML part: no <title>" in mail


def test_all_problems_reads_a_manifest() -> None:
    good_page = {
        "name": "form-input-ja",
        "title": "入力｜DX相談の申込み",
        "headings": ["DX相談の申込み（入力）"],
        "main": "本文",
        "text": "本文",
    }
    good_mail = {
        "name": "intake_ack",
        "subject": "件名",
        "text": "本文",
        "html_title": "ご相談を受け付けました",
        "html_text": "本文",
    }
    assert all_problems({"pages": [good_page], "mails": [good_mail]}) == []
    bad = all_problems(
        {
            "pages": [{**good_page, "main": None}],
            "mails": [{**good_mail, "text": "残り undefined 回"}],
        }
    )
    assert bad == [
        "form-input-ja: no <main>",
        "intake_ack text part: 'undefined' in the text: …残り undefined 回…",
    ]


def test_every_mail_template_has_a_sample_that_renders() -> None:
    settings = settings_from({**stage_environment(), "PUBLIC_BASE_URL": MAIL_BASE_URL})
    samples = mail_samples(settings, load_deployment(settings.deployment_file))
    templates = mail_templates()
    assert "intake_ack" in templates and "daily_digest" in templates
    assert {sample.template for sample in samples} == set(templates)
    assert len({sample.name for sample in samples}) == len(samples)  # one file name each


def test_a_mail_template_without_a_sample_stops_the_gallery(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import infra.gallery.mails as mails

    monkeypatch.setattr(mails, "mail_templates", lambda: [*mail_templates(), "new_notice"])
    settings = settings_from({**stage_environment(), "PUBLIC_BASE_URL": MAIL_BASE_URL})
    with pytest.raises(GalleryError, match="new_notice"):
        mails.mail_samples(settings, load_deployment(settings.deployment_file))


def test_prepare_empties_a_gallery_but_never_another_folder(tmp_path: Path) -> None:
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("大事なメモ")
    with pytest.raises(GalleryError):
        prepare(other)
    assert (other / "keep.txt").read_text() == "大事なメモ"

    gallery = tmp_path / "gallery"
    prepare(gallery)
    (gallery / "pages" / "old.png").write_bytes(b"old")
    prepare(gallery)
    assert (gallery / MARKER).exists()
    assert list((gallery / "pages").iterdir()) == []


def test_the_index_escapes_what_it_shows() -> None:
    page = {
        "name": "form-x-ja",
        "lang": "ja",
        "note": "<b>注記</b>",
        "status": 200,
        "path": "/form/input",
        "title": "<script>alert(1)</script>",
        "screenshots": {"375": "pages/a&b.png"},
        "overflow": {},
    }
    shown = index_html(
        {"generated_at": "t", "languages": ["ja"], "widths": ["375"], "pages": [page], "mails": []},
        ["form-x-ja: '<' in the text"],
    )
    assert "<script>" not in shown and "<b>注記" not in shown
    assert "&lt;script&gt;" in shown and "pages/a&amp;b.png" in shown
    assert "1 件の問題" in shown and "&#x27;&lt;&#x27; in the text" in shown
