"""The scheduler's words in the run segment: one layout, read by both sides (the actors'
:class:`~ccwfuzz.sync.sched.Context` and the pool's
:class:`~ccwfuzz.sync.control.Controller`) and by the schedule policies."""

from __future__ import annotations

import enum

MAX_ACTORS = 16
MAX_CHANGES = 16
#: Choices a schedule may carry, and decisions a run records.
MAX_CHOICES = 1 << 16
MAX_DECISIONS = 1 << 16

# ---- run header ---------------------------------------------------------------------
(S_MODE, S_NACT, S_CURRENT, S_STEPS, S_SWITCHES, S_OUTCOME, S_DIRTY, S_MAXSTEPS,
 S_POLICY, S_CURSOR, S_NCHOICES, S_CHANGE_IDX, S_NEXTCHANGE, S_CMD, S_WORKERS,
 S_STOP, S_SEED, S_NCHANGES, S_DEADLOCK_MASK, S_CRASHED, S_RUNNABLE,
 S_NDECISIONS, S_DUE, S_DUE_ACTOR, S_HOT, S_ASLEEP, S_SOFTWAIT) = range(27)  # fmt: skip
# S_DUE: the step at which S_DUE_ACTOR (the channel) has a hardware event due (0: none)
# S_HOT: the decision being made is at a hot point (a lock acquire, an FSM state access)
# S_ASLEEP, S_SOFTWAIT: free mode, actors asleep on their doorbells, and the workers
# among them in a timed wait (sync.sched.Context._sleep_until)
# ---- per actor ----------------------------------------------------------------------
A_STATUS = 32
A_PRIO = A_STATUS + MAX_ACTORS
A_ON = A_PRIO + MAX_ACTORS
A_TIMEDOUT = A_ON + MAX_ACTORS
A_KIND = A_TIMEDOUT + MAX_ACTORS
A_STARTED = A_KIND + MAX_ACTORS  # the actor took this run's RUN post
A_OP = A_STARTED + MAX_ACTORS  # the op an actor is in: code << 16 | (sch + 1), 0 = none
A_FREE_STEPS = A_OP + MAX_ACTORS  # free mode: points each actor passed (no shared counter)
CHANGES = A_FREE_STEPS + MAX_ACTORS
#: Everything above is cleared for every run; the two lists below are not (their
#: lengths are in the header).
HEADER = CHANGES + MAX_CHANGES
CHOICES = HEADER
DECISIONS = CHOICES + MAX_CHOICES
WORDS = DECISIONS + MAX_DECISIONS


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
    HANG = 5  # no end within the wall-clock limit
    LOST = 6  # an actor process died: a fault of the tool, never a finding


class Cmd(enum.IntEnum):
    IDLE = 0
    RUN = 1
    END = 2
    EXIT = 3
    HANDOFF = 4  # benchmark: pass the token around with bare semaphores


class Mode(enum.Enum):
    """Controlled: deterministic, one actor at a time; free: truly parallel."""

    CONTROLLED = "controlled"
    FREE = "free"

    @property
    def code(self) -> int:
        return 1 if self is Mode.CONTROLLED else 2


#: Free-mode stop requests (``S_STOP``): daemons wind down, or everybody aborts.
STOP_DAEMONS, STOP_ABORT = 1, 2
