"""Monthly statistics (pure): counters → the month's report, and cases → anonymous CSV rows.

What a month's figures mean (the same for the API, the CSV and the monthly mail):
- A month is the month a case was RECEIVED (Japan time). Outcomes and lead
  times are added to that month when its cases reach them, so the figures
  of a month describe one cohort of cases and keep growing while some of
  them are open (the monthly mail is a snapshot taken on its day).
- Category and support types are the desk's current classification: a
  change after the hearing moves the case from one count to the other.
- Lead times run from receipt to each milestone: first contact (the first
  staff action: taking the case or starting the hearing), matched (an
  expert accepted) and closed (完了 only; referrals, withdrawals and spam
  have their own counts, not a lead time). Averages are sums / counts of
  the cases that reached the milestone; business days skip weekends,
  public holidays and the year-end closure.
The counters are maintained on write (intake and every case change, in the
same transaction); nothing here reads the cases to count them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from chalicelib.core import survey
from chalicelib.core.case import (
    ENDED_FIELD,
    LEAD_BUCKETS,
    LEAD_TIMES,
    MILESTONE_FIELDS,
    OUTCOMES,
    STATUS_LABELS,
    Status,
    lead_between,
)
from chalicelib.core.receipt import JST
from chalicelib.core.text import looks_like_formula
from chalicelib.core.timefmt import parse_iso

SECONDS_PER_DAY = 86_400


class LabelLike(Protocol):
    """A (ja, en) label, such as config.Label of the deployment's lists."""

    @property
    def ja(self) -> str: ...

    @property
    def en(self) -> str: ...


@dataclass(frozen=True)
class Text:
    ja: str
    en: str


# Counter prefix (core/case.py) → what the report calls the breakdown.
DIMENSIONS: tuple[tuple[str, Text], ...] = (
    ("requester_type", Text("相談者区分", "Requester type")),
    ("category", Text("相談分野", "Category")),
    ("support_type", Text("希望する支援", "Support type")),
    ("municipality", Text("市町", "Municipality")),
    ("preferred_format", Text("希望する相談方法", "Preferred format")),
    ("channel", Text("受付経路", "Channel")),
    ("outcome", Text("結果", "Outcome")),
    ("status", Text("現在の状態", "Current status")),
)
CHANNEL_LABELS: dict[str, Text] = {
    "form": Text("ウェブフォーム", "Web form"),
    "api": Text("API", "API"),
}
STATUS_TEXT: dict[str, Text] = {
    status.value: Text(*labels) for status, labels in STATUS_LABELS.items()
}
LEAD_LABELS: dict[str, Text] = {
    "first_contact": Text("受付から初回対応まで", "Receipt to first contact"),
    "matched": Text("受付から専門家の決定まで", "Receipt to an expert accepting"),
    "closed": Text("受付から完了まで", "Receipt to closing"),
}
BUCKET_LABELS: dict[str, Text] = {
    "0": Text("当日（0営業日）", "Same business day"),
    "1": Text("1営業日", "1 business day"),
    "2": Text("2営業日", "2 business days"),
    "3-5": Text("3〜5営業日", "3-5 business days"),
    "6-10": Text("6〜10営業日", "6-10 business days"),
    "11+": Text("11営業日以上", "11 business days or more"),
}
BASIS = Text(
    "件数は受付月ごとの集計です。結果（完了・他機関紹介・取下げ・スパム）と所要時間は、"
    "その月に受け付けた案件がそこに至った時点で受付月に加えられるため、未完了の案件がある間は増えます。"
    "分野と支援の種類は事務局の分類（ヒアリング後の変更を反映）です。"
    "所要時間は受付からの経過で、営業日は土日・祝日・年末年始を除きます。個人を特定する情報は含みません。",
    "Counts are by the month a case was received. Outcomes (closed, referred, withdrawn, spam) "
    "and lead times are added to that month when its cases reach them, so they grow while "
    "some are open. Category and support types are the desk's classification (changes after "
    "the hearing included). Lead times run from receipt; business days skip weekends, public "
    "holidays and the year-end closure. No personal data.",
)


SURVEY_BASIS = Text(
    "アンケートは、その月に受け付けた案件のうち完了・他機関紹介となったものにお送りした数（送付数）と回答数です。"
    "回答率＝回答数÷送付数、満足度＝「大変満足」「満足」の回答の割合、前進率＝「前進した」「一部前進した」の回答の割合。"
    "フォローアップは完了から数か月後の問い合わせで、前進率＝「進んだ」「少し進んだ」の回答の割合。"
    "自由記述と個人を特定する情報は含みません。",
    "Surveys sent to the month's cases that ended as closed or referred, and their answers. "
    "Response rate = answers / surveys sent; satisfaction = share of the top two answers; "
    "progress rate = share of 'moved forward' and 'partly'. The follow-up asks closed cases "
    "some months later; its rate is the share of 'moved on' and 'a little'. No comments, "
    "no personal data.",
)


def month_label(month: str) -> str:
    year, _, number = month.partition("-")
    return f"{int(year)}年{int(number)}月"


def _average(total: int, count: int, unit: int, digits: int) -> float | None:
    return round(total / count / unit, digits) if count else None


@dataclass(frozen=True)
class MonthlyReport:
    """A month's figures, built from its counters only."""

    month: str
    counters: dict[str, int]
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return int(self.counters.get("cases", 0))


def _count_rows(
    dimension: str,
    counters: Mapping[str, int],
    known: Iterable[str],
    labels: Mapping[str, Text],
) -> list[dict[str, Any]]:
    """Every known id (zeros included, in the deployment's order), then ids only counters know."""
    prefix = f"{dimension}:"
    found = {
        name.removeprefix(prefix): int(value)
        for name, value in counters.items()
        if name.startswith(prefix) and name != prefix
    }
    order = list(dict.fromkeys(known))
    order += sorted(set(found) - set(order))
    rows = []
    for item_id in order:
        label = labels.get(item_id)
        rows.append(
            {
                "id": item_id,
                "label": label.ja if label else item_id,
                "label_en": label.en if label else item_id,
                "count": found.get(item_id, 0),
            }
        )
    return rows


def _lead(name: str, counters: Mapping[str, int]) -> dict[str, Any]:
    count = int(counters.get(f"lead:{name}:count", 0))
    seconds = int(counters.get(f"lead:{name}:seconds", 0))
    business_days = int(counters.get(f"lead:{name}:business_days", 0))
    return {
        "label": LEAD_LABELS[name].ja,
        "label_en": LEAD_LABELS[name].en,
        "count": count,
        "total_seconds": seconds,
        "total_business_days": business_days,
        "average_days": _average(seconds, count, SECONDS_PER_DAY, 2),
        "average_hours": _average(seconds, count, 3600, 1),
        "average_business_days": _average(business_days, count, 1, 2),
        "histogram": [
            {
                "bucket": bucket,
                "label": BUCKET_LABELS[bucket].ja,
                "label_en": BUCKET_LABELS[bucket].en,
                "count": int(counters.get(f"lead:{name}:bucket:{bucket}", 0)),
            }
            for _, _, bucket in LEAD_BUCKETS
        ],
    }


def _text_labels(labels: Mapping[str, LabelLike]) -> dict[str, Text]:
    return {key: Text(label.ja, label.en) for key, label in labels.items()}


def monthly_report(
    month: str,
    counters: Mapping[str, int],
    labels: Mapping[str, Mapping[str, LabelLike]] | None = None,
) -> MonthlyReport:
    """The month's report: counts by each dimension with labels, outcomes and lead times.

    `labels` maps a dimension ("requester_type", "category", "support_type",
    "municipality", "preferred_format") to the deployment's {id: label}.
    """
    given = labels or {}
    known_labels: dict[str, dict[str, Text]] = {
        name: _text_labels(given.get(name, {})) for name, _ in DIMENSIONS
    }
    known_labels["channel"] = dict(CHANNEL_LABELS)
    known_labels["status"] = dict(STATUS_TEXT)
    known_labels["outcome"] = {status.value: STATUS_TEXT[status.value] for status in OUTCOMES}
    known_ids: dict[str, list[str]] = {name: list(known_labels[name]) for name, _ in DIMENSIONS}
    counts = {
        name: {
            "label": title.ja,
            "label_en": title.en,
            "rows": _count_rows(name, counters, known_ids[name], known_labels[name]),
        }
        for name, title in DIMENSIONS
    }
    plain = {name: int(value) for name, value in counters.items()}
    body = {
        "month": month,
        "month_label": month_label(month),
        "cases": int(plain.get("cases", 0)),
        "counts": counts,
        "lead_times": {name: _lead(name, plain) for name in LEAD_TIMES},
        "basis": {"ja": BASIS.ja, "en": BASIS.en},
        # The satisfaction survey and follow-up of the month's cases (counts only).
        "survey": {
            **survey.figures(plain, categories=given.get("category")),
            "basis": {"ja": SURVEY_BASIS.ja, "en": SURVEY_BASIS.en},
        },
    }
    return MonthlyReport(month=month, counters=plain, body=body)


def dimension_rows(
    dimension: str,
    counters: Mapping[str, int],
    labels: Mapping[str, Mapping[str, LabelLike]] | None = None,
) -> list[dict[str, Any]]:
    """One dimension's rows as the month's report shows them, for any counters (e.g. a year's sum).

    Every id the deployment knows (zeros included, in its order), then ids
    only the counters know; labels fall back to the id.
    """
    known = _text_labels((labels or {}).get(dimension, {}))
    return _count_rows(dimension, counters, list(known), known)


# -- the anonymous CSV of a month's cases -------------------------------------

# What the export reads of a case (a projection: nothing else is fetched).
# `sessions` is read only to be counted; its reports never reach a row.
CSV_ATTRIBUTES: tuple[str, ...] = (
    "receipt_number",
    "created_at",
    "updated_at",
    "status",
    "requester_type",
    "category",
    "municipality",
    "support_types",
    "preferred_format",
    "channel",
    "sessions",
    "expert_id",
    *MILESTONE_FIELDS.values(),
    ENDED_FIELD,
)

# (column id, Japanese header): the header row shows both, e.g. "受付番号 (receipt_number)".
CSV_COLUMNS: tuple[tuple[str, str], ...] = (
    ("receipt_number", "受付番号"),
    ("created_at", "受付日時"),
    ("updated_at", "最終更新日時"),
    ("status", "状態"),
    ("status_label", "状態名"),
    ("requester_type", "相談者区分"),
    ("requester_type_label", "相談者区分名"),
    ("category", "相談分野"),
    ("category_label", "相談分野名"),
    ("municipality", "市町コード"),
    ("municipality_label", "市町名"),
    ("support_types", "希望する支援"),
    ("support_types_label", "希望する支援名"),
    ("preferred_format", "希望する相談方法"),
    ("channel", "受付経路"),
    ("sessions", "相談回数"),
    ("expert_id", "担当専門家ID"),
    ("first_contact_at", "初回対応日時"),
    ("matched_at", "専門家決定日時"),
    ("ended_at", "終了日時"),
    ("days_to_first_contact", "初回対応までの日数"),
    ("business_days_to_first_contact", "初回対応までの営業日数"),
    ("days_to_matched", "専門家決定までの日数"),
    ("business_days_to_matched", "専門家決定までの営業日数"),
    ("days_to_closed", "完了までの日数"),
    ("business_days_to_closed", "完了までの営業日数"),
)


def csv_header() -> list[str]:
    return [f"{title} ({column})" for column, title in CSV_COLUMNS]


def _jst(value: Any) -> str:
    if not isinstance(value, str) or not value:
        return ""
    return parse_iso(value).astimezone(JST).strftime("%Y-%m-%d %H:%M")


def _safe(value: str) -> str:
    # A cell starting with = + - @ (full-width or after spaces too) would run as a formula.
    return "'" + value if looks_like_formula(value) else value


def case_leads(case: Mapping[str, Any]) -> dict[str, tuple[int, int] | None]:
    """(seconds, business days) from receipt to each milestone the case reached."""
    created = str(case.get("created_at") or "")
    found: dict[str, tuple[int, int] | None] = {}
    for name in LEAD_TIMES:
        if name == "closed":
            at = case.get(ENDED_FIELD) if case.get("status") == Status.CLOSED else None
        else:
            at = case.get(MILESTONE_FIELDS[name])
        found[name] = lead_between(created, str(at)) if created and at else None
    return found


def csv_row(
    case: Mapping[str, Any], labels: Mapping[str, Mapping[str, LabelLike]] | None = None
) -> list[str]:
    """One case as a CSV row: ids, labels, dates and lead times; never personal data."""
    given = labels or {}

    def label(dimension: str, item_id: str) -> str:
        found = given.get(dimension, {}).get(item_id)
        return found.ja if found is not None else item_id

    status = str(case.get("status", ""))
    support = [str(kind) for kind in case.get("support_types") or []]
    values: dict[str, str] = {
        "receipt_number": str(case.get("receipt_number", "")),
        "created_at": _jst(case.get("created_at")),
        "updated_at": _jst(case.get("updated_at")),
        "status": status,
        "status_label": STATUS_TEXT[status].ja if status in STATUS_TEXT else status,
        "requester_type": str(case.get("requester_type", "")),
        "requester_type_label": label("requester_type", str(case.get("requester_type", ""))),
        "category": str(case.get("category", "")),
        "category_label": label("category", str(case.get("category", ""))),
        "municipality": str(case.get("municipality", "")),
        "municipality_label": label("municipality", str(case.get("municipality", ""))),
        "support_types": " ".join(support),
        "support_types_label": "、".join(label("support_type", kind) for kind in support),
        "preferred_format": str(case.get("preferred_format", "")),
        "channel": str(case.get("channel", "")),
        "sessions": str(len(case.get("sessions") or [])),
        "expert_id": str(case.get("expert_id") or ""),
        "first_contact_at": _jst(case.get("first_contact_at")),
        "matched_at": _jst(case.get("matched_at")),
        "ended_at": _jst(case.get(ENDED_FIELD)),
    }
    for name, lead in case_leads(case).items():
        values[f"days_to_{name}"] = f"{lead[0] / SECONDS_PER_DAY:.2f}" if lead else ""
        values[f"business_days_to_{name}"] = str(lead[1]) if lead else ""
    return [_safe(values[column]) for column, _ in CSV_COLUMNS]


# -- the survey figures as CSV (counts only: no case, no answer, no comment) ----------

SURVEY_CSV_COLUMNS: tuple[tuple[str, str], ...] = (
    ("month", "受付月"),
    ("dimension", "区分"),
    ("id", "ID"),
    ("label", "名称"),
    ("invited", "送付数"),
    ("responses", "回答数"),
    ("response_rate", "回答率"),
    ("satisfied", "満足の回答数"),
    ("satisfaction_rate", "満足度"),
    ("progressed", "前進の回答数"),
    ("progress_rate", "前進率"),
    ("rating_average", "専門家の評価の平均"),
)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    return _safe(str(value))


def survey_csv_rows(month: str, figures: Mapping[str, Any]) -> list[list[str]]:
    """The header and one row per total, category and expert; then the follow-up."""
    rows = [[f"{title} ({column})" for column, title in SURVEY_CSV_COLUMNS]]
    total = {**figures, "id": "", "label": "全体"}
    groups = [("total", total)]
    groups += [("category", row) for row in figures["by_category"]]
    groups += [("expert", row) for row in figures["by_expert"]]
    for dimension, row in groups:
        values = {"month": month, "dimension": dimension, **row}
        rows.append([_cell(values.get(column)) for column, _ in SURVEY_CSV_COLUMNS])
    followup = figures["followup"]
    values = {
        "month": month,
        "dimension": "followup",
        "id": "",
        "label": "フォローアップ",
        "invited": followup["sent"],
        "responses": followup["answered"],
        "response_rate": followup["response_rate"],
        "progressed": followup["moved"],
        "progress_rate": followup["moved_rate"],
    }
    rows.append([_cell(values.get(column)) for column, _ in SURVEY_CSV_COLUMNS])
    return rows
