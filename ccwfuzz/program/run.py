"""What an executor takes and gives back: :class:`RunRequest` in, :class:`RunResult` out,
both plain data, behind the one :class:`Executor` interface every engine calls (search,
stress, and the fuzzer, minimizer, campaigns and plugin that build on them), as
syzkaller's fuzzer hands requests to its executor. Judging a result (oracles, replay,
minimization) needs only these types, never the process pool that produced them.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Protocol

from ccwfuzz.driver.contract import State
from ccwfuzz.program.ops import Program
from ccwfuzz.sync import Mode, Outcome
from ccwfuzz.sync.history import RECORD_WORDS, Record

#: Controlled runs end with LIMIT after this many scheduling points unless asked.
DEFAULT_MAX_STEPS = 200_000


def default_timeout(max_steps: int) -> float:
    """A wall-clock limit no run within ``max_steps`` reaches on a working machine:
    10 s, or ``max_steps`` at 20,000 points/s (about 7x slower than measured here)."""
    return max(10.0, max_steps / 20_000)


class RequestError(ValueError):
    """A request no run can satisfy (too large for the segment, longer than the step
    budget, the wrong shape for this executor): a usage error, not a finding."""


@dataclasses.dataclass(frozen=True)
class RunRequest:
    """Run ``program`` once. ``seed`` drives free-mode jitter only (a controlled run is
    a function of the program and its schedule). ``timeout`` is the wall-clock limit in
    seconds; by default it grows with ``max_steps`` (:func:`default_timeout`)."""

    program: Program
    mode: Mode = Mode.CONTROLLED
    timeout: float | None = None
    max_steps: int = DEFAULT_MAX_STEPS
    seed: int = 0


@dataclasses.dataclass
class RunResult:
    """What a run produced: its outcome, the history, end-of-run driver state and the
    schedule decisions it took (an explicit choice list that replays it)."""

    outcome: Outcome
    raw: bytes  # the history ring's records, oldest first, as native 32-bit words
    steps: int
    switches: int
    elapsed: float
    states: list[State]
    cp_live: list[bool]
    deadlock_mask: int = 0
    crashed_mask: int = 0
    #: SCSW word 0 of every subchannel when the run ended.
    end_scsw: list[int] = dataclasses.field(default_factory=list)
    lost: int = 0  # history records overwritten (ring too small)
    #: Per worker, the op it was in when the run ended: (op code, sch), or None.
    current_ops: list[tuple[int, int] | None] = dataclasses.field(default_factory=list)
    #: Controlled: every decision among two or more runnable actors, as the index of
    #: the chosen one (a ``choices`` schedule). Free: the actor of every history record.
    decisions: tuple[int, ...] = ()
    #: The run took more decisions than the segment records: no exact replay.
    decisions_truncated: bool = False
    #: Why the run is inconclusive (a tool fault such as a killed actor), else "".
    fault: str = ""
    #: The FSM state each subchannel started the run in (the driver's initial_state).
    initial_states: list[State] = dataclasses.field(default_factory=list)
    #: Per crashed actor, the formatted traceback of what it raised (last frames).
    crashes: dict[int, str] = dataclasses.field(default_factory=dict)
    #: Coverage features the actors recorded (block ids and domain signal, see
    #: :mod:`ccwfuzz.coverage`), ascending; empty unless the executor records them.
    signal: tuple[int, ...] = ()

    @functools.cached_property
    def records(self) -> list[Record]:
        words = iter(memoryview(self.raw).cast("I").tolist())
        return list(map(Record, zip(*[words] * RECORD_WORDS, strict=False)))

    @property
    def inconclusive(self) -> bool:
        """How the run ended says nothing about the driver: the tool lost an actor, or
        the run hit its wall-clock limit (which machine load alone can cause; livelocks
        end at the step budget instead, in both modes)."""
        return self.outcome in (Outcome.LOST, Outcome.HANG)


class Executor(Protocol):
    """Runs requests; the persistent actor pool (:class:`ccwfuzz.exec.Pool`) is one."""

    target: str
    nsch: int
    nworkers: int

    def run(self, request: RunRequest) -> RunResult: ...

    def lock_names(self) -> dict[int, str]: ...
