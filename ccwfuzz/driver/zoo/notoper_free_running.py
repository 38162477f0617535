"""``zoo:notoper-free-running`` (spec E18, C) -- NOT_OPER frees a program still running.

Bug: the deferred free after NOT_OPER (``notoper_work``) frees the channel program
without asking whether the channel still runs it. A start that raced NOT_OPER, on a
device that came back in time, is running when the work frees its CCWs and IDAWs: the
channel then fetches freed memory.
Interleaving: a worker translates a program (CP_PROCESSING); the device goes not
operational (NOT_OPER, free queued) and comes back before the worker issues SSCH, which
is accepted; the bottom half runs the deferred free while the program runs; the channel
fetches the next CCW from poisoned memory. Two hardware events must fire inside one
request's window, and the work queue must overtake the channel.
Fix: the reference frees only once the program ended (a final interruption, or a
disabled subchannel: ``fsm_disabled_irq``); upstream defers the free to work under
``io_mutex`` (E18).
Caught by: ``memory.poison-read``.
Minimal: 4 ops (open; SSCH; not-operational then operational inside it).
"""

from __future__ import annotations

from ccwfuzz.driver.kernel import D_NOTOPER_WORK
from ccwfuzz.driver.reference import Reference
from ccwfuzz.sync import Context


class NotoperFreeRunning(Reference):
    name = "notoper-free-running"
    expected_rule = "memory.poison-read"

    def notoper_work(self, ctx: Context, sch: int) -> None:
        mutex = self.k.io_mutex[sch]
        mutex.lock(ctx)
        self.w[self.k.d(sch) + D_NOTOPER_WORK] = 0
        self.cp_free(ctx, sch)  # whether or not the channel still runs it
        mutex.unlock(ctx)
