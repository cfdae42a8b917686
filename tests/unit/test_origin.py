"""The origin check (http/request.py): scheme, host and port against configured origins, nothing else."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.http.request import origin_allowed, origin_of

ALLOWED = ("https://www.pref.example.jp", "http://localhost:8001")
PUBLIC = "http://127.0.0.1:18000"


@pytest.mark.parametrize(
    "origin",
    [
        "http://127.0.0.1:18000",  # the API's own (PUBLIC_BASE_URL)
        "https://www.pref.example.jp",
        "https://www.pref.example.jp:443",  # the default port, written out
        "HTTPS://WWW.PREF.EXAMPLE.JP",  # scheme and host compare case-insensitively
        "http://localhost:8001",
    ],
)
def test_configured_and_own_origins_are_allowed(origin: str) -> None:
    assert origin_allowed(origin, ALLOWED, PUBLIC)


@pytest.mark.parametrize(
    "origin",
    [
        "evil://127.0.0.1:18000",  # another scheme on the API's host and port
        "https://127.0.0.1:18000",
        "http://127.0.0.1:18001",
        "http://127.0.0.1",
        "http://www.pref.example.jp",  # http where https is configured
        "https://www.pref.example.jp:8443",
        "https://www.pref.example.jp.evil.example",
        "https://evil.example",
        "null",
        "",
        "http://127.0.0.1:18000/form",  # an Origin has no path, query or user part
        "http://127.0.0.1:18000?x",
        "http://user@127.0.0.1:18000",
        "http://127.0.0.1:99999",  # not a port
        "http://[::1",
    ],
)
def test_other_schemes_hosts_ports_and_malformed_origins_are_refused(origin: str) -> None:
    assert not origin_allowed(origin, ALLOWED, PUBLIC)


def test_the_public_base_url_counts_by_its_origin_and_may_be_unset() -> None:
    assert origin_of("https://desk.example.jp/api") == ("https", "desk.example.jp", 443)
    assert origin_allowed("https://desk.example.jp", (), "https://desk.example.jp/api")
    assert not origin_allowed("http://desk.example.jp", (), "https://desk.example.jp/api")
    assert not origin_allowed("http://127.0.0.1:18000", (), "")
    assert origin_of("ftp://desk.example.jp") is None


@settings(derandomize=True, max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=60),
        st.builds(
            lambda scheme, host, rest: f"{scheme}://{host}{rest}",
            st.sampled_from(["http", "https", "evil", "HTTP", ""]),
            st.sampled_from(["127.0.0.1", "[::1", "[::1]", "desk.example.jp", "", "a@b"]),
            st.text(max_size=12),
        ),
    )
)
def test_any_header_value_is_allowed_only_when_it_is_a_trusted_origin(origin: str) -> None:
    """Never raises (a malformed header is a refusal, not a 500) and never widens the list."""
    if origin_allowed(origin, ALLOWED, PUBLIC):
        assert origin_of(origin, bare=True) in [origin_of(o) for o in (*ALLOWED, PUBLIC)]
