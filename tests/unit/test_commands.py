"""Commands at the top of a staff reply: keywords in Japanese and English, errors, the note."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.core.lifecycle import Action
from chalicelib.core.settings import DEFAULT_DEPLOYMENT_FILE
from chalicelib.mailin.commands import (
    MAX_COMMAND_LINES,
    Command,
    ParsedReply,
    parse_reply,
)
from chalicelib.mailin.parse import parse_inbound
from chalicelib.runtime import load_deployment

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "mail"

CATEGORIES = {
    "mindset": ("意識改革・推進体制", "Mindset, leadership and organising for DX"),
    "talent": ("デジタル人材育成", "Digital skills and people"),
    "workstyle": ("働き方・コミュニケーション", "Work style and online collaboration"),
    "data": ("データ利活用", "Data and open data"),
    "technology": ("デジタル技術・システム導入", "Adopting tools and systems"),
    "unknown": ("わからない・相談して決めたい", "Not sure / decide together"),
}


def parse(text: str) -> ParsedReply:
    return parse_reply(text, categories=CATEGORIES)


def action(name: Action, line: int, value: str | None = None) -> Command:
    return Command("action", name.value, value, line)


# --- the replies of each mail client, end to end ---------------------------------------

FIXTURE_COMMANDS: dict[str, tuple[list[Command], str]] = {
    "outlook_ja.eml": (
        [action(Action.START_HEARING, 1), Command("category", None, "data", 2)],
        "先方と電話で話しました。①来週訪問、②資料送付の予定です。",
    ),
    "outlook_en.eml": (
        [
            action(Action.TAKE, 1),
            Command("category", None, "data", 2),
            Command("support_types", None, ["training", "information"], 3),
        ],
        "Called the requester: they would like a seminar for their staff in January.\n\n"
        "Desk staff B\nDX Desk",
    ),
    "gmail_ja.eml": (
        [
            action(Action.TAKE, 1),
            action(Action.START_HEARING, 2),
            Command("category", None, "data", 3),
            Command("support_types", None, ["training", "information"], 4),
        ],
        "来週、先方を訪問してヒアリングします。",
    ),
    "gmail_en.eml": (
        [action(Action.CLOSE, 1, "Seminar held on 10 December; the requester is satisfied.")],
        "Thanks for arranging the trainer.",
    ),
    "thunderbird_ja.eml": (
        [action(Action.TAKE, 1), Command("support_types", None, ["training"], 2)],
        "先方は職員向けの研修を希望しています。日程は追って連絡します。",
    ),
    "thunderbird_en.eml": (
        [action(Action.WITHDRAW, 1)],
        "The requester called to cancel; they found another provider in their own town.",
    ),
    "iphone_ja.eml": (
        [
            action(Action.REFER, 1, "よろず支援拠点（県内）"),
            Command("note", None, "補助金の相談が中心のため", 2),
        ],
        "補助金の相談が中心のため",
    ),
    "html_only.eml": (
        [action(Action.START_MATCHING, 1), Command("category", None, "workstyle", 2)],
        "候補のアドバイザー2名（A社 & B大学）に打診します。\n結果は追って連絡します。",
    ),
}


@pytest.mark.parametrize("name", sorted(FIXTURE_COMMANDS))
def test_each_client_s_reply_yields_its_commands_and_note(name: str) -> None:
    text = parse_inbound((FIXTURES / name).read_bytes()).text
    parsed = parse(text)
    commands, note = FIXTURE_COMMANDS[name]
    assert parsed.errors == []
    assert parsed.commands == commands
    assert parsed.note == note


# --- keywords ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("担当", Action.TAKE),
        ("take", Action.TAKE),
        ("Take", Action.TAKE),
        ("担当します", Action.TAKE),
        ("ヒアリング開始", Action.START_HEARING),
        ("ヒアリングを開始します", Action.START_HEARING),
        ("hearing", Action.START_HEARING),
        ("start hearing", Action.START_HEARING),
        ("調整開始", Action.START_MATCHING),
        ("マッチング開始", Action.START_MATCHING),
        ("matching", Action.START_MATCHING),
        ("完了", Action.CLOSE),
        ("完了しました。", Action.CLOSE),
        ("close", Action.CLOSE),
        ("取下げ", Action.WITHDRAW),
        ("取り下げにします", Action.WITHDRAW),
        ("withdraw", Action.WITHDRAW),
        ("スパム", Action.MARK_SPAM),
        ("spam", Action.MARK_SPAM),
        ("#担当", Action.TAKE),
        ("# take", Action.TAKE),
        # full-width and half-width forms
        ("＃担当", Action.TAKE),
        ("＃　担当", Action.TAKE),
        ("ｔａｋｅ", Action.TAKE),
        ("ＨＥＡＲＩＮＧ", Action.START_HEARING),
        ("ﾋｱﾘﾝｸﾞ開始", Action.START_HEARING),
        ("　担当　", Action.TAKE),
    ],
)
def test_action_keywords(line: str, expected: Action) -> None:
    parsed = parse(line)
    assert parsed.errors == []
    assert parsed.commands == [action(expected, 1)]
    assert parsed.note == ""


@pytest.mark.parametrize(
    ("line", "expected", "value"),
    [
        ("完了: 研修を実施し解決", Action.CLOSE, "研修を実施し解決"),
        ("完了：研修を実施し解決", Action.CLOSE, "研修を実施し解決"),
        ("完了　研修を実施し解決", Action.CLOSE, "研修を実施し解決"),
        ("close: seminar held", Action.CLOSE, "seminar held"),
        ("CLOSE seminar held", Action.CLOSE, "seminar held"),
        ("他機関紹介: よろず支援拠点", Action.REFER, "よろず支援拠点"),
        ("他機関紹介：商工会議所（津）", Action.REFER, "商工会議所（津）"),
        ("refer: chamber of commerce", Action.REFER, "chamber of commerce"),
        # free text keeps its look: no NFKC on the value
        ("＃完了：①研修実施　②ｱﾝｹｰﾄ回収", Action.CLOSE, "①研修実施\u3000②ｱﾝｹｰﾄ回収"),
    ],
)
def test_actions_with_a_value(line: str, expected: Action, value: str) -> None:
    parsed = parse(line)
    assert parsed.errors == []
    assert parsed.commands == [action(expected, 1, value)]


@pytest.mark.parametrize(
    ("line", "expected", "value"),
    [
        ("状態: ヒアリング", Action.START_HEARING, None),
        ("状態：ヒアリング中", Action.START_HEARING, None),
        ("ステータス: 調整中", Action.START_MATCHING, None),
        ("状態 完了", Action.CLOSE, None),
        ("状態: 完了: 解決済み", Action.CLOSE, "解決済み"),
        ("状態: 他機関紹介: よろず支援拠点", Action.REFER, "よろず支援拠点"),
        ("状態: 取下げ", Action.WITHDRAW, None),
        ("状態: スパム", Action.MARK_SPAM, None),
        ("status: hearing", Action.START_HEARING, None),
        ("Status: Matching", Action.START_MATCHING, None),
        ("STATUS: closed", Action.CLOSE, None),
        ("status: referred: chamber of commerce", Action.REFER, "chamber of commerce"),
        ("status: withdrawn", Action.WITHDRAW, None),
        ("status: spam", Action.MARK_SPAM, None),
    ],
)
def test_status_by_name_maps_to_the_action_that_leads_there(
    line: str, expected: Action, value: str | None
) -> None:
    parsed = parse(line)
    assert parsed.errors == []
    assert parsed.commands == [action(expected, 1, value)]


@pytest.mark.parametrize(
    ("line", "category"),
    [
        ("分野: データ利活用", "data"),
        ("分野：データ利活用", "data"),
        ("分野 データ利活用", "data"),
        ("分野：デ－タ利活用", "data"),  # a full-width hyphen typed for the long vowel mark
        ("分野：ﾃﾞｰﾀ利活用", "data"),
        ("分野: data", "data"),
        ("category: data", "data"),
        ("Category: Data and open data", "data"),
        ("カテゴリー: 働き方", "workstyle"),  # one part of "働き方・コミュニケーション"
        ("分野: コミュニケーション", "workstyle"),
        ("分野: 意識改革・推進体制", "mindset"),
        ("分野: データ", "data"),  # an unambiguous beginning
        ("category: adopting tools", "technology"),
        ("＃分野：わからない", "unknown"),
    ],
)
def test_category_by_id_or_label(line: str, category: str) -> None:
    parsed = parse(line)
    assert parsed.errors == []
    assert parsed.commands == [Command("category", None, category, 1)]


def test_every_category_of_the_default_deployment_resolves_by_id_and_labels() -> None:
    deployment = load_deployment(DEFAULT_DEPLOYMENT_FILE)
    categories = {key: (label.ja, label.en) for key, label in deployment.categories.items()}
    for key, (ja, en) in categories.items():
        for name in (key, ja, en):
            parsed = parse_reply(f"分野: {name}", categories=categories)
            assert parsed.commands == [Command("category", None, key, 1)], name


@pytest.mark.parametrize(
    ("line", "types"),
    [
        ("支援: 人材育成, 情報提供", ["training", "information"]),
        ("支援：人材育成、情報提供", ["training", "information"]),
        ("支援：研修", ["training"]),
        ("支援：セミナー・相談", ["training", "consultation"]),
        ("支援：課題解決", ["consultation"]),
        ("支援：人材育成（セミナー・研修）", ["training"]),
        ("支援：人材育成（セミナー・研修）、課題解決のための相談", ["training", "consultation"]),
        ("support: training, information", ["training", "information"]),
        ("support: consultation / training", ["consultation", "training"]),
        ("Support types: information", ["information"]),
        ("支援：研修、セミナー、人材育成", ["training"]),  # each type once
    ],
)
def test_support_types(line: str, types: list[str]) -> None:
    parsed = parse(line)
    assert parsed.errors == []
    assert parsed.commands == [Command("support_types", None, types, 1)]


# --- errors -----------------------------------------------------------------------


def only_error(text: str) -> tuple[int, str, str]:
    parsed = parse(text)
    assert len(parsed.errors) == 1, parsed.errors
    error = parsed.errors[0]
    assert error.message and error.message_en
    return error.line, error.text, error.message


def test_an_unknown_category_is_an_error_with_its_line_number() -> None:
    line, text, message = only_error("\n担当\n\n分野：宇宙開発\n\nメモです")
    assert (line, text) == (4, "分野：宇宙開発")
    assert "宇宙開発" in message and "データ利活用" in message  # names the ones that exist
    parsed = parse("\n担当\n\n分野：宇宙開発\n\nメモです")
    assert parsed.commands == [action(Action.TAKE, 2)]
    assert parsed.note == "メモです"  # the bad line is not taken as the note


def test_an_ambiguous_category_is_an_error() -> None:
    _, _, message = only_error("分野: デジタル")
    assert "デジタル人材育成" in message and "デジタル技術・システム導入" in message


def test_an_empty_category_is_an_error() -> None:
    only_error("分野:")


def test_two_status_actions_are_an_error_on_the_second() -> None:
    parsed = parse("ヒアリング開始\n完了\n\n本文")
    assert parsed.commands == [action(Action.START_HEARING, 1)]
    assert [(e.line, e.text) for e in parsed.errors] == [(2, "完了")]
    assert "1つ" in parsed.errors[0].message


def test_a_status_by_name_counts_as_a_status_action() -> None:
    parsed = parse("withdraw\nstatus: closed")
    assert [e.line for e in parsed.errors] == [2]


def test_take_may_come_with_a_status_action_but_only_once() -> None:
    assert parse("担当\nヒアリング開始").errors == []
    assert [e.line for e in parse("担当\nヒアリング開始\ntake").errors] == [3]


def test_category_and_support_are_given_once() -> None:
    assert [e.line for e in parse("分野: データ\n分野: 働き方").errors] == [2]
    assert [e.line for e in parse("支援: 研修\n支援: 相談").errors] == [2]


@pytest.mark.parametrize(
    "line",
    [
        "担当: 事務局スタッフB",  # no value allowed
        "take someone else",
        "Hearing went well",  # starts with a keyword: an error, never a silent note
        "ヒアリング開始：明日",
        "他機関紹介",  # the referral body is required
        "他機関紹介：",
        "refer",
        "状態: 対応中",  # follows the expert's acceptance
        "状態: 受付",
        "status: in progress",
        "状態: 保留",
        "状態: 他機関紹介",
        "支援: 占い",
        "支援: 研修、占い",
        "支援:",
        "#unknown",
        "#:",
        "＃",
        "＃よくわからないコマンド：値",
    ],
)
def test_a_keyword_line_with_a_bad_value_is_an_error(line: str) -> None:
    number, text, _ = only_error(line + "\n\n本文")
    assert (number, text) == (1, line.strip())
    assert parse(line + "\n\n本文").note == "本文"


def test_the_offending_line_is_truncated_to_80_characters() -> None:
    parsed = parse("分野: " + "あ" * 200)
    assert len(parsed.errors[0].text) == 80


def test_too_many_command_lines_are_an_error() -> None:
    text = "\n".join(["メモ: x"] * (MAX_COMMAND_LINES + 5))
    parsed = parse(text)
    assert len(parsed.commands) == MAX_COMMAND_LINES
    assert [e.line for e in parsed.errors] == [MAX_COMMAND_LINES + 1]


# --- the note ---------------------------------------------------------------------


def test_the_block_ends_at_the_first_line_that_is_no_command() -> None:
    parsed = parse("担当\n先方に電話しました。\n完了\n分野: データ")
    assert parsed.commands == [action(Action.TAKE, 1)]
    assert parsed.note == "先方に電話しました。\n完了\n分野: データ"
    assert parsed.errors == []


def test_blank_lines_before_and_inside_the_block_are_skipped() -> None:
    parsed = parse("\n\n  \n担当\n\n\n分野: データ\n\n本文です。\n\n二段落目。\n")
    assert parsed.commands == [action(Action.TAKE, 4), Command("category", None, "data", 7)]
    assert parsed.note == "本文です。\n\n二段落目。"


def test_explicit_note_lines_come_first_in_the_note() -> None:
    parsed = parse("担当\nメモ: 来週電話予定\nnote: second line\n\n先方は研修希望。")
    assert parsed.note == "来週電話予定\nsecond line\n\n先方は研修希望。"
    assert [c.kind for c in parsed.commands] == ["action", "note", "note"]


def test_a_reply_without_commands_is_all_note() -> None:
    parsed = parse("ヒアリングの結果、研修を希望とのことです。\n担当")
    assert parsed.commands == [] and parsed.errors == []
    assert parsed.note == "ヒアリングの結果、研修を希望とのことです。\n担当"


@pytest.mark.parametrize(
    "line",
    [
        "担当者と話しました",  # a keyword at the start of a word is no keyword
        "完了予定は来月です",
        "takeaway: the requester is happy",
        "#1の件について",  # "#" before a number is text
        "closed-door meeting tomorrow",
    ],
)
def test_words_that_merely_start_with_a_keyword_are_note(line: str) -> None:
    parsed = parse(line)
    assert parsed.commands == [] and parsed.errors == []
    assert parsed.note == line


@pytest.mark.parametrize("heading", ["メモ", "メモ:", "＃メモ：", "note", "Note:"])
def test_a_bare_note_keyword_starts_the_note_on_the_next_line(heading: str) -> None:
    parsed = parse(f"担当\n{heading}\n先方は研修希望。\n分野: データ")
    assert parsed.commands == [action(Action.TAKE, 1)]
    assert parsed.errors == []
    assert parsed.note == "先方は研修希望。\n分野: データ"


def test_crlf_and_empty_input() -> None:
    assert parse("担当\r\n\r\n本文").commands == [action(Action.TAKE, 1)]
    assert parse("担当\r\n\r\n本文").note == "本文"
    assert parse("") == ParsedReply([], [], "")
    assert parse("\n \n\t\n") == ParsedReply([], [], "")


# --- never raises -------------------------------------------------------------------

FUZZ = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "300")), deadline=None)


def check(parsed: ParsedReply, text: str) -> None:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").count("\n") + 1
    for command in parsed.commands:
        assert 1 <= command.line <= lines
        assert command.kind in ("action", "category", "support_types", "note")
        if command.kind == "action":
            assert command.action in {a.value for a in Action}
        if command.kind == "category":
            assert command.value in CATEGORIES
    for error in parsed.errors:
        assert 1 <= error.line <= lines and len(error.text) <= 80
    assert parsed.note == parsed.note.strip()
    assert sum(1 for c in parsed.commands if c.kind == "action" and c.action != "take") <= 1


@FUZZ
@given(st.text(max_size=500))
def test_arbitrary_text_never_raises(text: str) -> None:
    check(parse(text), text)


WORDS = st.sampled_from(
    [
        "担当",
        "take",
        "ヒアリング開始",
        "完了",
        "他機関紹介",
        "状態",
        "status",
        "分野",
        "category",
        "支援",
        "support",
        "メモ",
        "note",
        "#",
        "＃",
        ":",
        "：",
        " ",
        "\u3000",
        "\n",
        "、",
        "データ",
        "研修",
        "ｶﾃｺﾞﾘｰ",
        "ﾞ",
        "\u0301",
        "ﬀ",
        "㍻",
        "\ud800",
        "ß",
        "İ",
    ]
)


@FUZZ
@given(st.lists(st.one_of(WORDS, st.text(max_size=5)), max_size=40))
def test_keyword_soup_never_raises(pieces: list[str]) -> None:
    text = "".join(pieces)
    check(parse(text), text)


@FUZZ
@given(st.dictionaries(st.text(max_size=8), st.tuples(st.text(max_size=8), st.text(max_size=8))))
def test_any_category_table_never_raises(categories: dict[str, tuple[str, str]]) -> None:
    parse_reply("分野: データ\n分野: x", categories=categories)
    parse_reply("category: ", categories=categories)


def test_support_types_an_admin_added_or_withdrew() -> None:
    offered = {
        "training": ("人材育成（セミナー・研修）", "Training (seminars, workshops)"),
        "consultation": ("課題解決のための相談", "Advice on a concrete problem"),
        "visit_support": ("現地での伴走支援", "On-site support"),
    }
    parsed = parse_reply(
        "支援: 現地での伴走支援、研修", categories=CATEGORIES, support_types=offered
    )
    assert parsed.errors == []
    assert [c.value for c in parsed.commands if c.kind == "support_types"] == [
        ["visit_support", "training"]
    ]
    # "information" is no longer offered: refused, and the message lists what is.
    refused = parse_reply("支援: 情報提供", categories=CATEGORIES, support_types=offered)
    assert refused.commands == []
    assert "現地での伴走支援" in refused.errors[0].message
