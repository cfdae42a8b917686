"""The roster CSV format (pure): round trip, lenient reading of what people type, strict refusals."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from chalicelib.admin.schemas import ExpertIn
from chalicelib.core import roster_import, rostercsv
from chalicelib.core.access import Actor
from chalicelib.core.errors import StoreBusy
from chalicelib.core.roster import Expert
from chalicelib.core.rostercsv import BOM, COLUMNS, KnownIds, escape_cell, export_roster
from chalicelib.core.settings import settings_from
from infra.local.demo_roster import ROSTER
from tests.conftest import NOW, local_stage_env

KNOWN = KnownIds.of(
    ["mindset", "talent", "workstyle", "data", "technology"],
    ["training", "information", "consultation"],
    ["24201", "24202", "24204"],
)
HEADER = ",".join(column.header for column in COLUMNS)


def parse(text: str, **kwargs: int) -> rostercsv.Parsed:
    return rostercsv.parse_roster(text, known=KNOWN, model=ExpertIn, **kwargs)


def line(**cells: str) -> str:
    values = {
        "expert_id": "advisor-u1",
        "kind": "advisor",
        "display_name": "アドバイザーU",
        "organization": "",
        "categories": "data",
        "support_types": "training",
        "areas": "",
        "online_ok": "1",
        "contact_emails": "advisor-u1@example.com",
        "capacity": "2",
        "active": "1",
        "conflict_notes": "",
        "conflicts": "",
        **cells,
    }
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([values[c.field] for c in COLUMNS])
    return out.getvalue()


def only_expert(text: str) -> Expert:
    parsed = parse(text)
    assert parsed.errors == []
    assert len(parsed.rows) == 1
    return parsed.rows[0].expert


def codes(text: str) -> set[tuple[int, str, str]]:
    return {(e.row, e.field, e.code) for e in parse(text).errors}


def test_columns_cover_every_expert_field_once() -> None:
    # The file's column order is its own (COLUMNS); the model's field order is not a contract.
    fields = [c.field for c in COLUMNS]
    assert len(fields) == len(set(fields))
    assert set(fields) == set(Expert.model_fields)


def test_export_has_bom_crlf_and_reads_back_identically() -> None:
    experts = [Expert.model_validate(entry) for entry in ROSTER]
    text = export_roster(experts)
    assert text.startswith(BOM + "専門家ID [expert_id],区分 [kind],表示名 [display_name]")
    assert text.count("\r\n") == len(ROSTER) + 1
    parsed = parse(text)
    assert parsed.errors == []
    assert [row.expert.model_dump() for row in parsed.rows] == [e.model_dump() for e in experts]
    assert [row.row for row in parsed.rows] == list(range(2, len(ROSTER) + 2))


def test_what_people_type_in_excel_is_understood() -> None:
    expert = only_expert(
        HEADER
        + "\r\n"
        + line(
            expert_id="ａｄｖｉｓｏｒ－ｕ１",
            kind="アドバイザー",
            online_ok="いいえ",
            active="ＹＥＳ",
            capacity="１２",
            categories="data｜ technology ",
            areas="２４２０１|24204",
            contact_emails="advisor-u1＠example.com | second@example.com",
        )
    )
    assert expert.expert_id == "advisor-u1"
    assert expert.kind == "advisor"
    assert (expert.online_ok, expert.active, expert.capacity) == (False, True, 12)
    assert expert.categories == ["data", "technology"]
    assert expert.areas == ["24201", "24204"]
    assert expert.contact_emails == ["advisor-u1@example.com", "second@example.com"]


@pytest.mark.parametrize(
    ("word", "value"),
    [
        ("1", True),
        ("0", False),
        ("はい", True),
        ("いいえ", False),
        ("１", True),
        ("０", False),
        ("TRUE", True),
        ("no", False),
    ],
)
def test_yes_no_words(word: str, value: bool) -> None:
    assert only_expert(HEADER + "\r\n" + line(online_ok=word)).online_ok is value


def test_empty_active_means_active_but_empty_online_is_an_error() -> None:
    assert only_expert(HEADER + "\r\n" + line(active="")).active is True
    assert codes(HEADER + "\r\n" + line(online_ok="")) == {(2, "online_ok", "not_yes_no")}


def test_names_and_notes_keep_their_characters() -> None:
    expert = only_expert(
        HEADER
        + "\r\n"
        + line(
            display_name="ＡＩ推進室　アドバイザー",
            conflict_notes="一行目\r\n二行目",
            conflicts="ｻﾝﾌﾟﾙ商事|24201",
        )
    )
    assert expert.display_name == "ＡＩ推進室　アドバイザー"
    assert expert.conflict_notes == "一行目\r\n二行目"
    assert expert.conflicts == ["ｻﾝﾌﾟﾙ商事", "24201"]


def test_header_by_bare_ids_or_labels_in_any_order() -> None:
    reordered = list(reversed(COLUMNS))
    header = ",".join(c.field if i % 2 else c.label for i, c in enumerate(reordered))
    values = line().rstrip("\r\n").split(",")
    by_field = dict(zip([c.field for c in COLUMNS], values, strict=True))
    row = ",".join(by_field[c.field] for c in reordered)
    assert only_expert(header + "\r\n" + row).expert_id == "advisor-u1"


def test_header_problems_are_file_errors_on_row_1() -> None:
    missing = ",".join(c.header for c in COLUMNS if c.field != "conflicts")
    assert codes(missing + "\r\n") == {(1, "conflicts", "missing_column")}
    assert codes("メモ," + HEADER + "\r\n") == {(1, "", "unknown_column")}
    twice = HEADER + ",専門家ID [expert_id]"
    assert codes(twice + "\r\n") == {(1, "expert_id", "duplicate_column")}
    assert codes("") == {(1, "", "empty")}
    assert codes(BOM + HEADER + "\r\n\r\n") == {(2, "", "no_rows")}
    # Another spreadsheet altogether (or the header row deleted): one message, not one per
    # column, that says what to do.
    other = "氏名,電話,メモ\r\nA,059-000-0000,x\r\n"
    assert codes(other) == {(1, "", "no_roster_header")}
    assert codes(line()) == {(1, "", "no_roster_header")}


def test_rows_are_numbered_as_excel_shows_them() -> None:
    text = (
        HEADER
        + "\r\n"
        + line(expert_id="advisor-u1", conflict_notes="二行の\nメモ")
        + ",,,,,,,,,,,,\r\n"  # a blank row Excel leaves behind: skipped, still counted
        + line(expert_id="advisor-u2", capacity="0")
    )
    parsed = parse(text)
    assert [row.row for row in parsed.rows] == [2]
    assert [(e.row, e.field, e.code) for e in parsed.errors] == [
        (4, "capacity", "greater_than_equal")
    ]
    assert parsed.data_rows == 2


@pytest.mark.parametrize(
    ("cells", "field", "code"),
    [
        ({"categories": "data|astrology"}, "categories", "unknown_id"),
        ({"support_types": "coaching"}, "support_types", "unknown_id"),
        ({"areas": "99999"}, "areas", "unknown_id"),
        ({"contact_emails": ""}, "contact_emails", "too_short"),
        ({"contact_emails": "not-an-address"}, "contact_emails", "string_pattern_mismatch"),
        ({"capacity": "-1"}, "capacity", "not_a_number"),
        ({"capacity": "3.5"}, "capacity", "not_a_number"),
        ({"expert_id": "Advisor U"}, "expert_id", "string_pattern_mismatch"),
        ({"expert_id": ""}, "expert_id", "missing"),
        ({"kind": "consultant"}, "kind", "literal_error"),
        ({"display_name": ""}, "display_name", "missing"),
        ({"display_name": "=cmd|' /C calc'!A0"}, "display_name", "formula_like"),
        ({"organization": "@SUM(1+1)"}, "organization", "formula_like"),
        ({"conflicts": "+81"}, "conflicts", "formula_like"),
        ({"conflict_notes": "\tタブ始まり"}, "conflict_notes", "formula_like"),
        ({"display_name": "名前\u202e逆順"}, "display_name", "forbidden_character"),
        ({"display_name": "x" * 2001}, "display_name", "too_long"),
    ],
)
def test_bad_cells_are_row_errors_that_never_echo_the_value(
    cells: dict[str, str], field: str, code: str
) -> None:
    text = HEADER + "\r\n" + line(**cells)
    parsed = parse(text)
    assert [(e.row, e.field, e.code) for e in parsed.errors] == [(2, field, code)]
    error = parsed.errors[0].as_dict()
    assert error["column"] in error["message"]
    for value in cells.values():
        if len(value) > 2:
            assert value not in error["message"] and value not in error["message_en"]


def test_an_apostrophe_lets_a_formula_like_text_in() -> None:
    assert only_expert(HEADER + "\r\n" + line(display_name="'=見出し")).display_name == "=見出し"


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r", "'"])
def test_escape_cell_protects_every_formula_start_and_round_trips(start: str) -> None:
    value = start + "1+1"
    assert escape_cell(value) == "'" + value
    assert escape_cell("普通の値") == "普通の値"
    expert = Expert.model_validate({**ROSTER[0], "conflict_notes": value})
    assert parse(export_roster([expert])).rows[0].expert.model_dump() == expert.model_dump()


# Formulas a spreadsheet still runs: full-width signs (Excel reads ＝ as =) and
# signs after spaces (Excel and LibreOffice skip them).
DISGUISED_FORMULAS = [
    '＝HYPERLINK("http://evil.example","開く")',
    " =1+1",
    "\u3000＋1",
    "＠SUM(1)",
    "  －1",
    "﹦1+1",
]


@pytest.mark.parametrize("value", DISGUISED_FORMULAS)
def test_disguised_formulas_are_escaped_on_export_and_refused_on_import(value: str) -> None:
    assert escape_cell(value) == "'" + value
    expert = Expert.model_validate({**ROSTER[0], "display_name": value, "conflict_notes": value})
    row = next(csv.reader(io.StringIO(export_roster([expert]).removeprefix(BOM).split("\r\n")[1])))
    assert row[2] == "'" + value
    # Notes are kept exactly: the escaped note reads back as it was.
    assert parse(export_roster([expert])).rows[0].expert.conflict_notes == value
    # Without the apostrophe the import (a dry run too) refuses the cell, naming it only.
    parsed = parse(HEADER + "\r\n" + line(display_name=value))
    assert [(e.field, e.code) for e in parsed.errors] == [("display_name", "formula_like")]
    assert value.strip() not in parsed.errors[0].message


def test_plain_text_with_signs_inside_is_not_a_formula() -> None:
    for value in ("サンプル＝見本", "A-1", "田中 ＋ 佐藤", "1+1"):
        assert escape_cell(value) == value
        assert only_expert(HEADER + "\r\n" + line(display_name=value)).display_name == value


def test_duplicate_ids_name_the_first_row() -> None:
    text = HEADER + "\r\n" + line() + line(display_name="別の人")
    assert [(e.row, e.code, e.message_en) for e in parse(text).errors] == [
        (3, "duplicate_id", "expert_id: the same expert id is on row 2")
    ]


def test_row_limits_and_unreadable_files() -> None:
    rows = "".join(line(expert_id=f"advisor-v{i}") for i in range(4))
    assert codes(HEADER + "\r\n" + rows) == set()
    assert [e.code for e in parse(HEADER + "\r\n" + rows, max_rows=3).errors] == ["too_many_rows"]
    assert codes(HEADER + "\r\n" + line().rstrip() + ",extra\r\n") == {(2, "", "too_many_cells")}
    assert [e.code for e in parse(HEADER + "\r\n" + 'advisor-u1,"unclosed\r\n').errors] == [
        "unreadable"
    ]
    assert codes(HEADER + "\r\n" + line(display_name="a\x00b")) == {
        (2, "display_name", "forbidden_character")
    }


# -- the import service with a hand-written fake store -------------------------------


class FakeRoster:
    def __init__(self, fail_on_save: int | None = None) -> None:
        self.experts: dict[str, Expert] = {}
        self.audit: list[dict[str, Any]] = []
        self.saves = 0
        self.fail_on_save = fail_on_save

    def get(self, expert_id: str) -> Expert | None:
        return self.experts.get(expert_id)

    def list_all(self) -> list[Expert]:
        return [self.experts[key] for key in sorted(self.experts)]

    def save(
        self, expert: Expert, *, create: bool, audit: dict[str, Any], audit_expires: int
    ) -> None:
        self.saves += 1
        if self.saves == self.fail_on_save:
            raise StoreBusy("throttled")
        self.experts[expert.expert_id] = expert
        self.audit.append(audit)

    def write_audit(self, entry: dict[str, Any], expires: int) -> None:
        self.audit.append(entry)


ACTOR = Actor(role="admin", actor="管理者A", token_id="0a0a0a0a", request_id="req-1")


def run_import(store: FakeRoster, text: str, *, dry_run: bool) -> roster_import.ImportResult:
    return roster_import.import_roster(
        store,
        store.write_audit,
        ACTOR,
        parse(text),
        dry_run=dry_run,
        now=NOW,
        settings=settings_from(local_stage_env()),
    )


def roster_file() -> str:
    return export_roster(Expert.model_validate(entry) for entry in ROSTER[:5])


def test_a_dry_run_and_a_file_with_errors_change_nothing() -> None:
    store = FakeRoster()
    result = run_import(store, roster_file(), dry_run=True)
    assert result.counts() == {"create": 5, "update": 0, "unchanged": 0}
    assert (store.saves, store.audit) == (0, [])
    bad = roster_file() + line(expert_id="advisor-a")  # the same id twice
    result = run_import(store, bad, dry_run=False)
    assert [e.code for e in result.errors] == ["duplicate_id"] and not result.applied
    assert (store.saves, store.audit) == (0, [])


def test_an_interrupted_import_is_recorded_and_finishes_when_sent_again() -> None:
    store = FakeRoster(fail_on_save=3)
    with pytest.raises(StoreBusy):
        run_import(store, roster_file(), dry_run=False)
    assert sorted(store.experts) == ["advisor-a", "advisor-b"]
    summary = store.audit[-1]
    assert summary["action"] == "roster.import"
    assert summary["detail"] == {"rows": 5, "created": 2, "updated": 0, "complete": False}

    result = run_import(store, roster_file(), dry_run=False)
    assert result.applied
    assert result.counts() == {"create": 3, "update": 0, "unchanged": 2}
    assert len(store.experts) == 5
    assert store.audit[-1]["detail"] == {"rows": 5, "created": 3, "updated": 0, "complete": True}
    assert [a["action"] for a in store.audit].count("expert.create") == 5


def test_missing_experts_are_kept_and_reported() -> None:
    store = FakeRoster()
    run_import(store, roster_file(), dry_run=False)
    first_two = export_roster(store.list_all()[:2])
    result = run_import(store, first_two, dry_run=False)
    assert result.counts() == {"create": 0, "update": 0, "unchanged": 2}
    assert result.not_in_file == ["advisor-c", "advisor-d", "advisor-e"]
    assert len(store.experts) == 5 and all(e.active for e in store.experts.values())
