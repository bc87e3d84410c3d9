"""The access log of `golive serve` never carries a credential that rides in a URL: SSE tickets and approval
link tokens are masked in the request line uvicorn logs."""

from __future__ import annotations

import logging

from golive.cli import server_cmds


def _logged(path: str) -> str:
    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d', (
        "127.0.0.1:5000", "GET", path, "1.1", 200), None)  # fmt: skip
    assert server_cmds._RedactTickets().filter(record)
    return record.getMessage()


def test_sse_tickets_and_approval_links_are_masked_in_the_access_log() -> None:
    line = _logged("/api/v1/runs/r1/events?ticket=eyJyIjoi.c2ln&after=3")
    assert "eyJyIjoi" not in line
    assert "ticket=***&after=3" in line
    line = _logged("/runs/r1?link=bGluay10b2tlbg.sig")
    assert "bGluay10b2tlbg" not in line
    assert "link=***" in line
    assert _logged("/runs/r1?after=3").endswith('"GET /runs/r1?after=3 HTTP/1.1" 200')
