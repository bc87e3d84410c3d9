"""FakeClock.wait: a watch that reads on time waits on a fake clock without moving it; sleepers that move time
stop at each waiter's time on the way."""

from __future__ import annotations

import asyncio

from golive.clock import FakeClock


async def test_a_waiter_alone_never_moves_the_clock() -> None:
    clock = FakeClock()
    waiter = asyncio.ensure_future(clock.wait(30))
    for _ in range(50):
        await asyncio.sleep(0)
    assert not waiter.done()
    assert clock.monotonic() == 0.0
    clock.advance(30)
    await waiter
    assert clock.monotonic() == 30.0


async def test_a_sleeper_stops_at_each_waiter_on_its_way() -> None:
    """A 100 s sleep carries time to 100 s through a watch reading every 10 s: the watch reads at 10, 20, ...,
    90 s, each at its own time, and the sleeper wakes at 100 s."""
    clock = FakeClock()
    seen: list[float] = []

    async def watch() -> None:
        while True:
            await clock.wait(10)
            seen.append(clock.monotonic())

    task = asyncio.ensure_future(watch())
    await asyncio.sleep(0)
    await clock.sleep(100)
    assert clock.monotonic() == 100.0
    assert seen[:9] == [10.0 * i for i in range(1, 10)]
    task.cancel()


async def test_a_sleeper_cancelled_before_its_time_does_not_stall_the_clock() -> None:
    """A wait that hears an act first cancels its tick while the tick still lets others run: the tick must leave
    the sleepers. Left behind, the next sleeper moved time to it, woke nobody, and waited for a mover that was
    gone (a run paused for the IC stalled a minute into its deadline, about one run in ten)."""
    clock = FakeClock()
    tick = asyncio.ensure_future(clock.sleep(1))
    await asyncio.sleep(0)  # the tick is registered and lets others run
    tick.cancel()
    later = asyncio.ensure_future(clock.sleep(5))
    await asyncio.wait({later}, timeout=2.0)  # real seconds: a stalled clock never wakes it
    assert later.done()
    assert clock.monotonic() == 5.0
