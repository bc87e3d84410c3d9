"""`--server URL` / GOLIVE_SERVER: a bearer token never crosses the network in clear.

Plain http is accepted only for a server on this machine; anything else must be https.
"""

from __future__ import annotations

import pytest

from golive import exceptions
from golive.cli import remote


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080", "http://[::1]:8080/", "http://localhost:8080", "https://golive.example.com/"],
)
def test_https_or_a_server_on_this_machine_is_accepted(url: str) -> None:
    assert remote._norm(url) == url.rstrip("/")


@pytest.mark.parametrize("url", ["http://golive.example.com", "http://10.0.0.5:8080", "http://127.0.0.1.example.com"])
def test_plain_http_to_another_machine_is_refused_with_the_fix(url: str) -> None:
    with pytest.raises(exceptions.UsageError, match="in clear; use https://"):
        remote._norm(url)


def test_a_url_without_a_scheme_is_refused() -> None:
    with pytest.raises(exceptions.UsageError, match="write the server's URL"):
        remote._norm("golive.example.com")
