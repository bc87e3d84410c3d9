"""File and log checks, and the log metric source, on real files."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from golive.plugins.checks.files import FileCheck, FileParams, LogCheck, LogParams
from golive.plugins.metrics.sources import LogMetric, LogMetricParams
from golive.results import Outcome
from golive.testing import FakeClock, make_ctx

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_file_check_passes_with_matching_sha256(tmp_path: Path) -> None:
    """An existing file with the expected digest passes."""
    f = tmp_path / "release.tar"
    f.write_bytes(b"artifact")
    p = FileParams(path="release.tar", sha256=hashlib.sha256(b"artifact").hexdigest())
    result = await FileCheck().run(make_ctx(p, workdir=tmp_path))
    assert result.outcome is Outcome.PASS, result.summary


async def test_file_check_fails_on_another_digest(tmp_path: Path) -> None:
    """Another digest fails with both prefixes."""
    (tmp_path / "a").write_bytes(b"x")
    p = FileParams(path="a", sha256="0" * 64)
    result = await FileCheck().run(make_ctx(p, workdir=tmp_path))
    assert result.outcome is Outcome.FAIL
    assert "expected 000000000000..." in result.summary


async def test_file_check_fails_when_older_than_max_age(tmp_path: Path) -> None:
    """A backup modified 26 h ago fails `max_age: 24h`."""
    f = tmp_path / "backup.dump"
    f.write_bytes(b"x")
    old = (NOW - timedelta(hours=26)).timestamp()
    os.utime(f, (old, old))
    p = FileParams(path="backup.dump", max_age="24h")
    result = await FileCheck().run(make_ctx(p, workdir=tmp_path, clock=FakeClock(NOW)))
    assert result.outcome is Outcome.FAIL
    assert "modified 26h ago, expected within 24h" in result.summary


async def test_file_check_missing_file_fails(tmp_path: Path) -> None:
    """A file that does not exist fails; `exists: false` passes for it."""
    missing = await FileCheck().run(make_ctx(FileParams(path="nope"), workdir=tmp_path))
    absent = await FileCheck().run(make_ctx(FileParams(path="nope", exists=False), workdir=tmp_path))
    assert missing.outcome is Outcome.FAIL
    assert "does not exist" in missing.summary
    assert absent.outcome is Outcome.PASS


def write_log(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n")


async def test_log_check_reports_last_success_age_hours(tmp_path: Path) -> None:
    """The last matching line 4.2 minutes ago passes `within: 8h` with last_success_age_hours=0.07."""
    log = tmp_path / "refresh.log"
    write_log(
        log,
        [
            f"{iso(NOW - timedelta(hours=9))} INFO shopify token refresh succeeded",
            f"{iso(NOW - timedelta(minutes=4, seconds=12))} INFO shopify token refresh succeeded",
            f"{iso(NOW - timedelta(minutes=1))} WARN unrelated line",
        ],
    )
    p = LogParams(path=str(log), pattern="token refresh succeeded", within="8h")
    result = await LogCheck().run(make_ctx(p, clock=FakeClock(NOW)))
    assert result.outcome is Outcome.PASS, result.summary
    assert result.output["last_success_age_hours"] == 0.07
    assert "last_success_age_hours=0.07" in result.summary
    (proof,) = result.evidence  # the proof a pre-flight keeps (shopify_token_refresh_log.json in seed 001)
    assert proof.name == "log.json"
    doc = json.loads(proof.content)
    assert doc["source"] == str(log)
    assert doc["pattern"] == "token refresh succeeded"
    assert doc["within_hours"] == 8
    assert doc["last_success_age_hours"] == 0.07
    assert doc["line"].endswith("INFO shopify token refresh succeeded")


async def test_log_check_fails_when_the_last_success_is_too_old(tmp_path: Path) -> None:
    """A last success 9 h ago fails `within: 8h`."""
    log = tmp_path / "refresh.log"
    write_log(log, [f"{iso(NOW - timedelta(hours=9))} INFO token refresh succeeded"])
    p = LogParams(path=str(log), pattern="token refresh succeeded", within="8h")
    result = await LogCheck().run(make_ctx(p, clock=FakeClock(NOW)))
    assert result.outcome is Outcome.FAIL
    assert "9 h ago, expected within 8h" in result.summary


async def test_log_check_no_matching_line_fails(tmp_path: Path) -> None:
    """No matching line at all fails (no evidence of success)."""
    log = tmp_path / "refresh.log"
    write_log(log, [f"{iso(NOW)} INFO started"])
    p = LogParams(path=str(log), pattern="token refresh succeeded", within="8h")
    result = await LogCheck().run(make_ctx(p, clock=FakeClock(NOW)))
    assert result.outcome is Outcome.FAIL
    assert "no line matches" in result.summary
    assert not result.evidence  # nothing found: no proof


async def test_log_check_custom_timestamp_format(tmp_path: Path) -> None:
    """A `timestamp_regex` with a `ts` group and a strptime format read other log styles."""
    log = tmp_path / "app.log"
    write_log(log, ["[01/Mar/2026:11:30:00] refresh ok"])
    p = LogParams(
        path=str(log),
        pattern="refresh ok",
        within="1h",
        timestamp_regex=r"\[(?P<ts>[^\]]+)\]",
        timestamp_format="%d/%b/%Y:%H:%M:%S",
    )
    result = await LogCheck().run(make_ctx(p, clock=FakeClock(NOW)))
    assert result.outcome is Outcome.PASS, result.summary
    assert result.output["last_success_age_hours"] == 0.5


async def test_log_check_line_without_timestamp_is_an_error(tmp_path: Path) -> None:
    """A matching line whose time cannot be read is an ERROR, not a pass."""
    log = tmp_path / "app.log"
    write_log(log, ["refresh ok (no time here)"])
    p = LogParams(path=str(log), pattern="refresh ok", within="1h")
    result = await LogCheck().run(make_ctx(p, clock=FakeClock(NOW)))
    assert result.outcome is Outcome.ERROR


async def test_log_check_reads_a_command(tmp_path: Path) -> None:
    """`command` instead of `path` reads the log from a program's stdout."""
    line = f"{iso(NOW - timedelta(minutes=30))} token refresh succeeded"
    p = LogParams(command=["echo", line], pattern="token refresh succeeded", within="8h")
    result = await LogCheck().run(make_ctx(p, clock=FakeClock(NOW), workdir=tmp_path))
    assert result.outcome is Outcome.PASS, result.summary
    assert result.output["last_success_age_hours"] == 0.5


async def test_log_check_missing_file_is_an_error(tmp_path: Path) -> None:
    """A log file that does not exist is an ERROR."""
    p = LogParams(path=str(tmp_path / "none.log"), pattern="x", within="1h")
    result = await LogCheck().run(make_ctx(p, clock=FakeClock(NOW)))
    assert result.outcome is Outcome.ERROR


async def test_log_check_finds_the_last_match_across_read_blocks(tmp_path: Path) -> None:
    """A large log (over several 64 KiB read blocks) still yields the very last match."""
    log = tmp_path / "big.log"
    filler = [f"{iso(NOW - timedelta(hours=2))} DEBUG " + "x" * 100 for _ in range(3000)]
    write_log(
        log,
        [
            f"{iso(NOW - timedelta(hours=3))} refresh ok",
            *filler,
            f"{iso(NOW - timedelta(hours=1))} refresh ok",
            *filler,
        ],
    )
    p = LogParams(path=str(log), pattern="refresh ok", within="8h")
    result = await LogCheck().run(make_ctx(p, clock=FakeClock(NOW)))
    assert result.output["last_success_age_hours"] == 1.0


async def test_log_metric_counts_matches_in_the_window(tmp_path: Path) -> None:
    """Two 429s in the last 5 minutes count 2; an older one is outside the window."""
    log = tmp_path / "app.log"
    write_log(
        log,
        [
            f"{iso(NOW - timedelta(minutes=20))} ERROR 429 from richpanel",
            f"{iso(NOW - timedelta(minutes=4))} ERROR 429 from richpanel",
            f"{iso(NOW - timedelta(minutes=3))} INFO ok",
            f"{iso(NOW - timedelta(minutes=1))} ERROR 429 from richpanel",
        ],
    )
    count = await LogMetric().read(
        make_ctx(LogMetricParams(path=str(log), pattern="429", window="5m"), clock=FakeClock(NOW))
    )
    rate = await LogMetric().read(
        make_ctx(LogMetricParams(path=str(log), pattern="429", window="5m", mode="rate"), clock=FakeClock(NOW))
    )
    assert count.status == "ok"
    assert count.value == 2.0
    assert rate.value == 0.4  # per minute


async def test_log_metric_silent_log_is_no_data(tmp_path: Path) -> None:
    """No line at all inside the window is no data, not 0."""
    log = tmp_path / "app.log"
    write_log(log, [f"{iso(NOW - timedelta(hours=1))} ERROR 429"])
    reading = await LogMetric().read(
        make_ctx(LogMetricParams(path=str(log), pattern="429", window="5m"), clock=FakeClock(NOW))
    )
    assert reading.status == "no_data"
