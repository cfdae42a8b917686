"""The Jinja2 environment shared by mail and pages (templates/, autoescaped HTML, strict names),
and the label lookup every template uses."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

import jinja2
import markupsafe

from chalicelib.core.case import STATUS_LABELS, Status
from chalicelib.core.deployment import Deployment, Label
from chalicelib.core.text import display_phone, ruby_html, ruby_plain
from chalicelib.core.timefmt import jst_display

_HERE = Path(__file__).resolve().parent
# The deployment package carries a copy in chalicelib/templates (see the
# Makefile's `package` target); a checkout reads the top-level folder.
TEMPLATE_DIRS = (_HERE / "templates", _HERE.parent / "templates")


def template_dir() -> Path:
    for path in TEMPLATE_DIRS:
        if path.is_dir():
            return path
    raise FileNotFoundError("templates/ is missing from the checkout or package")


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir())),
        # Every .html template escapes what it prints; text parts are plain.
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["jst"] = jst_display
    env.filters["phone"] = display_phone
    # やさしい日本語: readings marked [漢字|かんじ] as <ruby> (HTML) or 漢字（かんじ） (text).
    env.filters["ruby"] = lambda text: markupsafe.Markup(ruby_html(str(text)))
    env.filters["ruby_text"] = ruby_plain
    return env


def label_lookup(deployment: Deployment) -> Callable[..., str]:
    tables: dict[str, dict[str, Label]] = {
        "municipality": deployment.municipalities,
        "category": deployment.categories,
        "requester_type": deployment.requester_types,
        "support_type": deployment.support_types,
        "preferred_format": deployment.preferred_formats,
    }

    def label(kind: str, value: str, lang: str = "ja") -> str:
        if kind == "status":
            ja, en = STATUS_LABELS[Status(value)]
            return ja if lang == "ja" else en
        entry = tables[kind].get(value)
        if entry is None:
            return value
        return entry.ja if lang == "ja" else entry.en

    return label
