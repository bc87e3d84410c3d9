"""A plain install runs the built-in plugins: the project installed without extras (`pip install .`, as a user
installs it) into a fresh virtualenv, then a runbook that uses the built-in plugins that need no vendor
service, once each, against loopback services (an HTTP server, a SQLite database, a git repository, files,
a TCP port), run by that install's `golive`.

The suite's own environment has the test extras, which bring libraries of their own (greenlet came in that
way and hid that every `sql` plugin failed on a plain install); this test is the one that does not.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import threading
import venv
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
INSTALL_LIMIT = 900.0  # seconds `pip install .` may take (about 40 s with a warm cache)
RUN_LIMIT = 120.0  # seconds the runbook may take
# The built-in plugins the runbook below uses (vendor plugins -- PagerDuty, Statuspage, ServiceNow, Vault,
# AWS, LaunchDarkly, Unleash, flagd, OFREP, Prometheus, DNS, TLS -- need their services and are covered by
# their own loopback tests in the suite's environment).
USED = {
    "check": {"command", "http", "graphql", "sql", "file", "env", "git", "log", "tcp", "secret", "flag"},
    "action": {"command", "http", "sql", "flag", "wait"},
    "metric": {"command", "http-json", "log", "sql", "scrape"},
    "secret": {"env", "file"},
    "flag": {"json"},
}


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/health":
            self._send(200, b'{"status": "ok", "error_rate": 0.001}', "application/json")
        elif self.path == "/metrics":
            self._send(200, b"# TYPE demo_errors_total counter\ndemo_errors_total 3\n", "text/plain; version=0.0.4")
        else:
            self._send(404, b"{}", "application/json")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.path == "/graphql" and "query" in body:
            self._send(200, b'{"data": {"health": "ok"}}', "application/json")
        elif self.path == "/deploy":
            self._send(200, b'{"deployed": true}', "application/json")
        else:
            self._send(400, b'{"error": "bad request"}', "application/json")


@pytest.fixture(scope="module")
def plain_golive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`golive` from a fresh virtualenv with the project installed without extras."""
    where = tmp_path_factory.mktemp("plain-venv") / "venv"
    venv.EnvBuilder(with_pip=True).create(where)
    done = subprocess.run(
        [str(where / "bin" / "python"), "-m", "pip", "install", "-q", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=INSTALL_LIMIT,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    freeze = subprocess.run(
        [str(where / "bin" / "python"), "-m", "pip", "freeze"], capture_output=True, text=True, check=True
    ).stdout.lower()
    assert "pytest" not in freeze  # really without the test extras
    return where / "bin" / "golive"


@pytest.fixture
def loopback() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def _runbook(work: Path, port: int) -> str:
    base = f"http://127.0.0.1:{port}"
    db = f"sqlite:///{work / 'app.db'}"
    log = work / "app.log"
    return f"""\
golive: 1
name: every-builtin
secrets:
  api_token: {{provider: env, id: PLAIN_API_TOKEN}}
flags:
  provider: {{type: json, with: {{path: "{work / "flags.json"}"}}}}
  safe: {{new_checkout: false}}
triggers:
  - {{id: cmd, source: {{type: command, with: {{run: [echo, "1"]}}}}, when: value > 1000, interval: 1s, then: notify}}
  - {{id: json, source: {{type: http-json, with: {{url: "{base}/health", path: "$.error_rate"}}}}, when: value > 0.5, interval: 1s, then: notify}}
  - {{id: logs, source: {{type: log, with: {{path: "{log}", pattern: ERROR, window: 1h}}}}, when: value > 100, interval: 1s, then: notify}}
  - {{id: rows, source: {{type: sql, with: {{url: "{db}", query: "SELECT count(*) FROM orders"}}}}, when: value > 100, interval: 1s, then: notify}}
  - {{id: scraped, source: {{type: scrape, with: {{url: "{base}/metrics", metric: demo_errors_total}}}}, when: value > 100, interval: 1s, then: notify}}
phases:
  - id: checks
    steps:
      - {{id: c-command, kind: check, type: command, with: {{run: [echo, ok], expect: {{stdout: ok}}}}}}
      - {{id: c-http, kind: check, type: http, with: {{url: "{base}/health", expect: {{status: 200, json: {{"$.status": ok}}}}}}}}
      - {{id: c-graphql, kind: check, type: graphql, with: {{url: "{base}/graphql", query: "{{ health }}"}}}}
      - {{id: c-sql, kind: check, type: sql, with: {{url: "{db}", query: "SELECT count(*) FROM orders", expect: {{scalar: 2}}}}}}
      - {{id: c-file, kind: check, type: file, with: {{path: "{log}"}}}}
      - {{id: c-env, kind: check, type: env, with: {{name: PLAIN_STAGE, state: equals, value: prod}}}}
      - {{id: c-git, kind: check, type: git, with: {{repo: "{work / "repo"}", tag: v1.0.0}}}}
      - {{id: c-log, kind: check, type: log, with: {{path: "{log}", pattern: "Signature Verified", within: 1h}}}}
      - {{id: c-tcp, kind: check, type: tcp, with: {{host: 127.0.0.1, port: {port}}}}}
      - {{id: c-secret-env, kind: check, type: secret, with: {{provider: env, id: PLAIN_API_TOKEN}}}}
      - {{id: c-secret-file, kind: check, type: secret, with: {{provider: file, id: db_password, options: {{dir: "{work / "secrets"}"}}}}}}
  - id: actions
    steps:
      - {{id: a-command, kind: action, type: command, with: {{run: [touch, "{work / "deployed"}"]}}}}
      - {{id: a-http, kind: action, type: http, with: {{url: "{base}/deploy", method: POST, json_body: {{version: v2}}, bearer: "${{{{ secrets.api_token }}}}"}}}}
      - {{id: a-sql, kind: action, type: sql, with: {{url: "{db}", sql: "UPDATE orders SET state = 'sent'"}}}}
      - {{id: a-flag, kind: action, type: flag, with: {{flags: {{new_checkout: true}}}}}}
      - {{id: c-flag, kind: check, type: flag, needs: [a-flag], with: {{flag: new_checkout, is: true}}}}
      - {{id: a-wait, kind: action, type: wait, with: {{duration: 1s}}}}
  - id: watch
    steps:
      - {{id: observe, kind: observe, duration: 3s}}
"""


def test_a_plain_install_runs_every_builtin_plugin_that_needs_no_vendor_service(
    plain_golive: Path, loopback: int, tmp_path: Path
) -> None:
    """Every step of the runbook passes under the plain install: checks, actions, the flag provider, both
    local secret providers and five metric sources (read by the observe window's triggers)."""
    work = tmp_path
    with sqlite3.connect(work / "app.db") as conn:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, state TEXT)")
        conn.executemany("INSERT INTO orders (state) VALUES (?)", [("new",), ("new",)])
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    (work / "app.log").write_text(f"{now} INFO Signature Verified\n")
    (work / "flags.json").write_text('{"new_checkout": false}\n')
    (work / "secrets").mkdir()
    (work / "secrets" / "db_password").write_text("s3cret-value\n")
    repo = work / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "README").write_text("v1\n")
    subprocess.run([*git, "add", "README"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "v1"], check=True)
    subprocess.run([*git, "tag", "v1.0.0"], check=True)
    (work / "rb.yaml").write_text(_runbook(work, loopback))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOLIVE_")}
    env.update(NO_COLOR="1", PLAIN_API_TOKEN="tok-0123456789", PLAIN_STAGE="prod")
    db = str(work / "g.db")
    done = subprocess.run(
        [str(plain_golive), "run", "rb.yaml", "--no-prompt", "-q", "--db", db, "--run-id", "plain"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_LIMIT,
        check=False,
    )
    status = subprocess.run(
        [str(plain_golive), "status", "plain", "--json", "--db", db],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_LIMIT,
        check=False,
    )
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    bad = {
        s["id"]: (s["outcome"], s["summary"]) for ph in data["phases"] for s in ph["steps"] if s["outcome"] != "pass"
    }
    assert bad == {}, json.dumps(bad, indent=1) + done.stdout[-2000:] + done.stderr[-2000:]
    assert done.returncode == 0, done.stdout + done.stderr
    sampled = {t["id"] for t in data["triggers"] if t.get("status") == "ok"}
    assert sampled == {"cmd", "json", "logs", "rows", "scraped"}, data["triggers"]
    assert (work / "deployed").exists()
    assert json.loads((work / "flags.json").read_text())["new_checkout"] is True


def test_the_runbook_uses_the_plugins_it_says(tmp_path: Path) -> None:
    """The runbook above really uses each plugin listed in USED (and the list names registered plugins)."""
    from golive.plugins import registry
    from golive.spec import loader

    text = _runbook(tmp_path, 1)
    loaded = loader.load_text(text, str(tmp_path / "rb.yaml"), environ={})
    rb = loaded.runbook
    used: dict[str, set[str]] = {k: set() for k in USED}
    for _, s in rb.all_steps():
        if s.type:
            used[s.kind.value].add(s.type)
            if s.type == "secret":
                used["secret"].add(str(s.with_["provider"]))
    used["metric"] = {t.source.type for t in rb.triggers if t.source is not None}
    used["flag"] = {rb.flags.provider.type} if rb.flags else set()
    used = {k: v for k, v in used.items() if k in USED}
    assert used == USED
    reg = registry.default_registry()
    assert all(reg.get(kind, name) is not None for kind, names in USED.items() for name in names)  # type: ignore[arg-type]
