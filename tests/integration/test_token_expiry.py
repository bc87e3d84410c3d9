"""Tokens can expire: `golive token create --expires 8h` stores the expiry beside the hash, and the server
refuses a token past it with 401 and the reason."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from golive.cli import main
from golive.server import auth
from golive.server.testing import LiveServer
from golive.store import open_store
from golive.testing import FakeClock


def _make(db: Path, expires_in: float, clock: FakeClock) -> str:
    async def go() -> str:
        store = open_store(str(db), create=True)
        await store.open()
        try:
            made, _ = await auth.create_token(store, "alice", ("ic",), clock, expires_in=expires_in)
            return made
        finally:
            await store.close()

    return asyncio.run(go())


def test_an_expired_token_is_refused_with_401_and_the_reason(tmp_path: Path) -> None:
    db = tmp_path / "g.db"
    # Made three hours ago for two hours: expired an hour ago. Made now for two hours: good.
    expired = _make(db, 2 * 3600, FakeClock(datetime.now(UTC) - timedelta(hours=3)))
    fresh = _make(db, 2 * 3600, FakeClock(datetime.now(UTC)))
    with LiveServer(str(db)) as srv, httpx.Client(base_url=srv.url, timeout=10) as http:
        r = http.get("/api/v1/me", headers={"Authorization": f"Bearer {expired}"})
        assert r.status_code == 401
        assert "expired at" in r.json()["message"]
        assert "golive token create" in r.json()["message"]
        assert 'error="invalid_token"' in r.headers["www-authenticate"]
        ok = http.get("/api/v1/me", headers={"Authorization": f"Bearer {fresh}"})
        assert ok.status_code == 200, ok.text
        assert ok.json()["user"] == "alice"


async def test_a_cached_token_is_refused_once_it_expires(tmp_path: Path) -> None:
    """The lookup cache never outlives the token: expiry is checked on every request."""
    from golive.server import config as config_mod

    store = open_store(str(tmp_path / "g.db"), create=True)
    await store.open()
    try:
        start = datetime.now(UTC)
        made, _ = await auth.create_token(store, "alice", ("ic",), FakeClock(start), expires_in=60)
        now = [start.timestamp()]
        authority = auth.TokenAuthority(config_mod.ServerConfig(token_cache_ttl=300), store, now=lambda: now[0])
        assert (await authority.authenticate(made)).user == "alice"
        now[0] += 61
        with pytest.raises(auth.Rejected, match="expired"):
            await authority.authenticate(made)
    finally:
        await store.close()


def test_token_create_expires_stores_the_expiry_and_list_shows_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "g.db")
    assert main(["token", "create", "--user", "alice", "--roles", "ic", "--expires", "8h", "--json", "--db", db]) == 0
    import json

    made = json.loads(capsys.readouterr().out)
    expires = datetime.fromisoformat(made["expires_at"].replace("Z", "+00:00"))
    assert timedelta(hours=7, minutes=59) < expires - datetime.now(UTC) <= timedelta(hours=8)
    assert main(["token", "list", "--db", db]) == 0
    assert f"active until {made['expires_at']}" in capsys.readouterr().out


def test_token_create_refuses_a_bad_expiry_with_the_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["token", "create", "--user", "alice", "--expires", "8", "--db", str(tmp_path / "g.db")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--expires '8'" in err
    assert "8h" in err


STREAM_LIMIT = 20.0  # seconds (real) the stream test waits at most for the stream to end


def _run(db: Path) -> str:
    from golive.engine import runner
    from golive.spec import loader

    text = "golive: 1\nname: s\nphases:\n  - id: p\n    steps:\n      - {id: a, kind: action, type: command, with: {run: 'true'}}\n"

    async def go() -> str:
        store = open_store(str(db), create=True)
        await store.open()
        try:
            h = await runner.create_run(store, loader.load_text(text, "s.yaml", environ={}), mode="rehearsal")
            return h.run_id
        finally:
            await store.close()

    return asyncio.run(go())


@pytest.mark.parametrize("how", ["bearer", "ticket"])
def test_an_open_event_stream_ends_when_its_token_expires(tmp_path: Path, how: str) -> None:
    """A stream opened with a token (or a ticket it got) does not outlive the token: it ends at the expiry, and
    opening it again is refused."""
    import time

    db = tmp_path / "g.db"
    rid = _run(db)
    token = _make(db, 2.0, FakeClock(datetime.now(UTC)))
    auth_header = {"Authorization": f"Bearer {token}"}
    with LiveServer(str(db)) as srv, httpx.Client(base_url=srv.url, timeout=STREAM_LIMIT) as http:
        if how == "ticket":
            t = http.post(f"/api/v1/runs/{rid}/events/ticket", headers=auth_header)
            assert t.status_code == 200, t.text
            url, headers = t.json()["url"], {}
        else:
            url, headers = f"/api/v1/runs/{rid}/events", auth_header
        began = time.monotonic()
        with http.stream("GET", url, headers=headers) as r:
            assert r.status_code == 200
            for _ in r.iter_lines():
                assert time.monotonic() - began < STREAM_LIMIT, "the stream outlived its token"
        again = http.get(url, headers=headers)
        assert again.status_code == 401
