"""Approval links on a live loopback server: a pending decision and a manual step send, in their messages, one
signed single-use link per person; the link opens the act only for that person once they are signed in, never
acts by itself, and is refused when used twice, opened by someone else, forged, or opened after its deadline."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from golive.engine import acts, links
from golive.engine.state import RunStatus
from golive.server import config as config_mod
from golive.server.testing import LiveServer
from golive.spec import loader
from golive.store import sqlite
from golive.testing import start_engine

from .conftest import LoopbackHTTPServer
from .test_notify_transports import FROM, MM_TOKEN, TO, Mailbox, smtp_server  # noqa: F401 - the fixture

WAIT = 20.0  # seconds a run may take to reach the state a test needs
SECRET = "approval-link-secret-0123456789abcdef"
TOKENS: dict[str, tuple[str, str]] = {  # user -> (token, server role)
    "admin": ("tok-admin-0123456789abcdef", "admin"),
    "alice": ("tok-alice-0123456789abcdef", "ic"),
    "carol": ("tok-carol-0123456789abcdef", "cab"),
    "dave": ("tok-dave-0123456789abcdefgh", "sre"),
    "bob": ("tok-bob-0123456789abcdefghi", "ops"),
}
ROLES = {"ic": "alice", "cab": "carol", "sre": "dave", "deployer": "dave", "ops": "bob"}

RUNBOOK = """\
golive: 1
name: links
title: Linked cutover
roles:
  ic: {title: Incident Commander, may: [decide]}
  cab: {title: Change board}
  sre: {title: SRE}
  deployer: {title: Deployer}
  ops: {title: Operations}
phases:
  - id: cutover
    steps:
      - id: drain
        kind: manual
        role: ops
        instructions: Drain the queue.
      - id: go
        kind: decision
        role: ic
        quorum: {approvals: 2, of: [ic, cab, sre], not: [deployer]}
        deadline: DEADLINE
        default: no-go
"""
LINK = re.compile(r"(\w+): (https?://\S+)")


class Api:
    def __init__(self, base: str) -> None:
        self.base = base
        self.http = httpx.Client(base_url=base, timeout=10.0)

    def post(self, path: str, body: Any, who: str) -> httpx.Response:
        return self.http.post(path, json=body, headers={"Authorization": f"Bearer {TOKENS[who][0]}"})

    def get(self, path: str, who: str = "admin") -> httpx.Response:
        return self.http.get(path, headers={"Authorization": f"Bearer {TOKENS[who][0]}"})

    def start(self, runbook: str) -> str:
        r = self.post("/api/v1/runs", {"runbook": runbook, "mode": "rehearsal", "roles": ROLES}, "admin")
        assert r.status_code == 201, r.text
        return str(r.json()["run_id"])

    def wait(self, rid: str, pred: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            data = self.get(f"/api/v1/runs/{rid}").json()
            if pred(data):
                return dict(data)
            time.sleep(0.05)
        raise AssertionError(f"run {rid}: {what} did not happen within {WAIT:g} s")

    def events(self, rid: str) -> list[dict[str, Any]]:
        head = self.get(f"/api/v1/runs/{rid}").json()["events"]
        out: list[dict[str, Any]] = []
        headers = {"Authorization": f"Bearer {TOKENS['admin'][0]}"}
        with self.http.stream("GET", f"/api/v1/runs/{rid}/events", headers=headers) as r:
            for line in r.iter_lines():
                if line.startswith("data: "):
                    out.append(json.loads(line[6:]))
                    if out[-1]["seq"] >= head:
                        break
        return out

    def links(self, rid: str, event: str) -> dict[str, str]:
        """person -> link, from the message sent for ``event``."""
        [text] = [
            e["data"]["text"] for e in self.events(rid) if e["type"] == "comms_sent" and e["data"]["event"] == event
        ]
        return dict(LINK.findall(text))

    def open(self, rid: str, url: str, who: str) -> httpx.Response:
        token = parse_qs(urlsplit(url).query)["link"][0]
        return self.post(f"/api/v1/runs/{rid}/links/open", {"link": token}, who)


def _steps(data: dict[str, Any]) -> dict[str, Any]:
    return {s["id"]: s for p in data["phases"] for s in p["steps"]}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    d = tmp_path / "runbooks"
    d.mkdir()
    (d / "links.yaml").write_text(RUNBOOK.replace("DEADLINE", "30m"))
    (d / "short.yaml").write_text(RUNBOOK.replace("DEADLINE", "1s"))
    grants = {
        config_mod.hash_token(tok): config_mod.TokenGrant(user_id=user, roles=(role,))
        for user, (tok, role) in TOKENS.items()
    }
    cfg = config_mod.ServerConfig(token_hashes=grants, runbook_dir=d, token_cache_ttl=0, secret=SECRET)
    with LiveServer(str(tmp_path / "golive.db"), cfg) as srv:
        client = Api(srv.url)
        yield client
        client.http.close()


def waiting(data: dict[str, Any]) -> bool:
    steps = _steps(data)
    return steps["drain"]["status"] == "waiting" and steps["go"]["status"] == "waiting"


def test_each_person_gets_a_link_that_opens_once_only_for_them_and_never_acts(api: Api) -> None:
    """decision_pending carries a link for alice and carol (not dave, the deployer); manual_waiting one for bob.
    alice's opens for her (recorded, nothing decided) and is refused the second time; carol's is refused for
    bob and still opens for carol afterwards; a link signed with another secret is refused."""
    rid = api.start("links.yaml")
    api.wait(rid, waiting, "drain and go waiting")
    sent = api.links(rid, "decision_pending")
    assert sorted(sent) == ["alice", "carol"]
    assert all(u.startswith(f"{api.base}/runs/{rid}?link=") for u in sent.values()), sent

    r = api.open(rid, sent["alice"], "alice")
    assert r.status_code == 200, r.text
    assert r.json() == {"run_id": rid, "step": "go", "act": "decide", "person": "alice", "waiting_for": "decision"}
    data = api.get(f"/api/v1/runs/{rid}").json()
    assert _steps(data)["go"]["status"] == "waiting"
    assert _steps(data)["go"]["approvals"] == []  # opening the link decided nothing

    again = api.open(rid, sent["alice"], "alice")
    assert again.status_code == 409
    assert "this link was already used by alice" in again.json()["message"]

    stolen = api.open(rid, sent["carol"], "bob")
    assert stolen.status_code == 403
    assert "this link was sent to carol, not to bob" in stolen.json()["message"]
    assert api.open(rid, sent["carol"], "carol").status_code == 200

    forged = links.Linker(b"another-secret", "http://127.0.0.1").issue(
        rid, "go", "decide", "dave", datetime.now(UTC) + timedelta(hours=1)
    )
    refused = api.open(rid, forged, "dave")
    assert refused.status_code == 403
    assert "this link was not made by this server" in refused.json()["message"]

    [bob_link] = api.links(rid, "manual_waiting").values()
    opened = api.open(rid, bob_link, "bob")
    assert opened.status_code == 200
    assert (opened.json()["act"], opened.json()["waiting_for"]) == ("confirm", "manual")

    events = api.events(rid)
    assert [(e["actor"], e["step_id"]) for e in events if e["type"] == "link_opened"] == [
        ("alice", "go"),
        ("carol", "go"),
        ("bob", "drain"),
    ]
    refusals = [e for e in events if e["type"] == "act_refused" and e["data"]["act"] == "open link"]
    assert [e["actor"] for e in refusals] == ["alice", "bob"]


def test_a_link_opened_after_its_deadline_is_refused(api: Api) -> None:
    """The decision's deadline (1 s) passes and its default applies: alice's link expired with it."""
    rid = api.start("short.yaml")
    api.wait(rid, lambda d: _steps(d)["go"]["outcome"] is not None, "the deadline's default")
    sent = api.links(rid, "decision_pending")
    late = api.open(rid, sent["alice"], "alice")
    assert late.status_code == 403
    assert "this link expired at" in late.json()["message"]


async def test_links_reach_email_chat_and_webhooks_from_an_engine_outside_the_server(
    store: sqlite.SqliteStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    smtp_server: tuple[Mailbox, int],  # noqa: F811 - the fixture imported above
    http_server: LoopbackHTTPServer,
) -> None:
    """golive run's engine (no server) with $GOLIVE_SERVER_SECRET and $GOLIVE_PUBLIC_URL: the decision's
    message reaches a real SMTP server, a Slack-compatible (Mattermost) webhook and a JSON webhook with the same
    links, and each opens for its person under the server's secret."""
    monkeypatch.setenv(links.ENV_SECRET, SECRET)
    monkeypatch.setenv(links.ENV_PUBLIC_URL, "https://warroom.example.com")
    box, smtp_port = smtp_server
    http_server.route("/hooks/golive", status=200, body="ok")
    http_server.route(f"/hooks/{MM_TOKEN}", status=200, body="ok")
    channels = (
        "comms:\n  cadence: []\n  channels:\n"
        f"    - {{id: email, url: 'mailto://127.0.0.1:{smtp_port}?from={FROM}&to={TO}', events: [decision_pending]}}\n"
        f"    - {{id: chat, url: 'mmost://127.0.0.1:{http_server.port}/{MM_TOKEN}', events: [decision_pending]}}\n"
        f"    - {{id: hook, url: 'json://127.0.0.1:{http_server.port}/hooks/golive', events: [decision_pending]}}\n"
    )
    book = tmp_path / "links.yaml"
    book.write_text(RUNBOOK.replace("DEADLINE", "30m") + channels)
    r = await start_engine(store, loader.load(book, environ={}), roles=ROLES)
    await r.waiting("go")
    await r.until("the message sent", lambda s: any(c.get("event") == "decision_pending" for c in s.comms))

    [mail] = box.messages()
    chat = [q.json()["text"] for q in http_server.requests if q.path == f"/hooks/{MM_TOKEN}"]
    hook = [q.json()["message"] for q in http_server.requests if q.path == "/hooks/golive"]
    sent = [dict(LINK.findall(text.replace("\r\n", " "))) for text in (mail.get_content(), *chat, *hook)]
    assert len(sent) == 3
    assert sent[0] == sent[1] == sent[2]
    assert sorted(sent[0]) == ["alice", "carol"]
    server_side = links.Linker(SECRET.encode(), "https://warroom.example.com")
    for person, url in sent[0].items():
        assert url.startswith(f"https://warroom.example.com/runs/{r.run_id}?link=")
        claim = server_side.read(parse_qs(urlsplit(url).query)["link"][0])
        assert claim is not None
        assert (claim.person, claim.step_id, claim.act) == (person, "go", "decide")
        opened = await acts.open_link(await r.view(), claim, person)
        assert opened["step"] == "go"
    await acts.decide(await r.view(), "no-go", "alice", "done")
    assert await r.finished() is RunStatus.ROLLED_BACK  # on_no_go: rollback (the default)
