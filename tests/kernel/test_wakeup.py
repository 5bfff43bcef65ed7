"""The writer's late wake (kernel/wakeup.py): deferred to the event loop's next round
inside a running loop, immediate outside one, and owed until then."""

from __future__ import annotations

import asyncio
import threading

from mirrorneuron_nb.kernel.wakeup import LateWake


class Counted(threading.Condition):
    def __init__(self) -> None:
        super().__init__()
        self.wakes = 0

    def notify_all(self) -> None:
        self.wakes += 1
        super().notify_all()


def test_outside_a_running_loop_the_wake_is_immediate() -> None:
    cond = Counted()
    wake = LateWake(cond)
    with cond:
        wake.soon()
    assert cond.wakes == 1 and not wake.owed


def test_inside_a_running_loop_the_wake_waits_for_the_loop() -> None:
    cond = Counted()
    wake = LateWake(cond)

    async def cell() -> tuple[int, bool]:
        with cond:
            wake.soon()
            wake.soon()  # a second step in the same cell: still one wake
        seen = cond.wakes, wake.owed  # as the cell ends: nobody woken yet
        await asyncio.sleep(0)  # the loop's next round
        return seen

    assert asyncio.run(cell()) == (0, True)
    assert cond.wakes == 1 and not wake.owed


def test_a_waiter_wakes_the_writer_at_once_and_the_loop_then_does_not() -> None:
    cond = Counted()
    wake = LateWake(cond)

    async def cell() -> None:
        with cond:
            wake.soon()
        wake.now()  # a cell waits for what it queued: the writer must run now
        assert cond.wakes == 1 and not wake.owed
        await asyncio.sleep(0)

    asyncio.run(cell())
    assert cond.wakes == 1
