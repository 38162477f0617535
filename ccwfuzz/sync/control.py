"""The controller's side of the scheduler: what the pool (the parent process) does to
the scheduler words, next to the actors' side in :mod:`ccwfuzz.sync.sched`.

The controller formats a run, posts the first actor (controlled) or all of them (free),
waits for the end while watching that every actor process is alive, asks free-running
daemons to wind down or everybody to abort, posts END and collects one ack per actor,
and reads back the outcome and the recorded decisions.
"""

from __future__ import annotations

import array
import time
from collections.abc import Callable, Sequence
from typing import Any

from ccwfuzz.sync import words as W
from ccwfuzz.sync.policy import POLICIES, Policy
from ccwfuzz.sync.words import Cmd, Mode, Outcome, Status

#: How often a waiting controller checks that its actors are alive, in seconds.
LIVENESS_SLICE = 0.05


class Controller:
    """The scheduler words of one segment, seen from the pool."""

    def __init__(self, w: memoryview, base: int, sems: list[Any], ctl: Any,
                 bells: list[Any]) -> None:  # fmt: skip
        self.w = w
        self.b = base
        self.sems = sems
        self.ctl = ctl
        self.bells = bells  # free mode: the actors' doorbells (sched.Context.wake)

    def __getitem__(self, word: int) -> int:
        return int(self.w[self.b + word])

    def format_run(self, *, mode: Mode, kinds: Sequence[int], workers_mask: int,
                   policy: Policy, priorities: Sequence[int] = (), changes: Sequence[int] = (),
                   choices: Sequence[int] = (), max_steps: int = 200_000,
                   seed: int = 0) -> int:  # fmt: skip
        """Prepare the words for one run; returns the first actor to run (its choice
        is the run's first recorded decision)."""
        w, b, n = self.w, self.b, len(kinds)
        if not 1 <= n <= W.MAX_ACTORS:
            raise ValueError(f"1..{W.MAX_ACTORS} actors, not {n}")
        w[b : b + W.HEADER] = _zeros(W.HEADER)
        w[b + W.S_MODE] = mode.code
        w[b + W.S_NACT] = n
        w[b + W.S_MAXSTEPS] = max_steps
        w[b + W.S_POLICY] = policy.code
        w[b + W.S_WORKERS] = workers_mask
        w[b + W.S_SEED] = seed & 0xFFFFFFFF
        w[b + W.S_CMD] = Cmd.RUN
        for a in range(n):
            w[b + W.A_STATUS + a] = Status.RUNNABLE
            w[b + W.A_KIND + a] = kinds[a]
        w[b + W.S_RUNNABLE] = (1 << n) - 1
        first = POLICIES[policy].setup(w, b, n, priorities, changes, choices)
        w[b + W.S_CURRENT] = first
        w[b + W.DECISIONS] = first  # every actor is runnable: its index is its id
        w[b + W.S_NDECISIONS] = 1
        return first

    # ---- during a run ---------------------------------------------------------------
    def post(self, actor: int) -> None:
        self.sems[actor].release()

    def post_all(self) -> None:
        for s in self.sems:
            s.release()

    def wait_end(self, timeout: float, alive: Callable[[], bool]) -> str:
        """Wait for the run's end post: "ok", "timeout", or "lost" (an actor died)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return "timeout"
            if self.ctl.acquire(timeout=min(LIVENESS_SLICE, left)):
                return "ok"
            if not alive():
                return "lost"

    def stop_daemons(self) -> None:
        """Free mode: the workers are done; daemons may return once idle."""
        self.w[self.b + W.S_STOP] = W.STOP_DAEMONS
        self.ring_all()

    def abort(self) -> None:
        """Free mode: every actor unwinds at its next point or wait."""
        self.w[self.b + W.S_STOP] = W.STOP_ABORT
        self.ring_all()

    def ring_all(self) -> None:
        """Ring every actor's doorbell: a free wait looks again at what it waits for."""
        for bell in self.bells:
            bell.release()

    def set_outcome(self, outcome: Outcome) -> None:
        self.w[self.b + W.S_OUTCOME] = outcome

    def statuses(self) -> list[int]:
        w, b = self.w, self.b
        return [int(w[b + W.A_STATUS + a]) for a in range(w[b + W.S_NACT])]

    def free_steps(self) -> int:
        """Free mode: the scheduling points all actors passed so far."""
        w, b = self.w, self.b
        return sum(w[b + W.A_FREE_STEPS : b + W.A_FREE_STEPS + w[b + W.S_NACT]].tolist())

    def all_started(self) -> bool:
        w, b = self.w, self.b
        return all(w[b + W.A_STARTED + a] for a in range(w[b + W.S_NACT]))

    def end_run(self, timeout: float, alive: Callable[[], bool]) -> str:
        """Post END to every actor and collect one ack each: "ok", "timeout", "lost"."""
        self.w[self.b + W.S_CMD] = Cmd.END
        self.post_all()
        for _ in range(len(self.sems)):
            status = self.wait_end(timeout, alive)
            if status != "ok":
                return status
        return "ok"

    def exit_actors(self) -> None:
        """Ask every actor process to exit, whatever it is doing."""
        self.w[self.b + W.S_CMD] = Cmd.EXIT
        self.w[self.b + W.S_STOP] = W.STOP_ABORT
        self.ring_all()
        for _ in range(2):  # one post may be eaten by an END the actor still owed
            self.post_all()

    # ---- after a run ------------------------------------------------------------------
    @property
    def outcome(self) -> Outcome:
        return Outcome(self[W.S_OUTCOME])

    def decisions(self) -> tuple[tuple[int, ...], bool]:
        """The recorded decisions (a ``choices`` schedule) and whether some were lost."""
        n = self[W.S_NDECISIONS]
        kept = min(n, W.MAX_DECISIONS)
        lo = self.b + W.DECISIONS
        return tuple(self.w[lo : lo + kept].tolist()), n > kept

    def current_ops(self, nworkers: int) -> list[tuple[int, int] | None]:
        out: list[tuple[int, int] | None] = []
        for a in range(nworkers):
            v = self[W.A_OP + a]
            out.append((v >> 16, (v & 0xFFFF) - 1) if v else None)
        return out

    # ---- benchmark ----------------------------------------------------------------------
    def handoff(self, count: int) -> None:
        """Start a bare hand-off ring of ``count`` posts (see ``Pool.bare_handoffs``)."""
        self.w[self.b + W.S_CMD] = Cmd.HANDOFF
        self.w[self.b + W.S_STEPS] = count
        self.post(0)


def _zeros(n: int) -> memoryview:
    return memoryview(array.array("I", bytes(4 * n))).cast("B").cast("I")
