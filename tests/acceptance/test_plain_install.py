"""A plain install runs every built-in plugin: the project installed without extras (`pip install .`, as a
user installs it) into a fresh virtualenv, then one runbook that uses each built-in plugin at least once --
every check, action, secret provider, flag provider and metric source in the registry -- against loopback
services, run by that install's `golive`:

- an HTTP server (http, graphql, http-json, scrape, the generic http and Unleash flag APIs), an HTTPS server
  with its own certificate (tls), a DNS server (dns), a TCP port, files, a git repository;
- SQLite and PostgreSQL (sql checks, actions and metrics);
- a real Prometheus (prometheus check and metric source), moto's Secrets Manager (aws-secretsmanager);
- the vendor stand-ins of tests/integration/vendor_api.py, which check every request against the vendor's
  API description: LaunchDarkly and OFREP (flags), Vault KV v2 (the vault secret provider and vault-write),
  ServiceNow (change-record, change-close), Statuspage and PagerDuty Events v2;
- an SMTP server (aiosmtpd) for the comms channel.

The list of plugins comes from the registry, so a new built-in plugin that this runbook does not use fails
`test_the_runbook_uses_every_builtin_plugin`.

The suite's own environment has the test extras, which bring libraries of their own (greenlet came in that
way and hid that every `sql` plugin failed on a plain install); this test is the one that does not.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import subprocess
import venv
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP
from tests.integration.conftest import (
    LoopbackHTTPServer,
    LoopbackHTTPSServer,
    Reply,
    Request,
    make_cert,
    running_moto,
    running_prometheus,
    throwaway_database,
)
from tests.integration.loopback_dns import ZoneServer
from tests.integration.test_notify_transports import FROM, TO, Mailbox
from tests.integration.test_plugin_change import SN_PASSWORD, SN_USER, SYS_ID, ServiceNow, basic
from tests.integration.test_plugin_launchdarkly import LD_TOKEN, OFREP_TOKEN, LaunchDarkly
from tests.integration.test_plugin_statuspage_pagerduty import DB, PAGE, PD_KEY, SP_KEY, PagerDuty, Statuspage
from tests.integration.test_plugin_vault_write import VAULT_TOKEN, Kv2
from tests.integration.vendor_api import VendorApi, load

ROOT = Path(__file__).resolve().parents[2]
INSTALL_LIMIT = 900.0  # seconds `pip install .` may take (about 40 s with a warm cache)
RUN_LIMIT = 120.0  # seconds the runbook may take
UNLEASH_TOKEN = "unleash-admin-token-31f"
AWS_REGION = "us-east-2"
DNS_NAME = "db.plain.example.com"
DNS_ADDRESS = "10.0.0.5"
FLAGD = {
    "flags": {"outbound-enabled": {"state": "ENABLED", "variants": {"on": True, "off": False}, "defaultVariant": "on"}}
}


@dataclass
class Endpoints:
    """Where the loopback services listen (placeholders when the runbook is only loaded)."""

    http: str = "http://127.0.0.1:1"
    tcp_port: int = 1
    tls_port: int = 1
    ca_file: str = "/nonexistent/ca.pem"
    dns: str = "127.0.0.1:1"
    postgres: str = "postgresql+psycopg://postgres@127.0.0.1:1/none"
    prometheus: str = "http://127.0.0.1:1"
    moto: str = "http://127.0.0.1:1"
    launchdarkly: str = "http://127.0.0.1:1"
    ofrep: str = "http://127.0.0.1:1"
    vault: str = "http://127.0.0.1:1"
    servicenow: str = "http://127.0.0.1:1"
    statuspage: str = "http://127.0.0.1:1"
    pagerduty: str = "http://127.0.0.1:1"
    smtp_port: int = 1


def _runbook(work: Path, at: Endpoints) -> str:
    """The runbook, as JSON (which is YAML): every built-in plugin at least once."""
    base = at.http
    db = f"sqlite:///{work / 'app.db'}"
    log = str(work / "app.log")

    def check(sid: str, kind: str, with_: dict[str, Any], **kw: Any) -> dict[str, Any]:
        return {"id": sid, "kind": "check", "type": kind, "with": with_, **kw}

    def action(sid: str, kind: str, with_: dict[str, Any], **kw: Any) -> dict[str, Any]:
        return {"id": sid, "kind": "action", "type": kind, "with": with_, **kw}

    def flag_source(sid: str, kind: str, flag: str, value: Any, **with_: Any) -> dict[str, Any]:
        return check(sid, "flag", {"flag": flag, "is": value, "source": {"type": kind, "with": with_}})

    def trigger(tid: str, kind: str, when: str, **with_: Any) -> dict[str, Any]:
        return {"id": tid, "source": {"type": kind, "with": with_}, "when": when, "interval": "1s", "then": "notify"}

    doc: dict[str, Any] = {
        "golive": 1,
        "name": "every-builtin",
        "secrets": {
            "api_token": {"provider": "env", "id": "PLAIN_API_TOKEN"},
            "db_password": {"provider": "file", "id": "db_password", "options": {"dir": str(work / "secrets")}},
            "sn_password": {
                "provider": "vault",
                "id": "golive/servicenow",
                "key": "password",
                "options": {"url": at.vault},
            },
            "sp_key": {
                "provider": "aws-secretsmanager",
                "id": "golive/statuspage",
                "options": {"region": AWS_REGION, "endpoint_url": at.moto},
            },
            "ofrep_token": {"provider": "env", "id": "PLAIN_OFREP_TOKEN"},
        },
        "flags": {
            "provider": {"type": "json", "with": {"path": str(work / "flags.json")}},
            "safe": {"new_checkout": False},
        },
        "comms": {"channels": [{"id": "email", "url": f"mailto://127.0.0.1:{at.smtp_port}?from={FROM}&to={TO}"}]},
        "triggers": [
            trigger("cmd", "command", "value > 1000", run=["echo", "1"]),
            trigger("json", "http-json", "value > 0.5", url=f"{base}/health", path="$.error_rate"),
            trigger("logs", "log", "value > 100", path=log, pattern="ERROR", window="1h"),
            trigger("rows", "sql", "value > 100", url=db, query="SELECT count(*) FROM orders"),
            trigger("scraped", "scrape", "value > 100", url=f"{base}/metrics", metric="demo_errors_total"),
            trigger("prom", "prometheus", "value > 0.5", url=at.prometheus, query="golive_test_error_ratio"),
        ],
        "phases": [
            {
                "id": "checks",
                "steps": [
                    check("c-command", "command", {"run": ["echo", "ok"], "expect": {"stdout": "ok"}}),
                    check(
                        "c-http",
                        "http",
                        {"url": f"{base}/health", "expect": {"status": 200, "json": {"$.status": "ok"}}},
                    ),
                    check("c-graphql", "graphql", {"url": f"{base}/graphql", "query": "{ health }"}),
                    check("c-sql", "sql", {"url": db, "query": "SELECT count(*) FROM orders", "expect": {"scalar": 2}}),
                    check("c-sql-pg", "sql", {"url": at.postgres, "query": "SELECT 41 + 1", "expect": {"scalar": 42}}),
                    check("c-file", "file", {"path": log}),
                    check("c-env", "env", {"name": "PLAIN_STAGE", "state": "equals", "value": "prod"}),
                    check("c-git", "git", {"repo": str(work / "repo"), "tag": "v1.0.0"}),
                    check("c-log", "log", {"path": log, "pattern": "Signature Verified", "within": "1h"}),
                    check("c-tcp", "tcp", {"host": "127.0.0.1", "port": at.tcp_port}),
                    check(
                        "c-dns", "dns", {"name": DNS_NAME, "resolvers": {"loopback": at.dns}, "answers": [DNS_ADDRESS]}
                    ),
                    check("c-tls", "tls", {"host": "127.0.0.1", "port": at.tls_port, "ca_file": at.ca_file}),
                    check(
                        "c-prometheus",
                        "prometheus",
                        {"url": at.prometheus, "query": "golive_test_up", "expect": {"value": 1}},
                    ),
                    check(
                        "c-change",
                        "change-record",
                        {
                            "system": "servicenow",
                            "url": at.servicenow,
                            "record": "CHG0030001",
                            "username": SN_USER,
                            "password": "${{ secrets.sn_password }}",
                        },
                    ),
                    check("c-secret-env", "secret", {"provider": "env", "id": "PLAIN_API_TOKEN"}),
                    check(
                        "c-secret-file",
                        "secret",
                        {"provider": "file", "id": "db_password", "options": {"dir": str(work / "secrets")}},
                    ),
                    flag_source("c-flag-dotenv", "dotenv", "OUTBOUND_ENABLED", False, path=str(work / "flags.env")),
                    flag_source("c-flag-yaml", "yaml", "checkout.v2", True, path=str(work / "flags.yaml")),
                    flag_source("c-flag-flagd", "flagd", "outbound-enabled", True, path=str(work / "flags.flagd.json")),
                    flag_source("c-flag-http", "http", "outbound", True, get_url=f"{base}/api/flags/{{name}}"),
                    flag_source(
                        "c-flag-unleash", "unleash", "order-status-outbound", True, url=base, environment="production"
                    ),
                    flag_source(
                        "c-flag-launchdarkly",
                        "launchdarkly",
                        "orders.write_new_db",
                        False,
                        project="default",
                        environment="production",
                        url=at.launchdarkly,
                    ),
                    flag_source(
                        "c-flag-ofrep",
                        "ofrep",
                        "checkout.percent",
                        25,
                        url=at.ofrep,
                        bearer="${{ secrets.ofrep_token }}",
                        context={"targetingKey": "golive"},
                    ),
                ],
            },
            {
                "id": "actions",
                "steps": [
                    action("a-command", "command", {"run": ["touch", str(work / "deployed")]}),
                    action(
                        "a-http",
                        "http",
                        {
                            "url": f"{base}/deploy",
                            "method": "POST",
                            "json_body": {"version": "v2"},
                            "bearer": "${{ secrets.api_token }}",
                        },
                    ),
                    action("a-sql", "sql", {"url": db, "sql": "UPDATE orders SET state = 'sent'"}),
                    action("a-flag", "flag", {"flags": {"new_checkout": True}}),
                    check("c-flag", "flag", {"flag": "new_checkout", "is": True}, needs=["a-flag"]),
                    action("a-wait", "wait", {"duration": "1s"}),
                    action(
                        "a-vault-write",
                        "vault-write",
                        {"url": at.vault, "path": "app/prod", "data": {"DATABASE_URL": "${{ secrets.db_password }}"}},
                    ),
                    action(
                        "a-statuspage",
                        "statuspage",
                        {
                            "op": "create_incident",
                            "page_id": PAGE,
                            "name": "Plain install cutover",
                            "body": "Starting.",
                            "components": {DB: "under_maintenance"},
                            "impact": "maintenance",
                            "url": at.statuspage,
                            "api_key": "${{ secrets.sp_key }}",
                        },
                    ),
                    action(
                        "a-pagerduty",
                        "pagerduty",
                        {
                            "event_action": "trigger",
                            "summary": "Plain install cutover",
                            "dedup_key": "plain",
                            "url": at.pagerduty,
                        },
                    ),
                    action(
                        "a-change-close",
                        "change-close",
                        {
                            "system": "servicenow",
                            "url": at.servicenow,
                            "record": "CHG0030001",
                            "username": SN_USER,
                            "password": "${{ secrets.sn_password }}",
                            "outcome": "PASSED",
                            "successful": True,
                        },
                    ),
                ],
            },
            {"id": "watch", "steps": [{"id": "observe", "kind": "observe", "duration": "3s"}]},
        ],
    }
    return json.dumps(doc, indent=1) + "\n"


def _used(text: str, path: Path) -> set[tuple[str, str]]:
    """Every (kind, name) of plugin the runbook uses."""
    from golive.spec import loader

    rb = loader.load_text(text, str(path), environ={}).runbook
    used: set[tuple[str, str]] = set()
    for _, s in rb.all_steps():
        if not s.type:
            continue
        used.add((s.kind.value, s.type))
        if s.type == "secret":
            used.add(("secret", str(s.with_["provider"])))
        if s.type == "flag" and isinstance(s.with_.get("source"), dict):
            used.add(("flag", str(s.with_["source"]["type"])))
    used |= {("secret", ref.provider) for ref in rb.secrets.values()}
    used |= {("metric", t.source.type) for t in rb.triggers if t.source is not None}
    if rb.flags is not None:
        used.add(("flag", rb.flags.provider.type))
    return used


def _builtins() -> set[tuple[str, str]]:
    from golive.plugins import registry

    reg = registry.Registry()
    reg.load_builtins()  # built-ins only: an installed third-party plugin is not this test's business
    return {(p.kind, p.name) for p in reg.all()}


@pytest.fixture(scope="module")
def plain_golive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`golive` from a fresh virtualenv with the project installed without extras."""
    where = tmp_path_factory.mktemp("plain-venv") / "venv"
    venv.EnvBuilder(with_pip=True).create(where)
    done = subprocess.run(
        # --no-compile: the run compiles what it imports; byte-compiling every installed file costs seconds
        [str(where / "bin" / "python"), "-m", "pip", "install", "-q", "--no-compile", str(ROOT)],
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


@dataclass
class World:
    at: Endpoints
    http: LoopbackHTTPServer
    dns: ZoneServer
    vendors: dict[str, VendorApi]
    servicenow: ServiceNow
    statuspage: Statuspage
    pagerduty: PagerDuty
    kv: Kv2
    mailbox: Mailbox
    unleash: dict[str, bool]


def _http_routes(server: LoopbackHTTPServer) -> dict[str, bool]:
    """The app's endpoints, a generic flag API and Unleash's admin API for one feature."""
    server.route("/health", json={"status": "ok", "error_rate": 0.001})
    server.route(
        "/metrics",
        body="# TYPE demo_errors_total counter\ndemo_errors_total 3\n",
        headers={"Content-Type": "text/plain; version=0.0.4"},
    )

    def graphql(req: Request) -> Reply:
        ok = "query" in (req.json() if req.body else {})
        return Reply.of_json({"data": {"health": "ok"}} if ok else {"errors": ["no query"]}, status=200 if ok else 400)

    server.handle("/graphql", graphql, method="POST")
    server.route("/deploy", method="POST", json={"deployed": True})
    server.route("/api/flags/outbound", method="GET", json={"name": "outbound", "value": True})
    envs = {"production": True}
    feature = "/api/admin/projects/default/features/order-status-outbound"

    def get_feature(req: Request) -> Reply:
        if req.headers.get("authorization") != UNLEASH_TOKEN:
            return Reply.of_json({"message": "unauthorized"}, status=401)
        return Reply.of_json(
            {"name": "order-status-outbound", "environments": [{"name": n, "enabled": on} for n, on in envs.items()]}
        )

    server.handle(feature, get_feature, method="GET")
    return envs


@contextlib.asynccontextmanager
async def loopback_world(work: Path) -> AsyncIterator[World]:
    """Every service the runbook talks to, on loopback; everything started is closed, even when a later
    start fails."""
    async with contextlib.AsyncExitStack() as stack:
        http = LoopbackHTTPServer()
        stack.callback(http.close)
        unleash = _http_routes(http)
        tls = LoopbackHTTPSServer(make_cert(work / "tls"))
        stack.callback(tls.close)
        tls.route("/", body="ok")
        dns = await ZoneServer({(DNS_NAME, "A"): [DNS_ADDRESS]}).start()
        stack.callback(dns.close)
        pg = stack.enter_context(throwaway_database("golive_plain"))
        prom = stack.enter_context(running_prometheus(work / "prometheus"))
        moto = stack.enter_context(running_moto())

        ld_state, sn, sp, pd, kv = LaunchDarkly(), ServiceNow(), Statuspage(), PagerDuty(), Kv2()
        sn.approve()
        now = datetime.now(UTC)
        sn.record.update(
            start_date=(now - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S"),
            end_date=(now + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S"),
        )
        kv.versions["secret/golive/servicenow"] = [{"password": SN_PASSWORD}]

        def ofrep_evaluate(call: Any) -> tuple[int, Any]:
            if call.params["key"] != "checkout.percent":
                return 404, {"key": call.params["key"], "errorCode": "FLAG_NOT_FOUND"}
            return 200, {"key": "checkout.percent", "value": 25, "reason": "STATIC", "variant": "25"}

        vendors = {
            "launchdarkly": VendorApi(
                load("launchdarkly.yaml"),
                {"getFeatureFlag": ld_state.get, "patchFeatureFlag": ld_state.patch},
                credentials={"ApiKey": {LD_TOKEN}},
            ),
            "ofrep": VendorApi(
                load("ofrep.yaml"), {"evaluateFlag": ofrep_evaluate}, credentials={"BearerAuth": {OFREP_TOKEN}}
            ),
            "vault": VendorApi(
                load("vault-kv2.yaml"),
                {"kvV2Read": kv.read, "kvV2Write": kv.write, "kvV2Patch": kv.patch},
                credentials={"VaultToken": {VAULT_TOKEN}},
                unauthorized=(403, {"errors": ["permission denied"]}),
            ),
            "servicenow": VendorApi(
                load("servicenow-table.yaml"),
                {"listChangeRequests": sn.list, "getChangeRequest": sn.get, "updateChangeRequest": sn.patch},
                credentials={"basicAuth": {basic(SN_USER, SN_PASSWORD)}},
            ),
            "statuspage": VendorApi(
                load("statuspage.yaml"),
                {
                    "postPagesPageIdIncidents": sp.create,
                    "getPagesPageIdIncidentsIncidentId": sp.get,
                    "patchPagesPageIdIncidentsIncidentId": sp.update,
                },
                credentials={"api_key": {f"OAuth {SP_KEY}"}},
            ),
            "pagerduty": VendorApi(load("pagerduty-events.yaml"), {"sendAlertEvent": pd.enqueue}),
        }
        for api in vendors.values():
            await api.start()
            stack.push_async_callback(api.close)

        mailbox = Mailbox()
        loop = asyncio.get_running_loop()
        smtp = await loop.create_server(lambda: SMTP(mailbox, hostname="golive-plain"), "127.0.0.1", 0)

        async def close_smtp() -> None:
            smtp.close()
            await smtp.wait_closed()

        stack.push_async_callback(close_smtp)

        import boto3  # a golive dependency: the test's own client puts the secret into moto

        boto3.client(
            "secretsmanager",
            endpoint_url=moto.endpoint_url,
            region_name=AWS_REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        ).create_secret(Name="golive/statuspage", SecretString=SP_KEY)

        at = Endpoints(
            http=http.url("").rstrip("/"),
            tcp_port=http.port,
            tls_port=tls.port,
            ca_file=tls.ca_file,
            dns=dns.address,
            postgres=pg.replace("postgresql://", "postgresql+psycopg://", 1),
            prometheus=prom.url,
            moto=moto.endpoint_url,
            launchdarkly=vendors["launchdarkly"].url(),
            ofrep=vendors["ofrep"].url(),
            vault=vendors["vault"].url(),
            servicenow=vendors["servicenow"].url(),
            statuspage=vendors["statuspage"].url(),
            pagerduty=vendors["pagerduty"].url(),
            smtp_port=int(smtp.sockets[0].getsockname()[1]),
        )
        yield World(at, http, dns, vendors, sn, sp, pd, kv, mailbox, unleash)


def _files(work: Path) -> None:
    with sqlite3.connect(work / "app.db") as conn:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, state TEXT)")
        conn.executemany("INSERT INTO orders (state) VALUES (?)", [("new",), ("new",)])
    conn.close()
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    (work / "app.log").write_text(f"{now} INFO Signature Verified\n")
    (work / "flags.json").write_text('{"new_checkout": false}\n')
    (work / "flags.env").write_text("OUTBOUND_ENABLED=false\n")
    (work / "flags.yaml").write_text("checkout:\n  v2: true\n")
    (work / "flags.flagd.json").write_text(json.dumps(FLAGD))
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


def _env(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOLIVE_", "AWS_"))}
    env.update(
        NO_COLOR="1",
        PLAIN_API_TOKEN="tok-0123456789",
        PLAIN_STAGE="prod",
        PLAIN_OFREP_TOKEN=OFREP_TOKEN,
        LD_API_KEY=LD_TOKEN,
        UNLEASH_TOKEN=UNLEASH_TOKEN,
        VAULT_TOKEN=VAULT_TOKEN,
        PAGERDUTY_ROUTING_KEY=PD_KEY,
        # moto's Secrets Manager only: fake credentials, no shared config or profile
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=AWS_REGION,
        AWS_CONFIG_FILE=str(work / "aws-config-none"),
        AWS_SHARED_CREDENTIALS_FILE=str(work / "aws-credentials-none"),
    )
    return env


async def _golive(golive: Path, *args: str, cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        str(golive), *args, cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), RUN_LIMIT)
    except TimeoutError:
        proc.kill()
        await proc.communicate()
        raise
    return int(proc.returncode or 0), out.decode(), err.decode()


async def test_a_plain_install_runs_every_builtin_plugin(plain_golive: Path, tmp_path: Path) -> None:
    """Every step of the runbook passes under the plain install (each check, action, flag provider and secret
    provider did its work) and every trigger's metric source gave a value; the vendors saw well-formed
    requests only, and the comms channel's mail arrived."""
    work = tmp_path
    _files(work)
    env = _env(work)
    db = str(work / "g.db")
    async with loopback_world(work) as world:
        (work / "rb.yaml").write_text(_runbook(work, world.at))
        code, out, err = await _golive(
            plain_golive, "run", "rb.yaml", "--no-prompt", "-q", "--db", db, "--run-id", "plain", cwd=work, env=env
        )
        status_code, status_out, status_err = await _golive(
            plain_golive, "status", "plain", "--json", "--db", db, cwd=work, env=env
        )
        rejected = {name: api.rejected for name, api in world.vendors.items() if api.rejected}
        mails = len(world.mailbox.envelopes)
    assert status_code == 0, status_err
    data = json.loads(status_out)
    bad = {
        s["id"]: (s["outcome"], s["summary"]) for ph in data["phases"] for s in ph["steps"] if s["outcome"] != "pass"
    }
    assert bad == {}, json.dumps(bad, indent=1) + out[-2000:] + err[-2000:]
    assert code == 0, out + err
    sampled = {t["id"] for t in data["triggers"] if t.get("status") == "ok"}
    assert sampled == {"cmd", "json", "logs", "rows", "scraped", "prom"}, data["triggers"]
    assert rejected == {}
    assert (work / "deployed").exists()
    assert json.loads((work / "flags.json").read_text())["new_checkout"] is True
    assert world.kv.versions["secret/app/prod"][-1]["DATABASE_URL"] == "s3cret-value"
    assert [i["name"] for i in world.statuspage.incidents.values()] == ["Plain install cutover"]
    assert world.pagerduty.alerts == {"plain": "triggered"}
    assert world.servicenow.record.get("close_code") == "successful"
    assert world.servicenow.record["sys_id"] == SYS_ID
    assert (DNS_NAME, "A") in world.dns.queries
    assert mails >= 1


def test_the_runbook_uses_every_builtin_plugin(tmp_path: Path) -> None:
    """The runbook uses each plugin the registry has built in: a new built-in plugin fails this test until
    the runbook above uses it."""
    used = _used(_runbook(tmp_path, Endpoints()), tmp_path / "rb.yaml")
    builtins = _builtins()
    assert len(builtins) >= 40
    assert builtins - used == set(), "built-in plugins the plain-install runbook does not use"
    assert used - builtins == set(), "the runbook names plugins that are not built in"
