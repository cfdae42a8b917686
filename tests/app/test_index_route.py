"""GET / (the API root a newcomer opens first) forwards to the consultation form."""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

import pytest


@pytest.mark.parametrize(
    ("query", "lang"), [("", "ja"), ("?lang=en", "en"), ("?lang=easy", "easy"), ("?lang=xx", "ja")]
)
def test_the_root_forwards_to_the_input_page_in_the_asked_language(
    client: Any, query: str, lang: str
) -> None:
    from chalicelib.intake.i18n import LANGUAGES

    response = client.http.get(f"/{query}")

    expected = lang if lang in LANGUAGES else "ja"
    assert response.status_code == 302
    assert response.headers["Location"] == f"form/input?lang={expected}"


def test_the_forward_stays_under_a_stage_prefix_and_reaches_the_form(client: Any) -> None:
    location = client.http.get("/").headers["Location"]

    # Relative: under API Gateway's stage path the browser stays under it.
    assert urljoin("https://api.example.jp/prod/", location) == (
        "https://api.example.jp/prod/form/input?lang=ja"
    )
    page = client.http.get(urljoin("/", location))
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert 'name="name"' in page.body.decode("utf-8")
