"""Scheduling points, the controlled scheduler and the free mode.

Design notes (what must stay true):

* **One token.** In controlled mode exactly one actor process runs between scheduling
  points. The running actor decides who runs next *itself*, from shared state only, and
  hands the token over by posting that actor's semaphore and waiting on its own: one
  process wake per switch, and no wake at all when the decision is "keep running".
* **Determinism.** A decision depends only on segment state and the schedule (PCT
  priorities and change points, or an explicit choice list). Same program + same schedule
  gives the same sequence of decisions, hence the same history.
* **Stalls are decided, not waited out.** When nobody is runnable, a worker in a timed
  wait (``soft``) times out; otherwise, if every worker finished the run is done, else it
  is a deadlock, reported with who waits on what.
* **Unwinding.** When a run ends the controller posts every actor once with END; an
  actor parked inside its body unwinds with :class:`RunAborted`, and every actor acks.
* **Free mode.** The same code runs with the scheduler stepped aside: points add random
  jitter, waits spin with ``sched_yield``/sleep backoff (never a bare spin), and state
  changes of our primitives go through one fork-shared lock (:meth:`Context.atomic`),
  because Python has no compare-and-swap on shared memory.
"""

from __future__ import annotations

import contextlib
import enum
import os
import random
import time
from collections.abc import Callable
from typing import Any

from ccwfuzz.sync.history import Ev, History

MAX_ACTORS = 16
MAX_CHANGES = 16
MAX_CHOICES = 4096
#: How long a timed wait (wait_irq, a daemon idling) lasts in free mode, in seconds.
FREE_SOFT_TIMEOUT = 0.005

# ---- scheduler words --------------------------------------------------------------
S_MODE, S_NACT, S_CURRENT, S_STEPS, S_SWITCHES, S_OUTCOME, S_DIRTY, S_MAXSTEPS = range(8)
S_POLICY, S_CURSOR, S_NCHOICES, S_CHANGE_IDX, S_NEXTCHANGE, S_CMD, S_WORKERS = range(8, 15)
S_STOP, S_SEED, S_FIRST, S_DEADLOCK_MASK, S_CRASHED = range(15, 20)
A_STATUS = 32
A_PRIO = A_STATUS + MAX_ACTORS
A_ON = A_PRIO + MAX_ACTORS
A_TIMEDOUT = A_ON + MAX_ACTORS
A_KIND = A_TIMEDOUT + MAX_ACTORS
A_STARTED = A_KIND + MAX_ACTORS  # the actor took this run's RUN post
A_OP = A_STARTED + MAX_ACTORS  # the op an actor is in: code << 16 | (sch + 1), 0 = none
CHANGES = A_OP + MAX_ACTORS
CHOICES = CHANGES + MAX_CHANGES
WORDS = CHOICES + MAX_CHOICES


class Mode(enum.IntEnum):
    CONTROLLED = 1
    FREE = 2


class Policy(enum.IntEnum):
    PCT = 1
    CHOICES = 2  # each choice picks among the runnable actors
    WALK = 3  # a sticky random walk: a choice with low bits != 0 keeps the current actor


class Status(enum.IntEnum):
    ABSENT = 0
    RUNNABLE = 1
    BLOCKED = 2  # waits on a lock or completion: a deadlock if nobody else can run
    WAITING = 3  # timed wait (worker) or idle (daemon): never a deadlock
    FINISHED = 4
    CRASHED = 5


class Outcome(enum.IntEnum):
    RUNNING = 0
    DONE = 1
    DEADLOCK = 2
    LIMIT = 3
    CRASH = 4
    HANG = 5


class Cmd(enum.IntEnum):
    IDLE = 0
    RUN = 1
    END = 2
    EXIT = 3
    HANDOFF = 4  # benchmark: pass the token around with bare semaphores


_NULL = contextlib.nullcontext()


class RunAborted(BaseException):
    """Unwinds an actor's body when the run it belongs to has ended."""


class Context:
    """One actor's view of the scheduler; passed to all actor and driver code.

    Driver code calls :meth:`point` at scheduling points, :meth:`record` to append to
    the history, and the primitives of :mod:`ccwfuzz.sync.primitives`, which use
    :meth:`wait`, :meth:`wake` and :meth:`atomic`.
    """

    def __init__(
        self,
        actor: int,
        w: memoryview,
        base: int,
        history: History,
        sems: list[Any],
        ctl: Any,
        interlock: Any,
    ) -> None:
        self.id = actor
        self._w = w
        self._b = base
        self.history = history
        self._sems = sems
        self._ctl = ctl
        self._lock = interlock
        self.spin_depth = 0  # spin locks held (atomic context)
        self.irq = False  # running the interrupt top half
        self._rng = random.Random()
        self.controlled = True
        self._ended = False  # this actor consumed its END post: unwinding, never block

    def set_op(self, code: int, sch: int) -> None:
        """Note the op this actor is in (outside the history ring, so a run whose ring
        wrapped still tells what each actor was doing); ``code`` 0 clears it."""
        self._w[self._b + A_OP + self.id] = (code << 16 | (sch + 1)) if code else 0

    @property
    def ended(self) -> bool:
        """This actor took its END post: the run is over and it is unwinding."""
        return self._ended

    # ---- run setup (actor side) ----------------------------------------------------
    def begin_run(self) -> None:
        w, b = self._w, self._b
        self.controlled = w[b + S_MODE] == Mode.CONTROLLED
        self._ended = False
        self.spin_depth = 0
        self.irq = False
        self._rng.seed(w[b + S_SEED] * 1000003 + self.id)

    # ---- history ---------------------------------------------------------------------
    def record(self, kind: Ev, a0: int = 0, a1: int = 0, a2: int = 0, a3: int = 0,
               a4: int = 0) -> None:  # fmt: skip
        if self._ended:
            return  # unwinding after the run ended: not part of the run's history
        if self.controlled:
            self.history.append(self.id, kind, a0, a1, a2, a3, a4)
        else:
            with self._lock:
                self.history.append(self.id, kind, a0, a1, a2, a3, a4)

    def atomic(self) -> contextlib.AbstractContextManager[Any]:
        """Make a read-modify-write of shared words atomic across processes (free mode
        only; in controlled mode nobody else runs, and this is a no-op)."""
        return _NULL if self.controlled else self._lock

    # ---- scheduling points -------------------------------------------------------------
    def point(self) -> None:
        """A scheduling point: in controlled mode the schedule may switch actors here;
        in free mode a little random jitter."""
        w, b = self._w, self._b
        if self._ended:
            raise RunAborted  # a finally: block of an unwinding actor: do not wait again
        if not self.controlled:
            if w[b + S_STOP] == 2:
                raise RunAborted
            r = self._rng.random()
            if r < 0.05:
                os.sched_yield()
            elif r < 0.06:
                time.sleep(20e-6)
            return
        self._tick()
        if w[b + S_POLICY] == Policy.PCT and not w[b + S_DIRTY]:
            return
        w[b + S_DIRTY] = 0
        nxt = self._pick()
        if nxt is not None and nxt != self.id:
            self._switch_to(nxt)

    def wait(self, slot: int, ready: Callable[[], bool], soft: bool = False) -> bool:
        """Wait until woken (controlled) or until ``ready()`` (free). The caller has
        already registered as a waiter on ``slot``. Returns False if a ``soft`` (timed)
        wait timed out."""
        if self._ended:
            raise RunAborted
        if not self.controlled:
            return self._spin_until(ready, soft)
        w, b, me = self._w, self._b, self.id
        # A wait counts as a step: a retry loop that keeps timing out (nobody else can
        # run) must still run into the step budget instead of spinning forever.
        self._tick()
        w[b + A_STATUS + me] = Status.WAITING if soft else Status.BLOCKED
        w[b + A_ON + me] = slot
        w[b + A_TIMEDOUT + me] = 0
        nxt = self._pick()
        if nxt is None:
            nxt = self._stall()
        if nxt is None:
            self._wait_turn()  # the run is over: END unwinds us
        elif nxt != me:
            self._switch_to(nxt)
        return not w[b + A_TIMEDOUT + me]

    def backoff(self, ready: Callable[[], bool]) -> None:
        """Let the others run until ``ready()`` (a retry loop that must not starve the
        actor it waits for). Controlled: a timed wait, resumed when nobody else can run;
        free: yield and sleep."""
        if self.controlled:
            self.wait(0xFFFF, ready, soft=True)
        else:
            self._spin_until(ready, soft=True)

    def wake(self, mask: int) -> None:
        """Make the actors in ``mask`` runnable again (controlled mode)."""
        if not self.controlled or not mask:
            return
        w, b = self._w, self._b
        for a in range(w[b + S_NACT]):
            if mask >> a & 1 and w[b + A_STATUS + a] in (Status.BLOCKED, Status.WAITING):
                w[b + A_STATUS + a] = Status.RUNNABLE
                w[b + A_TIMEDOUT + a] = 0
                w[b + S_DIRTY] = 1

    def stopping(self) -> bool:
        """Free mode: the controller asked daemons to wind down."""
        return bool(self._w[self._b + S_STOP])

    # ---- finishing (actor side) ----------------------------------------------------------
    def finish(self, crashed: bool = False) -> None:
        """The actor's body returned (or raised): mark it and pass the token on."""
        w, b, me = self._w, self._b, self.id
        with self.atomic():
            w[b + A_STATUS + me] = Status.CRASHED if crashed else Status.FINISHED
        if crashed:
            w[b + S_CRASHED] |= 1 << me
            if self.controlled:
                self._end(Outcome.CRASH)
            return
        if not self.controlled:
            return
        nxt = self._pick()
        if nxt is None:
            nxt = self._stall()
        if nxt is not None:
            w[b + S_CURRENT] = nxt
            self._sems[nxt].release()

    # ---- internals -----------------------------------------------------------------------
    def _tick(self) -> None:
        """Count one step: the step budget (LIMIT) and PCT change points."""
        w, b = self._w, self._b
        steps = w[b + S_STEPS] + 1
        w[b + S_STEPS] = steps
        if steps >= w[b + S_MAXSTEPS]:
            self._end(Outcome.LIMIT)
            self._wait_turn()
        if steps == w[b + S_NEXTCHANGE] and w[b + S_POLICY] == Policy.PCT:
            self._change_point()

    def _pick(self) -> int | None:
        w, b = self._w, self._b
        n = w[b + S_NACT]
        runnable = [a for a in range(n) if w[b + A_STATUS + a] == Status.RUNNABLE]
        if not runnable:
            return None
        if len(runnable) == 1:
            return runnable[0]
        if w[b + S_POLICY] == Policy.PCT:
            return max(runnable, key=lambda a: w[b + A_PRIO + a])
        cursor = w[b + S_CURSOR]
        if cursor < w[b + S_NCHOICES]:
            w[b + S_CURSOR] = cursor + 1
            c = w[b + CHOICES + cursor]
            if w[b + S_POLICY] == Policy.WALK:
                if c & 3 and self.id in runnable:
                    return self.id
                c >>= 2
            return runnable[c % len(runnable)]
        return self.id if self.id in runnable else runnable[0]

    def _change_point(self) -> None:
        w, b = self._w, self._b
        k = w[b + S_CHANGE_IDX]
        w[b + A_PRIO + self.id] = k + 1  # below every initial priority (PCT)
        w[b + S_CHANGE_IDX] = k + 1
        w[b + S_NEXTCHANGE] = w[b + CHANGES + k + 1] if k + 1 < MAX_CHANGES else 0
        w[b + S_DIRTY] = 1

    def _stall(self) -> int | None:
        """Nobody is runnable: time out a waiting worker, or end the run."""
        w, b = self._w, self._b
        n, workers = w[b + S_NACT], w[b + S_WORKERS]
        for a in range(n):
            if workers >> a & 1 and w[b + A_STATUS + a] == Status.WAITING:
                w[b + A_STATUS + a] = Status.RUNNABLE
                w[b + A_TIMEDOUT + a] = 1
                return a
        blocked = any(w[b + A_STATUS + a] == Status.BLOCKED for a in range(n))
        if not blocked and all(
            w[b + A_STATUS + a] == Status.FINISHED for a in range(n) if workers >> a & 1
        ):
            self._end(Outcome.DONE)
        else:
            mask = sum(1 << a for a in range(n) if w[b + A_STATUS + a] == Status.BLOCKED)
            w[b + S_DEADLOCK_MASK] = mask
            self.history.append(self.id, Ev.DEADLOCK, mask)
            self._end(Outcome.DEADLOCK)
        return None

    def _end(self, outcome: Outcome) -> None:
        w, b = self._w, self._b
        if w[b + S_OUTCOME] == Outcome.RUNNING:
            w[b + S_OUTCOME] = outcome
            if outcome == Outcome.LIMIT:
                self.history.append(self.id, Ev.LIMIT, w[b + S_STEPS])
            self._ctl.release()

    def _switch_to(self, nxt: int) -> None:
        w, b = self._w, self._b
        w[b + S_CURRENT] = nxt
        w[b + S_SWITCHES] += 1
        self._sems[nxt].release()
        self._wait_turn()

    def _wait_turn(self) -> None:
        if self._ended:
            raise RunAborted
        self._sems[self.id].acquire()
        cmd = self._w[self._b + S_CMD]
        if cmd == Cmd.EXIT:  # the pool is closing (e.g. Ctrl-C during a run)
            self._ctl.release()
            os._exit(0)
        if cmd != Cmd.RUN:
            self._ended = True
            raise RunAborted

    def _spin_until(self, ready: Callable[[], bool], soft: bool) -> bool:
        deadline = time.monotonic() + FREE_SOFT_TIMEOUT if soft else None
        spins = 0
        while not ready():
            if self._w[self._b + S_STOP] == 2:
                raise RunAborted
            if deadline is not None and time.monotonic() > deadline:
                return False
            spins += 1
            if spins < 20:
                os.sched_yield()
            else:
                time.sleep(min(1e-3, 1e-5 * spins))
        return True


def format_run(
    w: memoryview,
    base: int,
    *,
    mode: Mode,
    kinds: list[int],
    workers_mask: int,
    seed: int,
    policy: Policy = Policy.PCT,
    depth: int = 3,
    choices: list[int] | None = None,
    max_steps: int = 200_000,
    expected_steps: int = 400,
) -> int:
    """Prepare the scheduler words for one run; returns the first actor to run.

    PCT (Burckhardt et al.): distinct random priorities above ``depth``; ``depth - 1``
    change points drawn uniformly from the first ``expected_steps`` steps.
    """
    n = len(kinds)
    if not 1 <= n <= MAX_ACTORS:
        raise ValueError(f"1..{MAX_ACTORS} actors, not {n}")
    w[base : base + WORDS] = memoryview(bytes(4 * WORDS)).cast("I")
    rng = random.Random(seed)
    w[base + S_MODE] = mode
    w[base + S_NACT] = n
    w[base + S_MAXSTEPS] = max_steps
    w[base + S_POLICY] = policy
    w[base + S_WORKERS] = workers_mask
    w[base + S_SEED] = seed & 0xFFFFFFFF
    w[base + S_CMD] = Cmd.RUN
    prios = rng.sample(range(depth + 1, depth + 1 + n), n)
    for a in range(n):
        w[base + A_STATUS + a] = Status.RUNNABLE
        w[base + A_PRIO + a] = prios[a]
        w[base + A_KIND + a] = kinds[a]
    changes = sorted(rng.sample(range(1, max(expected_steps, depth + 1)), max(0, depth - 1)))
    for k, c in enumerate(changes[:MAX_CHANGES]):
        w[base + CHANGES + k] = c
    w[base + S_NEXTCHANGE] = changes[0] if changes else 0
    if policy in (Policy.CHOICES, Policy.WALK):
        picks = (choices or [])[:MAX_CHOICES]
        for k, c in enumerate(picks):
            w[base + CHOICES + k] = c & 0xFFFFFFFF
        w[base + S_NCHOICES] = len(picks)
    if policy == Policy.PCT:
        first = max(range(n), key=lambda a: prios[a])
    else:
        c0 = choices[0] if choices else 0
        first = ((c0 >> 2) if policy == Policy.WALK else c0) % n
        if choices:
            w[base + S_CURSOR] = 1
    w[base + S_CURRENT] = first
    return first
