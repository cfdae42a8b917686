"""The roster as CSV (pure): the file admins open in Excel, and reading it back row by row.

The format (docs/api.md "Roster CSV"):
- UTF-8 with a byte order mark (so Excel reads it as UTF-8), CRLF line
  ends, quoting as RFC 4180 (Python's csv module, excel dialect).
- Row 1 is the header: the Japanese label, then the field id in square
  brackets, e.g. `専門家ID [expert_id]`. On import a column is found by the
  id in brackets (or a cell that is just the id, or just the label), in any
  order; every column must be present (a missing column would silently wipe
  that field), and an unknown column is refused.
- Lists are joined with `|` (a full-width `｜` is read as `|`); an item
  cannot contain `|`.
- Yes/no: `1` / `0` on export; `1`, `0`, `はい`, `いいえ`, `true`, `false`,
  `yes`, `no` on import (full-width forms too: NFKC). An empty `active`
  means active.
- Spreadsheet formulas (CSV injection): a cell starting with `=`, `+`, `-`,
  `@`, a tab or a carriage return (or with `'` itself) is exported with a
  leading `'`, so Excel shows it as text; import removes one leading `'`
  from every cell. A cell starting with one of those characters without the
  `'` is refused, so a formula never enters the roster. "Starting with" is
  judged after NFKC and trimming too (`＝1+1`, ` =1+1`: text.looks_like_formula).
- Ids, yes/no, numbers and addresses are NFKC-normalised and trimmed; names
  and conflict entries keep their characters (only trimmed), notes are kept
  exactly, so an unchanged export reads back as unchanged.

Errors name the row as Excel numbers it (the header is row 1) and the
column, in Japanese and English, and never repeat the cell's value.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from chalicelib.core.roster import Expert
from chalicelib.core.text import BIDI_CONTROLS, looks_like_formula

BOM = "\ufeff"
LIST_SEPARATOR = "|"
ESCAPE = "'"
MAX_ROWS = 2000
MAX_CELL = 2000

ColumnKind = Literal["id", "kind", "text", "note", "ids", "emails", "entries", "bool", "int"]


@dataclass(frozen=True)
class Column:
    field: str
    label: str
    kind: ColumnKind

    @property
    def header(self) -> str:
        return f"{self.label} [{self.field}]"


COLUMNS: tuple[Column, ...] = (
    Column("expert_id", "専門家ID", "id"),
    Column("kind", "区分", "kind"),
    Column("display_name", "表示名", "text"),
    Column("organization", "所属", "text"),
    Column("categories", "分野", "ids"),
    Column("support_types", "支援の種類", "ids"),
    Column("areas", "対応地域（空欄は全域）", "ids"),
    Column("online_ok", "オンライン対応", "bool"),
    Column("contact_emails", "連絡先メール", "emails"),
    Column("capacity", "同時対応件数", "int"),
    Column("active", "有効", "bool"),
    Column("conflict_notes", "利益相反メモ", "note"),
    Column("conflicts", "利益相反先", "entries"),
)
BY_FIELD = {column.field: column for column in COLUMNS}

KIND_WORDS = {
    "advisor": "advisor",
    "アドバイザー": "advisor",
    "partner": "partner",
    "パートナー": "partner",
    "パートナー企業": "partner",
}
TRUE_WORDS = frozenset({"1", "はい", "true", "yes", "y", "有効"})
FALSE_WORDS = frozenset({"0", "いいえ", "false", "no", "n", "無効"})
# Columns whose cells are checked strictly by type: a leading "-" there is a
# wrong number, not a formula, and says so.
_TYPED = frozenset({"bool", "int"})


@dataclass(frozen=True)
class RowError:
    """One problem in one row (row 1 is the header; field "" is the whole row or file)."""

    row: int
    field: str
    code: str
    message: str
    message_en: str

    def as_dict(self) -> dict[str, Any]:
        column = BY_FIELD.get(self.field)
        return {
            "row": self.row,
            "field": self.field,
            "column": column.header if column else "",
            "code": self.code,
            "message": self.message,
            "message_en": self.message_en,
        }


@dataclass(frozen=True)
class ParsedRow:
    row: int
    expert: Expert


@dataclass(frozen=True)
class Parsed:
    rows: list[ParsedRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    data_rows: int = 0


@dataclass(frozen=True)
class KnownIds:
    """The ids a row may name: the desk's categories, support types and municipalities."""

    categories: frozenset[str]
    support_types: frozenset[str]
    areas: frozenset[str]

    @classmethod
    def of(
        cls, categories: Iterable[str], support_types: Iterable[str], areas: Iterable[str]
    ) -> KnownIds:
        return cls(frozenset(categories), frozenset(support_types), frozenset(areas))

    def for_field(self, name: str) -> frozenset[str] | None:
        return {
            "categories": self.categories,
            "support_types": self.support_types,
            "areas": self.areas,
        }.get(name)


# -- export -----------------------------------------------------------------------


def escape_cell(value: str) -> str:
    """A cell Excel shows as text: a leading `'` before anything formula-like (and before
    the escape character itself, so that escaping round-trips)."""
    return ESCAPE + value if value.startswith(ESCAPE) or looks_like_formula(value) else value


def _cell(column: Column, value: Any) -> str:
    if value is None:
        return ""
    if column.kind == "bool":
        return "1" if value else "0"
    if isinstance(value, list):
        return LIST_SEPARATOR.join(str(item) for item in value)
    return str(value)


def export_roster(experts: Iterable[Expert]) -> str:
    """The roster file: BOM, header, one row per expert, CRLF line ends."""
    out = io.StringIO()
    writer = csv.writer(out, dialect="excel", lineterminator="\r\n")
    writer.writerow([column.header for column in COLUMNS])
    for expert in experts:
        data = expert.model_dump()
        writer.writerow([escape_cell(_cell(column, data[column.field])) for column in COLUMNS])
    return BOM + out.getvalue()


# -- import -----------------------------------------------------------------------


class _CellError(ValueError):
    def __init__(self, code: str, ja: str, en: str) -> None:
        super().__init__(code)
        self.code = code
        self.ja = ja
        self.en = en


def _error(row: int, column: Column | None, code: str, ja: str, en: str) -> RowError:
    if column is None:
        return RowError(row, "", code, ja, en)
    return RowError(row, column.field, code, f"「{column.header}」: {ja}", f"{column.field}: {en}")


def _nfkc(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip()


def _check_characters(value: str, *, multiline: bool) -> None:
    for ch in value:
        if multiline and ch in "\r\n\t":
            continue
        if ch in BIDI_CONTROLS or unicodedata.category(ch) in ("Cc", "Cs"):
            raise _CellError(
                "forbidden_character",
                "制御文字など使用できない文字が含まれています。",
                "contains a control or direction-override character",
            )


def _unescape(raw: str, column: Column) -> str:
    """The cell without its protective `'`; refuses what a spreadsheet would run."""
    if raw.startswith(ESCAPE):
        return raw[1:]
    if column.kind not in _TYPED and looks_like_formula(raw):
        raise _CellError(
            "formula_like",
            "数式と解釈される文字（= + - @ など）で始まっています。文字として入れる場合は先頭に ' を付けてください。",
            "starts like a spreadsheet formula (= + - @ ...); prefix it with ' to keep it as text",
        )
    return raw


def _items(value: str) -> list[str]:
    # A full-width "｜" is what a Japanese keyboard often types for "|".
    return [item.strip() for item in value.replace("｜", LIST_SEPARATOR).split(LIST_SEPARATOR)]


def _convert(column: Column, raw: str, known: KnownIds) -> Any:
    if len(raw) > MAX_CELL:
        raise _CellError(
            "too_long", f"{MAX_CELL}文字以内にしてください。", f"longer than {MAX_CELL} characters"
        )
    value = _unescape(raw, column)
    _check_characters(value, multiline=column.kind == "note")
    if column.kind in ("id", "kind", "bool", "int"):
        text = _nfkc(value)
        if not text and column.kind != "bool":
            return None  # reported as missing by the model
        if column.kind == "kind":
            return KIND_WORDS.get(text.casefold(), text)
        if column.kind == "bool":
            return _yes_no(column, text)
        if column.kind == "int":
            if not text.isascii() or not text.isdigit():
                raise _CellError(
                    "not_a_number",
                    "1以上の整数（半角または全角の数字）を入力してください。",
                    "a whole number of 1 or more is expected",
                )
            return int(text)
        return text
    if column.kind == "text":
        return value.strip() or None
    if column.kind == "note":
        # Kept exactly (line breaks, indentation), so that it reads back unchanged.
        return value if value.strip() else None
    items = [item for item in _items(value) if item]
    if column.kind in ("ids", "emails"):
        items = [_nfkc(item) for item in items]
    ids = known.for_field(column.field)
    if ids is not None:
        unknown = [index for index, item in enumerate(items, start=1) if item not in ids]
        if unknown:
            positions = "、".join(f"{index}番目" for index in unknown)
            raise _CellError(
                "unknown_id",
                f"登録されていない（または無効にされた）IDがあります（{positions}の項目）。",
                "unknown or deactivated id(s) at item position(s) "
                + ", ".join(str(i) for i in unknown),
            )
    return items


def _yes_no(column: Column, text: str) -> bool | None:
    word = text.casefold()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    if not word and column.field == "active":
        return True
    raise _CellError(
        "not_yes_no",
        "1／0 または はい／いいえ で入力してください。",
        "expected 1/0 or はい/いいえ (yes/no)",
    )


_MODEL_MESSAGES: dict[str, tuple[str, str]] = {
    "missing": ("入力してください。", "required"),
    "too_short": ("入力してください。", "required (empty)"),
    "string_too_short": ("入力してください。", "required (empty)"),
    "string_pattern_mismatch": (
        "形式が正しくありません（IDは半角英小文字・数字・-・_、メールは name@example.jp の形）。",
        "does not have the expected form",
    ),
    "literal_error": ("使用できない値です。", "not an allowed value"),
    "greater_than_equal": ("1以上の整数を入力してください。", "must be 1 or more"),
}


def _model_errors(row: int, exc: ValidationError, skip: set[str]) -> list[RowError]:
    found: dict[str, RowError] = {}
    for error in exc.errors():
        loc = error.get("loc") or ("",)
        column = BY_FIELD.get(str(loc[0]))
        if column is None or column.field in skip or column.field in found:
            continue
        code = str(error.get("type", "invalid"))
        ja, en = _MODEL_MESSAGES.get(code, ("値が正しくありません。", "invalid value"))
        found[column.field] = _error(row, column, code, ja, en)
    return list(found.values())


def _header(cells: list[str]) -> tuple[list[Column | None], list[RowError]]:
    """Which column each header cell names, and what is wrong with the header."""
    by_name: dict[str, Column] = {}
    for each in COLUMNS:
        for name in (each.field, each.label, each.header):
            by_name[_nfkc(name).casefold()] = each
    mapped: list[Column | None] = []
    errors: list[RowError] = []
    for position, cell in enumerate(cells, start=1):
        text = _nfkc(cell.lstrip(BOM))
        bracket = re.search(r"\[([^\[\]]+)\]\s*$", text)
        column = by_name.get((bracket.group(1) if bracket else text).strip().casefold())
        if column is None and text:
            errors.append(
                _error(
                    1,
                    None,
                    "unknown_column",
                    f"{position}列目の見出しは、この名簿の列ではありません（書き出したファイルの見出しをそのまま使ってください）。",
                    f"column {position} is not a roster column (keep the exported header)",
                )
            )
        elif column is not None and column in mapped:
            errors.append(
                _error(
                    1,
                    column,
                    "duplicate_column",
                    "同じ列が2回あります。",
                    "the column appears twice",
                )
            )
        mapped.append(column)
    if not any(mapped):
        # Not a roster file at all (another spreadsheet, or the header row deleted): one
        # message that says what to do, not one per missing and unknown column.
        return mapped, [
            _error(
                1,
                None,
                "no_roster_header",
                "1行目に名簿の見出しがありません。名簿CSVをダウンロードして編集し、"
                "1行目の見出しはそのまま残してください。",
                "row 1 has no roster header: edit the downloaded roster CSV and keep its header row",
            )
        ]
    for each in COLUMNS:
        if each not in mapped:
            errors.append(
                _error(1, each, "missing_column", "列がありません。", "the column is missing")
            )
    return mapped, errors


def _records(text: str) -> Iterable[tuple[int, list[str]]]:
    """(Excel row number, cells) for every record; a quoted line break stays in its row."""
    # strict: an unclosed quote or text after a closing quote is an error,
    # not a silently merged or truncated cell.
    reader = csv.reader(io.StringIO(text, newline=""), dialect="excel", strict=True)
    yield from enumerate(reader, start=1)


def parse_roster(
    text: str,
    *,
    known: KnownIds,
    model: type[Expert] = Expert,
    max_rows: int = MAX_ROWS,
) -> Parsed:
    """Every row validated (as `model`, an Expert or a stricter subclass), errors per row.

    Blank rows are skipped (they keep their number). Nothing here decides
    what changes: see core/roster_import.py.
    """
    text = text.removeprefix(BOM)
    rows: list[ParsedRow] = []
    errors: list[RowError] = []
    columns: list[Column | None] | None = None
    seen: dict[str, int] = {}
    data_rows = 0
    number = 1
    try:
        for number, cells in _records(text):
            if not any(cell.strip() for cell in cells):
                continue
            if columns is None:
                columns, header_errors = _header(cells)
                if header_errors:
                    return Parsed(errors=header_errors)
                continue
            data_rows += 1
            if data_rows > max_rows:
                return Parsed(
                    errors=[
                        _error(
                            number,
                            None,
                            "too_many_rows",
                            f"行が多すぎます（1回に{max_rows}行まで）。ファイルを分けてください。",
                            f"more than {max_rows} data rows; split the file",
                        )
                    ],
                    data_rows=data_rows,
                )
            parsed, row_errors = _row(number, cells, columns, known, model, seen)
            errors.extend(row_errors)
            if parsed is not None:
                rows.append(parsed)
    except csv.Error:
        return Parsed(
            errors=[
                _error(
                    number + 1,
                    None,
                    "unreadable",
                    "CSVとして読み取れません（引用符の閉じ忘れや不正な文字がないか確認してください）。",
                    "not readable as CSV (an unclosed quote or an invalid character)",
                )
            ],
            data_rows=data_rows,
        )
    if columns is None:
        errors.append(_error(1, None, "empty", "データがありません。", "the file is empty"))
    elif data_rows == 0:
        errors.append(_error(2, None, "no_rows", "データ行がありません。", "no data rows"))
    return Parsed(rows=rows, errors=errors, data_rows=data_rows)


def _row(
    number: int,
    cells: list[str],
    columns: list[Column | None],
    known: KnownIds,
    model: type[Expert],
    seen: dict[str, int],
) -> tuple[ParsedRow | None, list[RowError]]:
    if len(cells) > len(columns) and any(cell.strip() for cell in cells[len(columns) :]):
        return None, [
            _error(
                number,
                None,
                "too_many_cells",
                "見出しより多くの列に値があります。",
                "more cells than header columns",
            )
        ]
    cells = cells + [""] * (len(columns) - len(cells))
    data: dict[str, Any] = {}
    errors: list[RowError] = []
    for column, raw in zip(columns, cells, strict=False):
        if column is None:
            continue
        try:
            value = _convert(column, raw, known)
        except _CellError as exc:
            errors.append(_error(number, column, exc.code, exc.ja, exc.en))
            continue
        if value is not None:
            data[column.field] = value
    expert_id = data.get("expert_id")
    if isinstance(expert_id, str) and expert_id:
        if expert_id in seen:
            errors.append(
                _error(
                    number,
                    BY_FIELD["expert_id"],
                    "duplicate_id",
                    f"同じ専門家IDが{seen[expert_id]}行目にもあります。",
                    f"the same expert id is on row {seen[expert_id]}",
                )
            )
        else:
            seen[expert_id] = number
    try:
        expert = model.model_validate(data)
    except ValidationError as exc:
        errors.extend(_model_errors(number, exc, {error.field for error in errors}))
        return None, errors
    if errors:
        return None, errors
    return ParsedRow(number, expert), []


def decode_upload(raw: bytes) -> str | None:
    """An uploaded file as text: UTF-8 (with or without a BOM), else Shift_JIS (cp932, what
    Excel's plain "CSV" writes), as dx-desk-admin reads it; None when it is neither."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp932")
    except UnicodeDecodeError:
        return None
