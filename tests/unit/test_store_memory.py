"""golive.testing.InMemoryStore: what users' tests rely on beyond the shared store contract."""

from __future__ import annotations

import asyncio

import pytest

from golive import exceptions, testing
from golive.store.base import NewEvent, RunRecord

RUN = "run-1"


async def opened() -> testing.InMemoryStore:
    s = testing.InMemoryStore(testing.FakeClock())
    await s.open()
    await s.create_run(RunRecord(RUN, "rb", "rb.yaml", "0" * 64, "golive: 1\n", "dry-run", "2026-01-01T00:00:00Z"))
    return s


async def test_tampered_data_makes_verify_name_the_seq() -> None:
    s = await opened()
    for i in range(3):
        await s.append(RUN, NewEvent("tick", data={"i": i}))
    s.tamper(RUN, 2, data={"i": 42})
    with pytest.raises(exceptions.ChainBroken) as info:
        await s.verify(RUN)
    assert info.value.seq == 2


async def test_deleted_event_makes_verify_fail() -> None:
    s = await opened()
    for _ in range(3):
        await s.append(RUN, NewEvent("tick"))
    s.tamper(RUN, 3, delete=True)
    with pytest.raises(exceptions.ChainBroken) as info:
        await s.verify(RUN)
    assert info.value.seq == 3


async def test_follow_is_woken_by_an_append_without_polling() -> None:
    """InMemoryStore.follow waits on appends, not on the clock: a FakeClock never spins it."""
    s = await opened()
    seen: list[str] = []

    async def follow() -> None:
        async for ev in s.follow(RUN):
            seen.append(ev.type)
            if len(seen) == 2:
                return

    task = asyncio.create_task(follow())
    await asyncio.sleep(0)
    await s.append(RUN, NewEvent("a"))
    await s.append(RUN, NewEvent("b"))
    await asyncio.wait_for(task, 5)
    assert seen == ["a", "b"]


async def test_store_must_be_opened_first() -> None:
    with pytest.raises(exceptions.StoreError, match="not open"):
        await testing.InMemoryStore().list_runs()
