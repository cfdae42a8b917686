"""Commands in the first lines of a staff reply to a case mail (pure; never raises).

Staff answer a case from their mail client. The first non-empty lines of the
reply may be commands; the command block ends at the first line that is not
one, and everything from there on is the note recorded on the case. Blank
lines before and inside the block are skipped. Quoted text must already be
stripped (mailin/parse/ does it).

書き方（返信の先頭の行）/ Syntax (the first lines of the reply)

    担当                          take                 自分が担当になる / become the owner
    ヒアリング開始                hearing              ヒアリングを始める / start the hearing
    調整開始                      matching             専門家との調整を始める / start matching
    完了[: 結果]                  close[: outcome]     完了にする（結果は任意）/ close
    他機関紹介: 紹介先            refer: body          他機関を紹介する（紹介先は必須）
    取下げ                        withdraw             取下げにする / withdraw
    スパム                        spam                 スパムとして破棄する / discard as spam
    状態: ヒアリング              status: hearing      状態名でも書ける（その状態にする操作）
    分野: データ利活用            category: data       分野（ID、日本語名、英語名）
    支援: 人材育成, 情報提供      support: training    支援の種類（複数可）
    メモ: 本文                    note: text           メモ（メモ欄に入る）
    メモ                          note                 ここで終わり、次の行からがメモ

- Each line is NFKC-normalised first, so full-width letters, digits, "＃"
  and "：" work like their half-width forms; English keywords ignore case;
  the dash-like characters (ー － - ‐ …) count as one. Free-text values
  (完了の結果, 紹介先, メモ) are kept as typed (NFC only).
- A line may start with "#" (or "＃"). Key and value are separated by ":",
  "：" or white space. Japanese action keywords may end in a polite form:
  「完了しました」「担当します」「取下げにします」.
- Status by name (状態 / ステータス / status): ヒアリング, 調整中, 完了,
  他機関紹介: 紹介先, 取下げ, スパム, or the English names (hearing,
  matching, closed, referred: body, withdrawn, spam). 受付 and 対応中 cannot
  be set by mail: 対応中 follows the expert's acceptance.
- 分野 (category): the category id, its Japanese or English label, a part of
  the Japanese label between "・" (働き方), or an unambiguous beginning of a
  label (データ).
- 支援 (support types, separated by "," "、" "/" "・" or spaces): training
  (人材育成, 研修, セミナー), information (情報提供), consultation (相談,
  課題解決); the form's full labels work too.
- At most one status change per reply (担当 may come with it); 担当, 分野
  and 支援 at most once each. A line that starts with a keyword but has a bad
  value, or a "#" line with an unknown keyword, is an error (it never becomes
  note text), and the reply is answered with the errors.
- The note is the メモ lines (in order) followed by the text after the block.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from chalicelib.core.case import STATUS_LABELS, Status
from chalicelib.core.lifecycle import Action

MAX_COMMAND_LINES = 20
_ERROR_TEXT_LENGTH = 80


@dataclass(frozen=True)
class Command:
    kind: str  # "action" | "category" | "support_types" | "note"
    action: str | None  # lifecycle Action value for kind == "action"
    value: str | list[str] | None
    line: int  # 1-based line number in the text


@dataclass(frozen=True)
class CommandError:
    line: int
    text: str  # the offending line, truncated to 80 chars
    message: str  # Japanese
    message_en: str


@dataclass(frozen=True)
class ParsedReply:
    commands: list[Command]
    errors: list[CommandError]
    note: str  # the メモ lines, then the text after the command block, stripped


# Every dash-like character, the katakana prolonged sound mark included, folds to one.
_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\uff70\ufe58\ufe63"
_DASH_MAP = str.maketrans(dict.fromkeys(_DASHES, "\u30fc"))


def _fold_key(text: str) -> str:
    """For keywords: dashes unified, lower case; one character for one (positions kept)."""
    return text.translate(_DASH_MAP).lower()


_VALUE_NOISE = re.compile(r"[\s・･,、，;；/／()（）「」『』\"'“”‘’.。]+")


def _fold_value(text: str) -> str:
    """For labels: NFKC, dashes unified, lower case, spaces and punctuation dropped."""
    return _VALUE_NOISE.sub("", _fold_key(unicodedata.normalize("NFKC", text)))


# Action keywords → (action, value: "none" | "optional" | "required").
_ACTION_WORDS: dict[str, tuple[Action, str]] = {
    **dict.fromkeys(("担当", "take"), (Action.TAKE, "none")),
    **dict.fromkeys(
        (
            "ヒアリング開始",
            "ヒアリングを開始",
            "ヒアリング",
            "hearing",
            "start hearing",
            "start_hearing",
        ),
        (Action.START_HEARING, "none"),
    ),
    **dict.fromkeys(
        (
            "調整開始",
            "調整を開始",
            "マッチング開始",
            "マッチング",
            "matching",
            "start matching",
            "start_matching",
        ),
        (Action.START_MATCHING, "none"),
    ),
    **dict.fromkeys(("完了", "close"), (Action.CLOSE, "optional")),
    **dict.fromkeys(
        ("他機関紹介", "他機関へ紹介", "他機関に紹介", "refer"), (Action.REFER, "required")
    ),
    **dict.fromkeys(("取下げ", "取り下げ", "取下", "withdraw"), (Action.WITHDRAW, "none")),
    **dict.fromkeys(
        ("スパム", "迷惑メール", "spam", "mark spam", "mark_spam"), (Action.MARK_SPAM, "none")
    ),
}
# What leads to each status (for 状態: …); None: not settable by mail.
_STATUS_ACTIONS: dict[Status, Action | None] = {
    Status.RECEIVED: None,
    Status.HEARING: Action.START_HEARING,
    Status.MATCHING: Action.START_MATCHING,
    Status.IN_PROGRESS: None,
    Status.CLOSED: Action.CLOSE,
    Status.REFERRED: Action.REFER,
    Status.WITHDRAWN: Action.WITHDRAW,
    Status.SPAM: Action.MARK_SPAM,
}
_STATUS_WORDS: dict[str, Status] = {
    **{word: status for status in Status for word in (status.value, *STATUS_LABELS[status])},
    "ヒアリング中": Status.HEARING,
    "調整": Status.MATCHING,
    "in progress": Status.IN_PROGRESS,
    "close": Status.CLOSED,
    "refer": Status.REFERRED,
    "withdraw": Status.WITHDRAWN,
}
_KEYS: dict[str, str] = {
    **dict.fromkeys(("状態", "ステータス", "status"), "status"),
    **dict.fromkeys(("分野", "カテゴリ", "カテゴリー", "category"), "category"),
    **dict.fromkeys(
        (
            "支援",
            "支援内容",
            "支援種別",
            "希望する支援",
            "support types",
            "support_types",
            "support",
        ),
        "support_types",
    ),
    **dict.fromkeys(("メモ", "備考", "note", "memo"), "note"),
}
# Polite endings a Japanese action keyword may carry: 「完了しました」「担当します」.
_POLITE = (
    "にしました",
    "にします",
    "にする",
    "とします",
    "とする",
    "しました",
    "します",
    "する",
    "です",
    "お願いします",
)

_SUPPORT_WORDS: dict[str, str] = {
    _fold_value(word): support
    for support, words in {
        "training": (
            "training",
            "seminar",
            "seminars",
            "workshop",
            "人材育成",
            "研修",
            "セミナー",
            "人材育成（セミナー・研修）",
            "Training (seminars, workshops)",
        ),
        "information": ("information", "info", "情報提供", "情報"),
        "consultation": (
            "consultation",
            "advice",
            "相談",
            "課題解決",
            "個別相談",
            "課題解決のための相談",
            "Advice on a concrete problem",
        ),
    }.items()
    for word in words
}


def _support_words(support_types: dict[str, tuple[str, str]] | None) -> dict[str, str]:
    """Words for each support type: the built-in synonyms of the three default types, and
    every offered type's id and labels (an admin may add types). With `support_types`
    given, only those types are accepted."""
    if support_types is None:
        return _SUPPORT_WORDS
    words = {word: sid for word, sid in _SUPPORT_WORDS.items() if sid in support_types}
    for sid, (ja, en) in support_types.items():
        for word in (sid, ja, en):
            words.setdefault(_fold_value(word), sid)
    return words


_SUPPORT_SPLIT = re.compile(r"[,、，;；/／・･\s]+")
_PARENTHESES = re.compile(r"\([^()]*\)")


def _sorted_words(words: Iterable[str]) -> list[tuple[str, str]]:
    """(folded keyword, keyword), longest first, so "ヒアリング開始" wins over "ヒアリング"."""
    return sorted(((_fold_key(word), word) for word in words), key=lambda pair: -len(pair[0]))


_ACTION_ORDER = _sorted_words(_ACTION_WORDS)
_KEY_ORDER = _sorted_words(_KEYS)
_STATUS_ORDER = _sorted_words(_STATUS_WORDS)


@dataclass(frozen=True)
class _Match:
    word: str  # the keyword as listed
    value: str  # the NFKC value ("" when none)
    start: int  # where the value starts in the NFKC line


def _match(
    body: str, offset: int, words: list[tuple[str, str]], *, polite: bool = False
) -> _Match | None:
    """The keyword `body` starts with, followed by the end, ":" or white space (or a polite ending)."""
    folded = _fold_key(body)
    for key, word in words:
        if not folded.startswith(key):
            continue
        rest = body[len(key) :]
        position = len(key)
        if polite and not word.isascii():
            for ending in _POLITE:
                if rest.startswith(ending):
                    rest = rest[len(ending) :]
                    position += len(ending)
                    break
        if rest and rest.rstrip("。.!") == "":  # "完了しました。"
            position += len(rest)
            rest = ""
        if rest == "":
            return _Match(word, "", offset + position)
        if rest[0] == ":":
            value = rest[1:]
            skip = len(value) - len(value.lstrip())
            return _Match(word, value.strip(), offset + position + 1 + skip)
        if rest[0].isspace():
            skip = len(rest) - len(rest.lstrip())
            return _Match(word, rest.strip(), offset + position + skip)
    return None


def _original_value(raw: str, normalized: str, start: int) -> str:
    """The value as typed (NFC, not NFKC): the text of `raw` after what normalises to normalized[:start]."""
    prefix = normalized[:start]
    for index in range(min(len(raw), 4 * start + 16) + 1):
        if unicodedata.normalize("NFKC", raw[:index]).rstrip() == prefix.rstrip():
            tail = raw[index:].strip()
            if unicodedata.normalize("NFKC", tail) == normalized[start:].strip():
                return unicodedata.normalize("NFC", tail)
    return normalized[start:].strip()


class _Reader:
    def __init__(
        self,
        categories: dict[str, tuple[str, str]],
        support_types: dict[str, tuple[str, str]] | None = None,
    ) -> None:
        self.categories = categories
        self.support_words = _support_words(support_types)
        self.support_names = (
            "、".join(ja for ja, _ in support_types.values())
            if support_types
            else "人材育成、情報提供、相談"
        )
        self.support_names_en = (
            ", ".join(support_types) if support_types else ("training, information, consultation")
        )
        self.commands: list[Command] = []
        self.errors: list[CommandError] = []
        self.notes: list[str] = []
        self.seen: set[str] = set()

    def error(self, number: int, raw: str, message: str, message_en: str) -> None:
        self.errors.append(
            CommandError(number, raw.strip()[:_ERROR_TEXT_LENGTH], message, message_en)
        )

    def line(self, number: int, raw: str) -> str:
        """Reads one line of the block: "command"; "text" (no command: the note starts here);
        "heading" (a bare メモ / note line: the note starts on the next line)."""
        normalized = unicodedata.normalize("NFKC", raw).strip()
        body, offset = normalized, 0
        hashed = normalized.startswith("#")
        if hashed:
            body = normalized[1:].lstrip()
            offset = len(normalized) - len(body)
            if body[:1].isdigit():
                return "text"  # "#1 の件" is text, not a command
        found = _match(body, offset, _ACTION_ORDER, polite=True)
        if found is not None:
            self.action(number, raw, normalized, found, _ACTION_WORDS[found.word])
            return "command"
        found = _match(body, offset, _KEY_ORDER)
        if found is not None:
            kind = _KEYS[found.word]
            if kind == "status":
                self.status(number, raw, normalized, found)
            elif kind == "category":
                self.category(number, raw, found)
            elif kind == "support_types":
                self.support(number, raw, found)
            elif not found.value:
                return "heading"
            else:
                self.note(number, raw, normalized, found)
            return "command"
        if hashed:
            word = next(iter(body.split(":", 1)[0].split()), "")
            self.error(
                number,
                raw,
                f"「{word[:20]}」というコマンドはありません。",
                f"Unknown command “{word[:20]}”.",
            )
            return "command"
        return "text"

    def action(
        self,
        number: int,
        raw: str,
        normalized: str,
        found: _Match,
        rule: tuple[Action, str],
    ) -> None:
        action, takes = rule
        word = found.word
        if takes == "none" and found.value:
            self.error(
                number,
                raw,
                f"「{word}」の後ろには何も書けません。",
                f"“{word}” takes no value.",
            )
            return
        if takes == "required" and not found.value:
            self.error(
                number,
                raw,
                f"「{word}」には紹介先を書いてください（例：他機関紹介：よろず支援拠点）。",
                f"“{word}” needs the body referred to (e.g. “refer: chamber of commerce”).",
            )
            return
        slot = "take" if action is Action.TAKE else "status"
        if slot in self.seen:
            if slot == "take":
                self.error(number, raw, "「担当」が2回あります。", "“take” appears twice.")
            else:
                self.error(
                    number,
                    raw,
                    "状態を変えるコマンドは1通に1つだけです。",
                    "Only one status change per reply.",
                )
            return
        self.seen.add(slot)
        value = _original_value(raw.strip(), normalized, found.start) if found.value else None
        self.commands.append(Command("action", action.value, value, number))

    def status(self, number: int, raw: str, normalized: str, found: _Match) -> None:
        inner = _match(found.value, found.start, _STATUS_ORDER, polite=True)
        if inner is None:
            names = "、".join(STATUS_LABELS[s][0] for s, a in _STATUS_ACTIONS.items() if a)
            names_en = ", ".join(s.value for s, a in _STATUS_ACTIONS.items() if a)
            self.error(
                number,
                raw,
                f"状態「{found.value[:20]}」はありません。使える状態：{names}",
                f"No status “{found.value[:20]}”. Statuses: {names_en}",
            )
            return
        status = _STATUS_WORDS[inner.word]
        action = _STATUS_ACTIONS[status]
        if action is None:
            label, label_en = STATUS_LABELS[status]
            why = (
                "専門家が引き受けると対応中になります"
                if status is Status.IN_PROGRESS
                else "受付には戻せません"
            )
            why_en = (
                "it follows the expert's acceptance"
                if status is Status.IN_PROGRESS
                else "a case cannot go back to received"
            )
            self.error(
                number,
                raw,
                f"「{label}」にはメールで変更できません（{why}）。",
                f"The status cannot be set to “{label_en}” by mail ({why_en}).",
            )
            return
        takes = {Action.CLOSE: "optional", Action.REFER: "required"}.get(action, "none")
        word = STATUS_LABELS[status][0]
        self.action(
            number, raw, normalized, _Match(word, inner.value, inner.start), (action, takes)
        )

    def category(self, number: int, raw: str, found: _Match) -> None:
        if "category" in self.seen:
            self.error(number, raw, "「分野」が2回あります。", "“category” appears twice.")
            return
        candidates = _category_candidates(found.value, self.categories)
        if len(candidates) == 1:
            self.seen.add("category")
            self.commands.append(Command("category", None, candidates[0], number))
            return
        value = found.value[:30]
        if candidates:
            names = "、".join(self.categories[c][0] for c in candidates)
            names_en = ", ".join(candidates)
            self.error(
                number,
                raw,
                f"分野「{value}」に当てはまるものが複数あります：{names}",
                f"Category “{value}” is ambiguous: {names_en}",
            )
            return
        names = "、".join(ja for ja, _ in self.categories.values())
        names_en = ", ".join(self.categories)
        if not found.value:
            message = f"分野を書いてください。使える分野：{names}"
            message_en = f"Name a category: {names_en}"
        else:
            message = f"分野「{value}」はありません。使える分野：{names}"
            message_en = f"No category “{value}”. Categories: {names_en}"
        self.error(number, raw, message, message_en)

    def support(self, number: int, raw: str, found: _Match) -> None:
        if "support_types" in self.seen:
            self.error(number, raw, "「支援」が2回あります。", "“support” appears twice.")
            return
        whole = self.support_words.get(_fold_value(found.value))
        items = [whole] if whole else []
        unknown = []
        if whole is None:
            for item in _SUPPORT_SPLIT.split(_PARENTHESES.sub(" ", found.value)):
                if not item:
                    continue
                support = self.support_words.get(_fold_value(item))
                if support is None:
                    unknown.append(item)
                elif support not in items:
                    items.append(support)
        if unknown or not items:
            what = f"「{unknown[0][:20]}」" if unknown else ""
            what_en = f" “{unknown[0][:20]}”" if unknown else ""
            self.error(
                number,
                raw,
                f"支援{what}がわかりません。使える支援：{self.support_names}",
                f"Unknown support type{what_en}. Use: {self.support_names_en}",
            )
            return
        self.seen.add("support_types")
        self.commands.append(Command("support_types", None, items, number))

    def note(self, number: int, raw: str, normalized: str, found: _Match) -> None:
        value = _original_value(raw.strip(), normalized, found.start)
        self.notes.append(value)
        self.commands.append(Command("note", None, value, number))


def _category_candidates(value: str, categories: dict[str, tuple[str, str]]) -> list[str]:
    """Category ids `value` names: exactly (id or label), by a "・" part, or by a unique beginning."""
    key = _fold_value(value)
    if not key:
        return []
    exact = [
        cid
        for cid, (ja, en) in categories.items()
        if key in (_fold_value(cid), _fold_value(ja), _fold_value(en))
    ]
    if exact:
        return exact
    parts = [
        cid
        for cid, (ja, en) in categories.items()
        if any(_fold_value(part) == key for part in re.split(r"[・･/／、,]", ja + "・" + en))
    ]
    if parts:
        return parts
    if len(key) < 2:
        return []
    return [
        cid
        for cid, (ja, en) in categories.items()
        if _fold_value(ja).startswith(key) or _fold_value(en).startswith(key)
    ]


def parse_reply(
    text: str,
    *,
    categories: dict[str, tuple[str, str]],
    support_types: dict[str, tuple[str, str]] | None = None,
) -> ParsedReply:
    """The commands at the top of `text`, the errors among them, and the note (never raises).

    `support_types`: the types offered now (id → ja, en); None: the three defaults."""
    lines = str(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    reader = _Reader(dict(categories), support_types)
    end = len(lines)
    command_lines = 0
    for index, raw in enumerate(lines):
        if not raw.strip():
            continue
        if command_lines >= MAX_COMMAND_LINES:
            reader.error(
                index + 1,
                raw,
                f"コマンドは{MAX_COMMAND_LINES}行までです。",
                f"At most {MAX_COMMAND_LINES} command lines.",
            )
            end = index + 1
            break
        kind = reader.line(index + 1, raw)
        if kind != "command":
            end = index if kind == "text" else index + 1
            break
        command_lines += 1
    rest = "\n".join(lines[end:]).strip()
    note = "\n".join(reader.notes)
    if rest:
        note = f"{note}\n\n{rest}" if note else rest
    return ParsedReply(reader.commands, reader.errors, note)
