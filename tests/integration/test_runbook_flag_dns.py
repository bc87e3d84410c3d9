"""examples/db-cutover-flag-dns.yaml run by the engine: a cutover gated on a LaunchDarkly flag, a Vault
write, and a DNS answer on three named resolvers, against loopback LaunchDarkly and Vault APIs (checked
against their API descriptions) and three loopback DNS servers; its triggers' Prometheus sources are swapped
for `fake` sources the test sets, under a FakeClock (the 30-minute watch passes at once).

Every credential and the secret written to Vault are searched for in the store's files and its events.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from golive.engine.state import RunStatus
from golive.results import Outcome
from golive.spec import loader
from golive.store import sqlite
from golive.testing import FakeClock, start_engine

from .loopback_dns import ZoneServer
from .test_plugin_launchdarkly import LD_TOKEN, LaunchDarkly
from .test_plugin_vault_write import NEW_URL, VAULT_TOKEN, Kv2
from .vendor_api import VendorApi, load

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "db-cutover-flag-dns.yaml"
DB_NAME = "db.orders.example.com"
NEW_IP = "10.20.0.15"


@dataclass
class World:
    ld: VendorApi
    flags: LaunchDarkly
    vault: VendorApi
    kv: Kv2
    dns: list[ZoneServer]

    def flag_on(self) -> bool:
        return bool(self.flags.flags["orders.write_new_db"]["environments"]["production"]["on"])


@pytest.fixture
async def world(monkeypatch: pytest.MonkeyPatch, fake_metrics: Any) -> AsyncIterator[World]:
    flags = LaunchDarkly()
    ld = VendorApi(
        load("launchdarkly.yaml"),
        {"getFeatureFlag": flags.get, "patchFeatureFlag": flags.patch},
        credentials={"ApiKey": {LD_TOKEN}},
    )
    kv = Kv2()
    kv.versions["secret/orders/prod"] = [{"DATABASE_URL": "postgresql://app:old@db-old/orders", "POOL": "20"}]
    vault = VendorApi(
        load("vault-kv2.yaml"),
        {"kvV2Read": kv.read, "kvV2Write": kv.write, "kvV2Patch": kv.patch},
        credentials={"VaultToken": {VAULT_TOKEN}},
    )
    dns: list[ZoneServer] = []
    monkeypatch.setenv("LD_API_KEY", LD_TOKEN)
    monkeypatch.setenv("VAULT_TOKEN", VAULT_TOKEN)
    monkeypatch.setenv("NEW_DATABASE_URL", NEW_URL)
    try:  # everything started so far is closed even when a later start fails
        await ld.start()
        await vault.start()
        for _ in range(3):
            dns.append(await ZoneServer({(DB_NAME, "A"): [NEW_IP]}).start())
        yield World(ld, flags, vault, kv, dns)
    finally:
        for server in dns:
            server.close()
        await ld.close()
        await vault.close()


async def run_example(world: World, store: sqlite.SqliteStore, tmp_path: Path) -> Any:
    """The example with each trigger's Prometheus source swapped for the `fake` source named after it."""
    doc = yaml.safe_load(EXAMPLE.read_text())
    for trig in doc["triggers"]:
        trig["source"] = {"type": "fake", "with": {"name": trig["id"]}}
    path = tmp_path / EXAMPLE.name
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    loaded = loader.load(
        path,
        var_overrides={
            "ld_url": world.ld.url(),
            "vault_url": world.vault.url(),
            "resolver_google": world.dns[0].address,
            "resolver_cloudflare": world.dns[1].address,
            "resolver_quad9": world.dns[2].address,
        },
        environ={},
    )
    running = await start_engine(store, loaded, roles={"ic": "Ana Ruiz"}, clock=FakeClock())
    await running.finished()
    return await running.view()


def assert_nothing_leaked(tmp_path: Path, events: list[Any]) -> None:
    secrets = (LD_TOKEN, VAULT_TOKEN, NEW_URL, "new-pass-93")
    files = [p for p in (tmp_path / "db").iterdir() if p.is_file()]
    assert any(p.name == "golive.db" and p.stat().st_size > 0 for p in files), files
    assert len(events) > 5
    for path in files:
        data = path.read_bytes()
        for value in secrets:
            assert value.encode() not in data, f"{value!r} is in {path.name}"
    text = repr([(e.type, e.data) for e in events])
    for value in secrets:
        assert value not in text


async def test_cutover_passes_when_the_flag_is_off_and_three_resolvers_answer(
    world: World, store: sqlite.SqliteStore, tmp_path: Path
) -> None:
    """Flag OFF -> Vault written and read back -> DNS new address on three resolvers -> flag ON, read back
    -> 30 minutes of a healthy new database."""
    h = await run_example(world, store, tmp_path)
    assert h.state.status is RunStatus.PASSED, {s.id: s.summary for s in h.state.steps.values()}
    assert h.state.step("observe_new_db").outcome is Outcome.PASS
    assert world.flag_on()
    assert world.kv.versions["secret/orders/prod"][-1] == {"DATABASE_URL": NEW_URL, "POOL": "20"}
    dns_step = h.state.step("dns_on_three_resolvers")
    assert dns_step.outcome is Outcome.PASS
    assert set(dns_step.output["resolvers"]) == {"google", "cloudflare", "quad9"}
    assert all(server.queries == [(DB_NAME, "A")] for server in world.dns)
    assert len(world.ld.calls("patchFeatureFlag")) == 1
    assert not world.ld.rejected, world.ld.rejected
    assert not world.vault.rejected, world.vault.rejected
    assert_nothing_leaked(tmp_path, await store.events(h.run_id))


async def test_cutover_stops_before_anything_moves_when_the_flag_is_on(
    world: World, store: sqlite.SqliteStore, tmp_path: Path
) -> None:
    """The gate: with new-database writes already ON, pre-flight fails and nothing is written anywhere."""
    world.flags.flags["orders.write_new_db"]["environments"]["production"]["on"] = True
    h = await run_example(world, store, tmp_path)
    assert h.state.status is not RunStatus.PASSED
    assert h.state.step("new_db_writes_off").outcome is Outcome.FAIL
    assert "orders.write_new_db is true" in h.state.step("new_db_writes_off").summary
    assert not world.vault.calls("kvV2Patch")
    assert not world.ld.calls("patchFeatureFlag")
    assert all(not server.queries for server in world.dns)
    assert_nothing_leaked(tmp_path, await store.events(h.run_id))


async def test_cutover_does_not_enable_while_one_resolver_answers_the_old_address(
    world: World, store: sqlite.SqliteStore, tmp_path: Path
) -> None:
    """One resolver still answering the old address fails the DNS step; the flag is never turned on."""
    world.dns[2].zone[(DB_NAME, "A")] = ["10.20.0.9"]
    h = await run_example(world, store, tmp_path)
    assert h.state.status is not RunStatus.PASSED
    step = h.state.step("dns_on_three_resolvers")
    assert step.outcome is Outcome.FAIL
    assert "quad9 answers ['10.20.0.9']" in step.summary
    assert not world.flag_on()
    assert_nothing_leaked(tmp_path, await store.events(h.run_id))


@pytest.mark.parametrize("trigger", ["new_db_errors", "new_db_replication_lag"])
async def test_the_new_database_watch_turns_writes_off_in_launchdarkly(
    world: World, store: sqlite.SqliteStore, tmp_path: Path, fake_metrics: Any, trigger: str
) -> None:
    """Writes ON, then the new database's error rate (6%) or its replicas' lag (90 s) stays over the line for
    2 minutes: the trigger rolls back by itself and the flag reads OFF in LaunchDarkly again."""
    fake_metrics[trigger].set(0.06 if trigger == "new_db_errors" else 90.0)
    h = await run_example(world, store, tmp_path)
    assert h.state.status is RunStatus.ROLLED_BACK, {s.id: s.summary for s in h.state.steps.values()}
    assert (h.state.rollback or {}).get("by") == f"trigger:{trigger}"
    assert h.state.step("new_db_writes_confirmed").outcome is Outcome.PASS
    assert h.state.step("observe_new_db").outcome is Outcome.FAIL
    assert h.state.step("writes_off").outcome is Outcome.PASS
    assert not world.flag_on()
    # ON; then OFF twice: the safe value restored first (flags.safe), then the rollback step writes_off.
    assert len(world.ld.calls("patchFeatureFlag")) == 3
    assert not world.ld.rejected, world.ld.rejected
    assert_nothing_leaked(tmp_path, await store.events(h.run_id))
