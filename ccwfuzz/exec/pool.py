"""A persistent pool of actor processes sharing one run segment.

Actors are forked once and reused: between runs the segment is reset (channel
subsystem re-formatted, driver words and primitives zeroed, history emptied), and each
run costs only the hand-offs it makes. Actors die with the parent (``PR_SET_PDEATHSIG``,
plus a parent check), and the segment is the parent's, unlinked however it ends (see
:mod:`ccwfuzz.device.segment`); semaphores are fork-inherited and unnamed.

Controlled runs pin the whole pool (and the controller) to one CPU: the run is serial,
and a hand-off within one CPU costs ~5 us against ~45 us across CPUs (DESIGN section 3).
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import functools
import json
import multiprocessing as mp
import os
import signal
import time
import zlib
from typing import Any

from ccwfuzz.device import ChannelSubsystem, CssConfig, Segment, segment_size
from ccwfuzz.driver import resolve
from ccwfuzz.driver.contract import State
from ccwfuzz.driver.kernel import Kernel, arena_size, slots_needed, words_needed
from ccwfuzz.exec.actors import Env, channel_body, worker_body, workqueue_body
from ccwfuzz.program import Program
from ccwfuzz.program.encoding import events_from_list, ops_from_list, to_dict
from ccwfuzz.sync import Context, History, Mode, Outcome, Policy, RunAborted, Status, Table
from ccwfuzz.sync import sched as SC
from ccwfuzz.sync.history import RECORD_WORDS, Ev, Record, words_for
from ccwfuzz.sync.primitives import SLOT_WORDS

PROGRAM_BYTES = 1 << 17
PR_SET_PDEATHSIG = 1
ACTOR_WORKER, ACTOR_CHANNEL, ACTOR_WORKQUEUE = 1, 2, 3
GUEST_TOP = 0x20000


class PoolError(RuntimeError):
    pass


@dataclasses.dataclass
class RunResult:
    """What a run produced: its outcome, the history and end-of-run driver state."""

    outcome: Outcome
    raw: bytes  # the history ring's records, oldest first, as native 32-bit words
    steps: int
    switches: int
    elapsed: float
    states: list[State]
    cp_live: list[bool]
    deadlock_mask: int = 0
    crashed_mask: int = 0
    lost: int = 0  # history records overwritten (ring too small)
    #: Per worker, the op it was in when the run ended: (op code, sch), or None.
    current_ops: list[tuple[int, int] | None] = dataclasses.field(default_factory=list)

    @functools.cached_property
    def records(self) -> list[Record]:
        words = memoryview(self.raw).cast("I")
        step = RECORD_WORDS
        return [Record(words[k : k + step].tolist()) for k in range(0, len(words), step)]


@dataclasses.dataclass(frozen=True)
class Layout:
    """Byte offsets of the areas in a run segment (all 8-byte aligned)."""

    sched: int
    history: int
    table: int
    driver: int
    program: int
    css: int
    size: int
    history_capacity: int
    slots: int

    @staticmethod
    def compute(nsch: int, history_capacity: int, css_config: CssConfig) -> Layout:
        def align(x: int) -> int:
            return (x + 7) & ~7

        off = 0
        sched, off = off, align(off + 4 * SC.WORDS)
        hist, off = off, align(off + 4 * words_for(history_capacity))
        slots = slots_needed(nsch)
        table, off = off, align(off + 4 * slots * SLOT_WORDS)
        drv, off = off, align(off + 4 * words_needed(nsch))
        prog, off = off, align(off + PROGRAM_BYTES)
        css, off = off, align(off + segment_size(nsch, css_config))
        return Layout(sched, hist, table, drv, prog, css, off, history_capacity, slots)


def css_config(nsch: int) -> CssConfig:
    return CssConfig(memory_size=GUEST_TOP + arena_size(nsch), device_block=1024)


class Pool:
    """Actor processes for one (target, subchannels, workers) shape.

    Example:
        >>> from ccwfuzz.program import Op, Program
        >>> prog = Program(workers=((Op("open", 0), Op("read_schib", 0)),))
        >>> with Pool(workers=1) as pool:
        ...     pool.run(prog).outcome.name
        'DONE'
    """

    def __init__(
        self,
        target: str = "reference",
        subchannels: int = 2,
        workers: int = 3,
        history_capacity: int = 1 << 14,
        cpu: int | None = None,
    ) -> None:
        self.driver_cls = resolve(target)
        self.target = target
        self.nsch = subchannels
        self.nworkers = workers
        self.nactors = workers + 2
        if self.nactors > SC.MAX_ACTORS:
            raise ValueError(f"at most {SC.MAX_ACTORS - 2} workers")
        self.cfg = css_config(subchannels)
        self.layout = Layout.compute(subchannels, history_capacity, self.cfg)
        allowed = sorted(os.sched_getaffinity(0))
        self.cpu = cpu if cpu is not None else allowed[os.getpid() % len(allowed)]
        self._allowed = set(allowed)
        self._procs: list[mp.process.BaseProcess] = []
        self._seg: Segment | None = None
        self._gen = 0
        self.runs = 0
        self._start()

    # ---- lifecycle --------------------------------------------------------------------
    def _start(self) -> None:
        ctx = mp.get_context("fork")
        self._seg = Segment.create(self.layout.size)
        self._w = self._seg.words()
        self._sems = [ctx.Semaphore(0) for _ in range(self.nactors)]
        self._ctl = ctx.Semaphore(0)
        self._interlock = ctx.RLock()
        self._env = self._make_env(self._seg.buf)
        self._format_fresh()
        parent = os.getpid()
        for a in range(self.nactors):
            p = ctx.Process(target=_actor_main, args=(self, a, parent), daemon=True,
                            name=f"ccwfuzz-actor-{a}")  # fmt: skip
            p.start()
            self._procs.append(p)

    def _make_env(self, buf: memoryview) -> Env:
        lay = self.layout
        region = buf[lay.css : lay.css + segment_size(self.nsch, self.cfg)]
        self._region = region
        ChannelSubsystem.format(region, self.nsch, config=self.cfg)
        css = ChannelSubsystem(region)
        w = self._w
        table = Table(w, lay.table // 4, lay.slots)
        kernel = Kernel(css, w, buf, lay.driver // 4, table, GUEST_TOP)
        return Env(css, kernel, self.driver_cls(kernel))

    def _format_fresh(self) -> None:
        History.format(self._w, self.layout.history // 4, self.layout.history_capacity)
        self._env.kernel.format(self.driver_cls.initial_state)

    def close(self) -> None:
        """Stop the actors and release the segment. Idempotent."""
        if self._seg is None:
            return
        w, b = self._w, self.layout.sched // 4
        w[b + SC.S_CMD] = SC.Cmd.EXIT
        for s in self._sems:
            s.release()
        for p in self._procs:
            p.join(timeout=2)
            if p.is_alive():
                p.kill()
                p.join(timeout=2)
        self._procs.clear()
        self._release()

    def _release(self) -> None:
        self._env.css.close()
        self._region.release()
        self._w.release()
        assert self._seg is not None
        self._seg.close()
        self._seg = None

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def lock_names(self) -> dict[int, str]:
        """Names of the driver's locks by primitive slot (``io_mutex[0]``, ...), for
        readable findings and for the isolation and lock-order rules."""
        return self._env.kernel.lock_names()

    def pids(self) -> list[int]:
        return [p.pid for p in self._procs if p.pid is not None]

    def restart(self) -> None:
        """Kill every actor and start a fresh pool (after a hang)."""
        for p in self._procs:
            with contextlib.suppress(Exception):
                p.kill()
        for p in self._procs:
            p.join(timeout=2)
        self._procs.clear()
        self._release()
        self._start()

    # ---- one run ----------------------------------------------------------------------
    def run(self, program: Program, mode: str = "controlled", timeout: float = 10.0,
            max_steps: int = 200_000) -> RunResult:  # fmt: skip
        """Run ``program`` once; controlled (deterministic) or free (parallel)."""
        if self._seg is None:
            raise PoolError("pool is closed")
        if program.subchannels != self.nsch or len(program.workers) != self.nworkers:
            raise ValueError(
                f"program wants {program.subchannels} subchannels and {len(program.workers)} "
                f"workers; this pool has {self.nsch} and {self.nworkers}"
            )
        if program.target != self.target:
            raise ValueError(f"program targets {program.target!r}, pool runs {self.target!r}")
        controlled = mode == "controlled"
        self._reset(program)
        w, b = self._w, self.layout.sched // 4
        sched = program.schedule
        kinds = [ACTOR_WORKER] * self.nworkers + [ACTOR_CHANNEL, ACTOR_WORKQUEUE]
        first = SC.format_run(
            w, b, mode=Mode.CONTROLLED if controlled else Mode.FREE, kinds=kinds,
            workers_mask=(1 << self.nworkers) - 1, seed=sched.seed,
            policy={"pct": Policy.PCT, "walk": Policy.WALK}.get(sched.policy, Policy.CHOICES),
            depth=sched.depth, choices=list(sched.choices), max_steps=max_steps,
            expected_steps=40 * max(1, program.op_count()),
        )  # fmt: skip
        self._pin(controlled)
        try:
            return self._run(controlled, first, timeout)
        finally:
            self._unpin()

    def _run(self, controlled: bool, first: int, timeout: float) -> RunResult:
        w, b = self._w, self.layout.sched // 4
        t0 = time.perf_counter()
        if controlled:
            self._sems[first].release()
            if not self._ctl.acquire(timeout=timeout):
                return self._hang(t0)
        elif not self._free(timeout):
            return self._hang(t0)
        elapsed = time.perf_counter() - t0
        outcome = Outcome(w[b + SC.S_OUTCOME]) if controlled else self._free_outcome()
        w[b + SC.S_CMD] = SC.Cmd.END
        for s in self._sems:
            s.release()
        for _ in range(self.nactors):
            if not self._ctl.acquire(timeout=timeout):
                return self._hang(t0)
        self.runs += 1
        return self._result(outcome, elapsed)

    def bare_handoffs(self, count: int) -> float:
        """Benchmark: seconds for ``count`` bare semaphore hand-offs around the actor
        ring, all pinned to the pool's CPU (the floor for a controlled switch)."""
        w, b = self._w, self.layout.sched // 4
        self._pin(True)
        w[b + SC.S_CMD] = SC.Cmd.HANDOFF
        w[b + SC.S_STEPS] = count
        t0 = time.perf_counter()
        self._sems[0].release()
        self._ctl.acquire()
        elapsed = time.perf_counter() - t0
        w[b + SC.S_CMD] = SC.Cmd.END
        for s in self._sems:  # wake every actor parked in the ring; each acks
            s.release()
        for _ in range(self.nactors):
            self._ctl.acquire()
        self._unpin()
        return elapsed

    def _reset(self, program: Program) -> None:
        lay = self.layout
        ChannelSubsystem.format(self._region, self.nsch, config=self.cfg)
        self._format_fresh()
        # Each actor's part as its own JSON fragment: an actor decodes only what it runs.
        doc = to_dict(program)
        parts = [json.dumps(ops, separators=(",", ":")).encode() for ops in doc["workers"]]
        parts += [json.dumps(doc["channel"], separators=(",", ":")).encode(), b"[]"]
        header = 8 + 8 * len(parts)
        if header + sum(map(len, parts)) > PROGRAM_BYTES:
            raise ValueError("program too large for the run segment")
        assert self._seg is not None
        self._gen += 1
        sb, base = self._seg.buf, lay.program
        sb[base : base + 8] = len(parts).to_bytes(4, "little") + self._gen.to_bytes(4, "little")
        off = header
        for a, part in enumerate(parts):
            sb[base + 8 + 8 * a : base + 16 + 8 * a] = off.to_bytes(4, "little") + len(
                part
            ).to_bytes(4, "little")
            sb[base + off : base + off + len(part)] = part
            off += len(part)

    def _free(self, timeout: float) -> bool:
        w, b, n = self._w, self.layout.sched // 4, self.nactors
        hist = History(self._w, self.layout.history // 4)
        for s in self._sems:
            s.release()
        start = last_progress = time.monotonic()
        last_total, stop_at = -1, None
        k = self._env.kernel
        while True:
            time.sleep(0.0005)
            now = time.monotonic()
            statuses = [w[b + SC.A_STATUS + a] for a in range(n)]
            if Status.CRASHED in statuses or now - start > timeout:
                if Status.CRASHED not in statuses:
                    w[b + SC.S_OUTCOME] = Outcome.HANG  # a livelock in free mode
                w[b + SC.S_STOP] = 2
                break
            total = hist.total
            if total != last_total:
                last_total, last_progress = total, now
            elif now - last_progress > 2.0:  # no event for 2 s: a hang
                w[b + SC.S_OUTCOME] = Outcome.HANG
                w[b + SC.S_STOP] = 2
                break
            workers_done = all(s == Status.FINISHED for s in statuses[: self.nworkers])
            if workers_done and stop_at is None:
                quiet = not self._env.css.channel.busy() and not k.work_pending()
                if quiet and not self._env.css.pending_interruptions():
                    stop_at = now
                    w[b + SC.S_STOP] = 1
            if all(s in (Status.FINISHED, Status.CRASHED) for s in statuses):
                break
        # END may be posted only once every actor has taken its RUN post: an actor that
        # took RUN after END was set would ack twice (one stray post on ctl).
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            if all(w[b + SC.A_STARTED + a] for a in range(n)):
                return True
            time.sleep(0.0005)
        return False

    def _free_outcome(self) -> Outcome:
        w, b = self._w, self.layout.sched // 4
        if w[b + SC.S_CRASHED]:
            return Outcome.CRASH
        if w[b + SC.S_OUTCOME] == Outcome.HANG:
            return Outcome.HANG
        return Outcome.DONE

    def _hang(self, t0: float) -> RunResult:
        result = self._result(Outcome.HANG, time.perf_counter() - t0)
        self.restart()
        return result

    def _result(self, outcome: Outcome, elapsed: float) -> RunResult:
        w, b = self._w, self.layout.sched // 4
        hist = History(self._w, self.layout.history // 4)
        drv = self._env.driver
        return RunResult(
            outcome=outcome,
            raw=hist.raw(),
            steps=int(w[b + SC.S_STEPS]),
            switches=int(w[b + SC.S_SWITCHES]),
            elapsed=elapsed,
            states=[drv.state(s) for s in range(self.nsch)],
            cp_live=[drv.cp_live(s) for s in range(self.nsch)],
            deadlock_mask=int(w[b + SC.S_DEADLOCK_MASK]),
            crashed_mask=int(w[b + SC.S_CRASHED]),
            lost=max(0, hist.total - len(hist)),
            current_ops=[
                (v >> 16, (v & 0xFFFF) - 1) if (v := int(w[b + SC.A_OP + a])) else None
                for a in range(self.nworkers)
            ],
        )

    def _pin(self, controlled: bool) -> None:
        """Pin this (controller) process for a run; :meth:`_unpin` restores it."""
        cpus = {self.cpu} if controlled else self._allowed
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, cpus)

    def _unpin(self) -> None:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, self._allowed)


# ---- actor process ------------------------------------------------------------------------
def _die_with_parent(parent: int) -> None:
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _handoff(pool: Pool, me: int) -> None:
    """Benchmark body: pass a token around the ring of actors with bare semaphore
    posts (the cheapest cross-process hand-off these processes can make)."""
    w, b = pool._w, pool.layout.sched // 4
    want = {pool.cpu}
    with contextlib.suppress(OSError):
        os.sched_setaffinity(0, want)
    nxt = pool._sems[(me + 1) % pool.nactors]
    mine = pool._sems[me]
    while True:
        left = w[b + SC.S_STEPS]
        if left == 0:
            pool._ctl.release()
            return
        w[b + SC.S_STEPS] = left - 1
        nxt.release()
        mine.acquire()
        if w[b + SC.S_CMD] != SC.Cmd.HANDOFF:  # the END post: ack it here
            pool._ctl.release()
            return


def _actor_main(pool: Pool, me: int, parent: int) -> None:
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    assert pool._seg is not None
    lay = pool.layout
    w = pool._w
    sb = pool._seg.buf
    ctx = Context(me, w, lay.sched // 4, History(w, lay.history // 4), pool._sems, pool._ctl,
                  pool._interlock)  # fmt: skip
    env = pool._env
    body: Any
    decode: Any
    if me < pool.nworkers:
        body, decode = worker_body, ops_from_list
    elif me == pool.nworkers:
        body, decode = channel_body, events_from_list
    else:
        body, decode = workqueue_body, tuple
    gen, program, pinned = -1, None, None
    sem, ctl, b = pool._sems[me], pool._ctl, lay.sched // 4
    while True:
        sem.acquire()
        cmd = w[b + SC.S_CMD]
        if cmd == SC.Cmd.EXIT:
            ctl.release()
            os._exit(0)
        if cmd == SC.Cmd.HANDOFF:
            _handoff(pool, me)
            continue
        if cmd != SC.Cmd.RUN:
            ctl.release()
            continue
        w[b + SC.A_STARTED + me] = 1  # took this run's RUN post (free mode END waits)
        g = int.from_bytes(sb[lay.program + 4 : lay.program + 8], "little")
        if g != gen:
            entry = lay.program + 8 + 8 * me
            off = int.from_bytes(sb[entry : entry + 4], "little")
            n = int.from_bytes(sb[entry + 4 : entry + 8], "little")
            doc = json.loads(bytes(sb[lay.program + off : lay.program + off + n]))
            program = decode(doc)
            gen = g
        ctx.begin_run()
        want = {pool.cpu} if ctx.controlled else pool._allowed
        if want != pinned:
            with contextlib.suppress(OSError):
                os.sched_setaffinity(0, want)
            pinned = want
        assert program is not None
        try:
            body(ctx, env, program)
            ctx.finish()
        except RunAborted:
            if not ctx.controlled:
                sem.acquire()  # the END post this actor has not consumed yet
            ctl.release()
        except Exception as e:  # an actor crash is a finding, not the end of the pool
            if ctx.ended:  # raised while unwinding an ended run: just ack its END post
                ctl.release()
                continue
            ctx.record(Ev.CRASH, zlib.crc32(type(e).__name__.encode()) & 0xFFFF)
            ctx.finish(crashed=True)
