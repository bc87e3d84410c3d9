"""The demo service on loopback: endpoints, flags reread from their file, the fault switch, metrics; the throwaway
Prometheus of ``golive demo --prometheus``; and the two demo runbooks kept identical outside their triggers."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from golive import exceptions
from golive.demo import prometheus as demo_prometheus
from golive.demo import run as demo_run
from golive.demo.service import DEFAULT_FLAGS, DemoService
from golive.plugins.metrics.scrape import parse_exposition
from golive.spec import loader

REQUEST_TIMEOUT = 5.0  # seconds for one request to the demo service


def call(url: str, method: str = "GET", body: dict[str, Any] | None = None) -> tuple[int, Any]:
    """(status, parsed JSON or text) of one request; HTTP errors are answers, not exceptions."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=REQUEST_TIMEOUT) as resp:
            status, raw, ctype = resp.status, resp.read(), resp.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        status, raw, ctype = exc.code, exc.read(), exc.headers.get("Content-Type", "")
    return status, (json.loads(raw) if "json" in ctype else raw.decode())


def metrics(svc: DemoService) -> dict[tuple[str, str], float]:
    """{(sample name, route): value} from /metrics, read with golive's own exposition parser."""
    status, text = call(svc.url + "/metrics")
    assert status == 200
    return {(name, labels.get("route", "")): value for name, labels, value in parse_exposition(text)}


@pytest.fixture
def flags_file(tmp_path: Path) -> Path:
    return tmp_path / "flags.json"


@pytest.fixture
def svc(flags_file: Path) -> Iterator[DemoService]:
    with DemoService(flags_file) as service:
        yield service


def set_flags(path: Path, **values: Any) -> None:
    path.write_text(json.dumps({**DEFAULT_FLAGS, **values}), encoding="utf-8")


# --- endpoints -------------------------------------------------------------------------------------------


def test_health_answers_ok_with_the_deployed_version(svc: DemoService) -> None:
    """GET /health is 200 {"status": "ok"} and names the version serving (v1 at start)."""
    assert call(svc.url + "/health") == (200, {"status": "ok", "version": "v1"})


def test_service_listens_on_a_free_loopback_port(svc: DemoService) -> None:
    """The service binds 127.0.0.1 on a port the OS chose, never a fixed one."""
    parts = urllib.parse.urlsplit(svc.url)
    assert parts.hostname == "127.0.0.1"
    assert parts.port not in (None, 0, 8080)


def test_deploy_serves_the_new_version_and_revert_goes_back(svc: DemoService) -> None:
    """POST /admin/deploy switches /version; POST /admin/revert restores the previous one."""
    assert call(svc.url + "/admin/deploy", "POST", {"version": "v2"}) == (200, {"deployed": "v2", "previous": "v1"})
    assert call(svc.url + "/version") == (200, {"version": "v2"})
    assert call(svc.url + "/admin/revert", "POST", {}) == (200, {"version": "v1"})
    assert call(svc.url + "/version") == (200, {"version": "v1"})


def test_revert_without_a_deploy_is_a_conflict(svc: DemoService) -> None:
    """Nothing to revert to answers 409 (the demo runbook's rollback accepts it), not a silent 200."""
    assert call(svc.url + "/admin/revert", "POST", {})[0] == 409


def test_deploy_without_a_version_is_refused(svc: DemoService) -> None:
    """A deploy request with no version is 400 and changes nothing."""
    assert call(svc.url + "/admin/deploy", "POST", {})[0] == 400
    assert call(svc.url + "/version") == (200, {"version": "v1"})


def test_unknown_paths_are_not_found(svc: DemoService) -> None:
    """An unknown path answers 404 for GET and POST."""
    assert call(svc.url + "/nope")[0] == 404
    assert call(svc.url + "/admin/nope", "POST", {})[0] == 404


# --- flags ------------------------------------------------------------------------------------------------


def test_service_starts_with_the_safe_flags_written_to_its_file(svc: DemoService, flags_file: Path) -> None:
    """A missing flags file is created with the safe values, and /flags shows them."""
    assert json.loads(flags_file.read_text()) == DEFAULT_FLAGS
    assert call(svc.url + "/flags") == (200, DEFAULT_FLAGS)
    assert DEFAULT_FLAGS == {"automation_enabled": False, "safe_mode": True, "outbound_enabled": False}


def test_flags_are_read_from_the_file_on_every_request(svc: DemoService, flags_file: Path) -> None:
    """Changing the file (as golive's json flag provider does) changes what the service sees at once."""
    set_flags(flags_file, automation_enabled=True, safe_mode=False)
    assert call(svc.url + "/flags")[1]["automation_enabled"] is True
    assert call(svc.url + "/api/orders") == (200, {"orders": 3, "automation": True})
    set_flags(flags_file)
    assert call(svc.url + "/flags") == (200, DEFAULT_FLAGS)
    assert call(svc.url + "/api/orders") == (200, {"orders": 3, "automation": False})


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", ""])
def test_an_unreadable_flags_file_means_the_safe_values(svc: DemoService, flags_file: Path, content: str) -> None:
    """A broken flags file makes the service fail safe (automation off, safe mode on), never crash."""
    flags_file.write_text(content, encoding="utf-8")
    assert call(svc.url + "/flags") == (200, DEFAULT_FLAGS)


def test_a_missing_flags_file_means_the_safe_values(svc: DemoService, flags_file: Path) -> None:
    """With the file gone the service reads the safe values."""
    flags_file.unlink()
    assert call(svc.url + "/flags") == (200, DEFAULT_FLAGS)


# --- faults -----------------------------------------------------------------------------------------------


def test_canary_passes_without_a_fault(svc: DemoService) -> None:
    """GET /canary settles one order: 200 with ok=true and ledger=settled."""
    status, body = call(svc.url + "/canary")
    assert status == 200
    assert body["ok"] is True
    assert body["ledger"] == "settled"


def test_fault_switch_makes_the_canary_fail_and_back(svc: DemoService) -> None:
    """POST /admin/fault {"mode": "canary"} makes /canary answer 500; "none" heals it."""
    assert call(svc.url + "/admin/fault", "POST", {"mode": "canary"}) == (200, {"fault": "canary"})
    status, body = call(svc.url + "/canary")
    assert status == 500
    assert body["ok"] is False
    assert call(svc.url + "/admin/fault", "POST", {"mode": "none"}) == (200, {"fault": "none"})
    assert call(svc.url + "/canary")[0] == 200


def test_fault_switch_refuses_an_unknown_mode(svc: DemoService) -> None:
    """An unknown fault mode is 400 and leaves the service healthy."""
    assert call(svc.url + "/admin/fault", "POST", {"mode": "meltdown"})[0] == 400
    assert call(svc.url + "/canary")[0] == 200


def test_observe_fault_fails_orders_only_once_automation_is_on(svc: DemoService, flags_file: Path) -> None:
    """Under the observe fault, orders pass with the safe flags and fail once automation is enabled:
    the failure that the observation window must catch, and that restoring the flags stops."""
    call(svc.url + "/admin/fault", "POST", {"mode": "observe"})
    assert call(svc.url + "/api/orders")[0] == 200
    set_flags(flags_file, automation_enabled=True, safe_mode=False)
    assert call(svc.url + "/api/orders")[0] == 500
    set_flags(flags_file)
    assert call(svc.url + "/api/orders")[0] == 200


def test_service_refuses_an_unknown_fault_at_start(flags_file: Path) -> None:
    """DemoService(fault=...) with an unknown mode raises instead of starting a healthy service."""
    with pytest.raises(ValueError, match="fault must be one of"):
        DemoService(flags_file, fault="meltdown")


def test_fault_given_at_start_is_in_force(flags_file: Path) -> None:
    """DemoService(fault="canary") fails the canary from the first request."""
    with DemoService(flags_file, fault="canary") as service:
        assert call(service.url + "/canary")[0] == 500


# --- metrics ----------------------------------------------------------------------------------------------


def test_metrics_export_every_route_from_zero(svc: DemoService) -> None:
    """Before any traffic, requests and errors of each route are exported as 0 (not missing), so a rate or a
    ratio has a series from the start."""
    m = metrics(svc)
    for route in ("orders", "canary"):
        assert m[("demo_http_requests_total", route)] == 0
        assert m[("demo_http_errors_total", route)] == 0


def test_metrics_are_prometheus_text_with_types(svc: DemoService) -> None:
    """/metrics is the Prometheus text format (content type 0.0.4) with TYPE counter lines."""
    with urllib.request.urlopen(svc.url + "/metrics", timeout=REQUEST_TIMEOUT) as resp:
        ctype, text = resp.headers["Content-Type"], resp.read().decode()
    assert ctype.startswith("text/plain; version=0.0.4")
    assert "# TYPE demo_http_requests_total counter" in text
    assert "# TYPE demo_http_errors_total counter" in text


def test_metrics_count_requests_and_errors_by_route(svc: DemoService, flags_file: Path) -> None:
    """Each /api/orders and /canary request adds to its route's request counter; each failure to its errors."""
    for _ in range(3):
        call(svc.url + "/api/orders")
    call(svc.url + "/canary")
    call(svc.url + "/admin/fault", "POST", {"mode": "observe"})
    set_flags(flags_file, automation_enabled=True, safe_mode=False)
    for _ in range(2):
        call(svc.url + "/api/orders")
    m = metrics(svc)
    assert m[("demo_http_requests_total", "orders")] == 5
    assert m[("demo_http_errors_total", "orders")] == 2
    assert m[("demo_http_requests_total", "canary")] == 1
    assert m[("demo_http_errors_total", "canary")] == 0


def test_health_and_metrics_are_not_counted_as_traffic(svc: DemoService) -> None:
    """Probes (/health, /metrics, /flags) do not move the traffic counters the triggers read."""
    for path in ("/health", "/metrics", "/flags", "/version"):
        call(svc.url + path)
    m = metrics(svc)
    assert sum(v for (name, _), v in m.items() if name == "demo_http_requests_total") == 0


# --- Prometheus (golive demo --prometheus) -----------------------------------------------------------------


def _query(url: str, promql: str) -> list[dict[str, Any]]:
    qs = urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(f"{url}/api/v1/query?{qs}", timeout=REQUEST_TIMEOUT) as resp:
        result: list[dict[str, Any]] = json.loads(resp.read())["data"]["result"]
        return result


@pytest.mark.prometheus
def test_local_prometheus_scrapes_the_service_and_is_gone_after(svc: DemoService, tmp_path: Path) -> None:
    """LocalPrometheus is ready only once it has scraped the service; stopping it ends the process, removes its
    data directory and keeps the log where asked."""
    if demo_prometheus.find_binary() is None:
        pytest.skip("the prometheus binary is not installed (scripts/setup installs it)")
    log = tmp_path / "prometheus.log"
    prom = demo_prometheus.LocalPrometheus(svc.url.removeprefix("http://"), log_path=log)
    with prom:
        proc, data_dir = prom._proc, prom._tmp.name if prom._tmp else ""
        assert urllib.parse.urlsplit(prom.url).hostname == "127.0.0.1"
        up = _query(prom.url, f'up{{job="{demo_prometheus.JOB}"}}')
        assert [float(r["value"][1]) for r in up] == [1.0]
        assert _query(prom.url, f'demo_http_requests_total{{job="{demo_prometheus.JOB}", route="orders"}}')
    assert proc is not None
    assert proc.poll() is not None
    assert not Path(data_dir).exists()
    assert log.stat().st_size > 0


def test_local_prometheus_without_the_binary_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no prometheus on PATH, asking for it is a UsageError that names the fix, not a crash."""
    monkeypatch.setattr(demo_prometheus, "find_binary", lambda: None)
    with pytest.raises(exceptions.UsageError, match="without --prometheus"):
        demo_prometheus.LocalPrometheus("127.0.0.1:1")


# --- the demo runbooks -------------------------------------------------------------------------------------


def _dump(path: Path) -> dict[str, Any]:
    dumped: dict[str, Any] = loader.load(path).runbook.model_dump(mode="json", by_alias=True)
    return dumped


def test_prometheus_runbook_differs_from_the_demo_runbook_only_where_it_says() -> None:
    """examples/demo-cutover-prometheus.yaml is demo-cutover.yaml except its name and title, the
    prometheus_url var, one pre-flight check and the triggers (which read Prometheus)."""
    base = _dump(demo_run.find_runbook(demo_run.RUNBOOK))
    prom = _dump(demo_run.find_runbook(demo_run.PROMETHEUS_RUNBOOK))
    assert prom["name"] == "demo-cutover-prometheus"
    assert set(prom["vars"]) - set(base["vars"]) == {"prometheus_url"}
    prom_preflight = prom["phases"][0]["steps"]
    assert [s["id"] for s in prom_preflight if s["id"] not in {s["id"] for s in base["phases"][0]["steps"]}] == [
        "prometheus_scraping"
    ]
    assert [t["id"] for t in prom["triggers"]] == [t["id"] for t in base["triggers"]]
    assert {t["source"]["type"] for t in prom["triggers"]} == {"prometheus"}
    assert {t["source"]["type"] for t in base["triggers"]} == {"scrape"}
    for key in ("when", "interval", "for", "no_data", "then", "severity"):
        assert [t[key] for t in prom["triggers"]] == [t[key] for t in base["triggers"]], key
    prom["phases"][0]["steps"] = [s for s in prom_preflight if s["id"] != "prometheus_scraping"]
    prom["vars"].pop("prometheus_url")
    for key in ("name", "title", "triggers"):
        prom.pop(key)
        base.pop(key)
    assert prom == base
