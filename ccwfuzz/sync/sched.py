"""Scheduling points and the actors' side of the controlled scheduler and free mode.

Design notes (what must stay true):

* **One token.** In controlled mode exactly one actor process runs between scheduling
  points. The running actor decides who runs next *itself*, from shared state only, and
  hands the token over by posting that actor's semaphore and waiting on its own: one
  process wake per switch, and no wake at all when the decision is "keep running".
* **Determinism.** A decision depends only on segment state and the schedule (a policy
  of :mod:`ccwfuzz.sync.policy`). Same program + same schedule gives the same sequence
  of decisions, hence the same history.
* **Every decision is recorded.** Each time two or more actors could run, the index of
  the chosen one among them goes into the decision log in the segment, whichever policy
  decided; replayed with the ``choices`` policy that list gives the same run again.
  The runnable set is kept as a bitmask word, so recording a "keep running" decision
  costs a few word operations.
* **Stalls are decided, not waited out.** When nobody is runnable, a worker in a timed
  wait (``soft``) times out; otherwise, if every worker finished the run is done, else it
  is a deadlock, reported with who waits on what.
* **Unwinding.** When a run ends the controller posts every actor once with END; an
  actor parked inside its body unwinds with :class:`RunAborted`, and every actor acks.
* **Free mode.** The same code runs with the scheduler stepped aside: points add jitter
  (drawn from the one choice source, seeded per run and actor), and state changes of our
  primitives go through one fork-shared lock (:meth:`Context.atomic`), because Python has
  no compare-and-swap on shared memory. A wait yields the CPU a few times, then sleeps
  on the actor's *doorbell* (an unnamed semaphore): a primitive computes its waiters'
  mask under the lock before it wakes them, and :meth:`Context.wake` rings their bells,
  so no wakeup is lost and nobody polls. A woken wait returns to its primitive, which
  looks again (a bell may be stale: it only costs one more look). The parent sleeps on
  its own bell, rung when a worker finishes and when a daemon idles after every worker
  has finished (the run may be quiet: time to stop the daemons).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from typing import Any

from ccwfuzz.choices import RandomSource, derive
from ccwfuzz.sync.feedback import Feedback
from ccwfuzz.sync.history import Ev, History
from ccwfuzz.sync.policy import BY_CODE
from ccwfuzz.sync.policy.base import SchedulePolicy
from ccwfuzz.sync.words import (
    A_FREE_STEPS,
    A_ON,
    A_OP,
    A_STATUS,
    A_TIMEDOUT,
    DECISIONS,
    MAX_DECISIONS,
    S_ASLEEP,
    S_CMD,
    S_CRASHED,
    S_CURRENT,
    S_DEADLOCK_MASK,
    S_DIRTY,
    S_DUE,
    S_DUE_ACTOR,
    S_HOT,
    S_MAXSTEPS,
    S_MODE,
    S_NACT,
    S_NDECISIONS,
    S_OUTCOME,
    S_POLICY,
    S_RUNNABLE,
    S_SEED,
    S_SOFTWAIT,
    S_STEPS,
    S_STOP,
    S_SWITCHES,
    S_WORKERS,
    STOP_ABORT,
    Cmd,
    Mode,
    Outcome,
    Status,
)

#: How long a timed wait (wait_irq, a daemon idling) lasts in free mode, in seconds.
FREE_SOFT_TIMEOUT = 0.005
#: Free mode: yields before a wait sleeps on its doorbell (most waits here are short:
#: a lock held for a few points, an interrupt a channel step away).
FREE_YIELDS = 3
#: Free mode: longest sleep on a doorbell before looking again (a safety net: every
#: state change a wait depends on rings the bell).
FREE_BELL_SLICE = 0.02
_NULL = contextlib.nullcontext()


#: Free mode: tries to take the interlock before sleeping on it. Its holders keep it
#: for a few microseconds, and waking a sleeper on the other CPU costs ~45 us (DESIGN
#: section 3): a short try loop takes most contended acquires without a sleep.
INTERLOCK_TRIES = 40


class Interlock:
    """The fork-shared lock of free mode (a ``multiprocessing`` RLock): try a few
    times, then sleep on it."""

    __slots__ = ("_acquire", "_release")

    def __init__(self, lock: Any) -> None:
        self._acquire = lock.acquire
        self._release = lock.release

    def __enter__(self) -> Interlock:
        acquire = self._acquire
        for _ in range(INTERLOCK_TRIES):
            if acquire(False):
                return self
        acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release()


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
        bells: list[Any],
        parent_bell: Any,
        feedback: Feedback | None = None,
    ) -> None:
        self.id = actor
        self._w = w
        self._b = base
        self.history = history
        self._sems = sems
        self._ctl = ctl
        self._lock = Interlock(interlock)
        #: Free mode: every actor's doorbell (:meth:`wake` rings them), and the parent's.
        self._bells = bells
        self._bell = bells[actor]
        self._parent_bell = parent_bell
        self.spin_depth = 0  # spin locks held (atomic context)
        self.irq = False  # running the interrupt top half
        self._jitter = RandomSource(0)
        self._policy = BY_CODE[0]  # set from the segment by begin_run
        self._stepped = False  # the policy has a step hook (PCT's change points)
        self.controlled = True
        self._ended = False  # this actor consumed its END post: unwinding, never block
        #: Writes the fuzzer's domain signal as records are appended (controlled runs).
        self.feedback = feedback
        self._signal: Feedback | None = None

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
        self.controlled = w[b + S_MODE] == Mode.CONTROLLED.code
        self._ended = False
        self.spin_depth = 0
        self.irq = False
        if self.controlled:
            self._policy = BY_CODE[w[b + S_POLICY]]
            self._stepped = type(self._policy).step is not SchedulePolicy.step
            self._signal = self.feedback
            if self.feedback is not None:
                self.feedback.begin_run(w[b + S_WORKERS], w[b + S_NACT])
        else:
            self._signal = None
            self._jitter = RandomSource(derive(w[b + S_SEED], self.id))
            while self._bell.acquire(False):
                pass  # rung after the last run's waits were over

    # ---- history ---------------------------------------------------------------------
    def record(self, kind: Ev, a0: int = 0, a1: int = 0, a2: int = 0, a3: int = 0,
               a4: int = 0) -> None:  # fmt: skip
        if self._ended:
            return  # unwinding after the run ended: not part of the run's history
        if self.controlled:
            self.history.append(self.id, kind, a0, a1, a2, a3, a4)
            if self._signal is not None:
                self._signal.record(kind, a0, a1, a2, a3, a4)
        else:
            with self._lock:
                self.history.append(self.id, kind, a0, a1, a2, a3, a4)

    def atomic(self) -> contextlib.AbstractContextManager[Any]:
        """Make a read-modify-write of shared words atomic across processes (free mode
        only; in controlled mode nobody else runs, and this is a no-op)."""
        return _NULL if self.controlled else self._lock

    # ---- scheduling points -------------------------------------------------------------
    def point(self, hot: int = 0) -> None:
        """A scheduling point: in controlled mode the schedule may switch actors here;
        in free mode a little random jitter. ``hot``: a point where a switch is most
        likely to matter (a lock acquire, an FSM state access); the walks switch there
        more often (:mod:`ccwfuzz.sync.policy.walk`)."""
        w, b = self._w, self._b
        if self._ended:
            raise RunAborted  # a finally: block of an unwinding actor: do not wait again
        if not self.controlled:
            if w[b + S_STOP] == STOP_ABORT:
                raise RunAborted
            w[b + A_FREE_STEPS + self.id] += 1  # the step budget, free: a count, not a clock
            r = self._jitter.draw(100)
            if r < 5:
                os.sched_yield()
            elif r < 6:
                time.sleep(20e-6)
            return
        self._tick()
        due = w[b + S_DUE]
        if due and w[b + S_STEPS] >= due:
            self._due()
        mask = w[b + S_RUNNABLE]
        if not mask & (mask - 1):
            return  # only this actor can run: nothing to decide, nothing to record
        if not self._policy.decides_every_point and not w[b + S_DIRTY]:
            self._log(mask, self.id)  # nothing changed since the last decision: stay
            return
        w[b + S_DIRTY] = 0
        w[b + S_HOT] = hot
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
            return self._sleep_until(ready, soft)
        w, b, me = self._w, self._b, self.id
        # A wait counts as a step: a retry loop that keeps timing out (nobody else can
        # run) must still run into the step budget instead of spinning forever.
        self._tick()
        self._set_status(me, Status.WAITING if soft else Status.BLOCKED)
        w[b + S_HOT] = 0
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
        """Make the actors in ``mask`` runnable again (controlled mode), or ring their
        doorbells (free mode: called under :meth:`atomic`, with the state change the
        waiters wait for, so a sleeper cannot be counted asleep once it is woken)."""
        if not mask:
            return
        w, b = self._w, self._b
        if not self.controlled:
            w[b + S_ASLEEP] &= ~mask
            w[b + S_SOFTWAIT] &= ~mask
            while mask:
                low = mask & -mask
                self._bells[low.bit_length() - 1].release()
                mask ^= low
            return
        for a in range(w[b + S_NACT]):
            if mask >> a & 1 and w[b + A_STATUS + a] in (Status.BLOCKED, Status.WAITING):
                self._set_status(a, Status.RUNNABLE)
                w[b + A_TIMEDOUT + a] = 0
                w[b + S_DIRTY] = 1

    def steps(self) -> int:
        """Scheduling steps this run has taken so far, by all actors (free mode: the
        points they passed, summed)."""
        w, b = self._w, self._b
        if self.controlled:
            return int(w[b + S_STEPS])
        return sum(w[b + A_FREE_STEPS : b + A_FREE_STEPS + w[b + S_NACT]].tolist())

    def due_at(self, step: int) -> None:
        """This actor (the channel) has something due at scheduling step ``step`` and
        is about to idle: at that step, whoever runs hands it the token (controlled
        mode; 0 cancels). A hardware event then fires where the schedule put it, not
        when the channel next happens to run."""
        w, b = self._w, self._b
        w[b + S_DUE_ACTOR] = self.id
        w[b + S_DUE] = step

    def stopping(self) -> bool:
        """Free mode: the controller asked daemons to wind down."""
        return bool(self._w[self._b + S_STOP])

    def done(self, actor: int) -> bool:
        """Whether ``actor`` has finished (or crashed) in this run."""
        return self._w[self._b + A_STATUS + actor] in (Status.FINISHED, Status.CRASHED)

    # ---- finishing (actor side) ----------------------------------------------------------
    def finish(self, crashed: bool = False) -> None:
        """The actor's body returned (or raised): mark it and pass the token on."""
        w, b, me = self._w, self._b, self.id
        with self.atomic():
            self._set_status(me, Status.CRASHED if crashed else Status.FINISHED)
            if crashed:
                w[b + S_CRASHED] |= 1 << me
            if not self.controlled:
                self._nudge()  # the others may all be asleep now
        if not self.controlled:
            self._parent_bell.release()  # the parent may have a run to end
            return
        if crashed:
            self._end(Outcome.CRASH)
            return
        nxt = self._pick()
        if nxt is None:
            nxt = self._stall()
        if nxt is not None:
            w[b + S_CURRENT] = nxt
            self._sems[nxt].release()

    # ---- internals -----------------------------------------------------------------------
    def _set_status(self, a: int, status: Status) -> None:
        w, b = self._w, self._b
        w[b + A_STATUS + a] = status
        bit = 1 << a
        if status == Status.RUNNABLE:
            w[b + S_RUNNABLE] |= bit
        else:
            w[b + S_RUNNABLE] &= ~bit & 0xFFFFFFFF

    def _tick(self) -> None:
        """Count one step: the step budget (LIMIT) and the policy's step hook."""
        w, b = self._w, self._b
        steps = w[b + S_STEPS] + 1
        w[b + S_STEPS] = steps
        if steps >= w[b + S_MAXSTEPS]:
            self._end(Outcome.LIMIT)
            self._wait_turn()
        if self._stepped:
            self._policy.step(w, b, self.id, steps)

    def _due(self) -> None:
        """The step an idle actor asked for (:meth:`due_at`) has come: wake it and run
        it now. Not a decision of the schedule (the program says when), so nothing is
        logged: a replay makes the same switch at the same step."""
        w, b = self._w, self._b
        w[b + S_DUE] = 0
        who = w[b + S_DUE_ACTOR]
        status = w[b + A_STATUS + who]
        if status == Status.WAITING:
            self._set_status(who, Status.RUNNABLE)
            w[b + A_TIMEDOUT + who] = 0
        elif status != Status.RUNNABLE:
            return  # blocked on a lock: it fires when it gets it
        if who != self.id:
            self._switch_to(who)

    def _pick(self) -> int | None:
        """The next actor by the policy (recorded), or None if nobody can run."""
        w, b = self._w, self._b
        mask = w[b + S_RUNNABLE]
        if not mask:
            return None
        if not mask & (mask - 1):
            return mask.bit_length() - 1
        runnable = [a for a in range(w[b + S_NACT]) if mask >> a & 1]
        nxt = self._policy.pick(w, b, self.id, runnable, self.history.total)
        self._log(mask, nxt)
        return nxt

    def _log(self, mask: int, chosen: int) -> None:
        """Record a decision: the index of ``chosen`` among the runnable actors."""
        w, b = self._w, self._b
        n = w[b + S_NDECISIONS]
        if n < MAX_DECISIONS:
            w[b + DECISIONS + n] = (mask & ((1 << chosen) - 1)).bit_count()
        w[b + S_NDECISIONS] = n + 1

    def _stall(self) -> int | None:
        """Nobody is runnable: time out a waiting worker, or end the run."""
        w, b = self._w, self._b
        n, workers = w[b + S_NACT], w[b + S_WORKERS]
        for a in range(n):
            if workers >> a & 1 and w[b + A_STATUS + a] == Status.WAITING:
                self._set_status(a, Status.RUNNABLE)
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

    def _sleep_until(self, ready: Callable[[], bool], soft: bool) -> bool:
        """Free mode: wait until ``ready()`` or a ring of this actor's doorbell (then
        True: the caller looks again); False if a ``soft`` wait timed out.

        A worker's timed wait times out as in controlled mode when nobody else can run
        (every other actor asleep or finished; :meth:`_nudge`), and after
        :data:`FREE_SOFT_TIMEOUT` at the latest."""
        bell = self._bell
        w, b, me = self._w, self._b, self.id
        for _ in range(FREE_YIELDS):
            if ready():
                return True
            if w[b + S_STOP] == STOP_ABORT:
                raise RunAborted
            os.sched_yield()
        bit = 1 << me
        with self._lock:
            w[b + A_TIMEDOUT + me] = 0
            w[b + S_ASLEEP] |= bit
            if soft and w[b + S_WORKERS] & bit:
                w[b + S_SOFTWAIT] |= bit
            self._nudge()
        self._tell_parent()
        deadline = time.monotonic() + FREE_SOFT_TIMEOUT if soft else None
        try:
            while not ready():
                if w[b + S_STOP] == STOP_ABORT:
                    raise RunAborted
                if w[b + A_TIMEDOUT + me]:
                    return False
                left = FREE_BELL_SLICE
                if deadline is not None:
                    left = min(left, deadline - time.monotonic())
                    if left <= 0:
                        return False
                if bell.acquire(timeout=left):
                    return not w[b + A_TIMEDOUT + me] or ready()
            return True
        finally:
            with self._lock:
                w[b + S_ASLEEP] &= ~bit
                w[b + S_SOFTWAIT] &= ~bit

    def _nudge(self) -> None:
        """Free mode, under :meth:`atomic`: when every actor is asleep or finished,
        nobody can make a timed wait's event happen: time out the lowest worker in
        one (as :meth:`_stall` does in controlled mode) instead of letting the run sit
        out the whole timeout."""
        w, b = self._w, self._b
        soft = w[b + S_SOFTWAIT]
        if not soft:
            return
        asleep = w[b + S_ASLEEP]
        for a in range(w[b + S_NACT]):
            if not asleep >> a & 1 and w[b + A_STATUS + a] < Status.FINISHED:
                return  # somebody is awake
        a = (soft & -soft).bit_length() - 1
        w[b + A_TIMEDOUT + a] = 1
        w[b + S_ASLEEP] &= ~(1 << a)
        w[b + S_SOFTWAIT] &= ~(1 << a)
        if a != self.id:
            self._bells[a].release()

    def _tell_parent(self) -> None:
        """A daemon about to sleep once every worker has finished: the run may be
        quiet, so ring the parent, which decides whether to stop the daemons."""
        w, b = self._w, self._b
        workers = w[b + S_WORKERS]
        if workers >> self.id & 1:
            return
        for a in range(w[b + S_NACT]):
            if workers >> a & 1 and w[b + A_STATUS + a] < Status.FINISHED:
                return
        self._parent_bell.release()

    def _spin_until(self, ready: Callable[[], bool], soft: bool) -> bool:
        deadline = time.monotonic() + FREE_SOFT_TIMEOUT if soft else None
        spins = 0
        while not ready():
            if self._w[self._b + S_STOP] == STOP_ABORT:
                raise RunAborted
            if deadline is not None and time.monotonic() > deadline:
                return False
            spins += 1
            if spins < 20:
                os.sched_yield()
            else:
                time.sleep(min(1e-3, 1e-5 * spins))
        return True
