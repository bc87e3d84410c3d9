"""Server-side run views: refreshes shared between concurrent readers never answer from the past."""

from __future__ import annotations

import asyncio

from golive.server.runs import Coalescer

SETTLE = 5  # loop turns that let every ready task reach its next await


async def settle() -> None:
    for _ in range(SETTLE):
        await asyncio.sleep(0)


async def test_concurrent_refreshes_share_calls_but_a_late_caller_gets_a_fresh_one() -> None:
    """Callers arriving during a call wait for the next one (started after they arrived); both are shared."""
    calls: list[int] = []
    gate = asyncio.Event()

    async def fn() -> None:
        calls.append(len(calls) + 1)
        await gate.wait()

    c = Coalescer(fn)
    first = asyncio.create_task(c())
    await settle()
    assert calls == [1]
    late = [asyncio.create_task(c()) for _ in range(50)]
    await settle()
    assert calls == [1]  # nobody joins the call already running
    gate.set()
    await asyncio.gather(first, *late)
    assert calls == [1, 2]  # the 50 late callers shared one new call


async def test_a_failed_call_fails_only_its_own_callers() -> None:
    """An error reaches the callers of that call; the next call runs normally."""
    outcomes = iter([RuntimeError("store busy"), None])

    async def fn() -> None:
        await asyncio.sleep(0)
        err = next(outcomes)
        if err is not None:
            raise err

    c = Coalescer(fn)
    first = asyncio.create_task(c())
    await asyncio.sleep(0)
    second = asyncio.create_task(c())
    results = await asyncio.gather(first, second, return_exceptions=True)
    assert isinstance(results[0], RuntimeError)
    assert results[1] is None
