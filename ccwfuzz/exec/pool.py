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

import array
import contextlib
import ctypes
import dataclasses
import multiprocessing as mp
import multiprocessing.connection
import os
import signal
import time
import traceback
import zlib
from typing import Any

from ccwfuzz import coverage
from ccwfuzz.device import ChannelSubsystem, CssConfig, Segment, segment_size
from ccwfuzz.driver import State, resolve
from ccwfuzz.driver.kernel import Kernel, arena_size, frames_needed, slots_needed, words_needed
from ccwfuzz.exec.actors import Env, channel_body, worker_body, workqueue_body
from ccwfuzz.exec.passthrough import (
    DEVICE_BLOCK,
    EXPECT_WORDS,
    GUEST_TOP,
    Expectations,
    fill_patterns,
    on_deliver,
)
from ccwfuzz.program import Program
from ccwfuzz.program.flat import flatten_events, flatten_ops, unflatten_events, unflatten_ops
from ccwfuzz.program.run import RequestError, RunRequest, RunResult, default_timeout
from ccwfuzz.sync import Context, Controller, History, Mode, Outcome, RunAborted, Status, Table
from ccwfuzz.sync import words as W
from ccwfuzz.sync.control import LIVENESS_SLICE
from ccwfuzz.sync.feedback import AREA_BYTES, Feedback
from ccwfuzz.sync.history import RECORD_WORDS, Ev, words_for
from ccwfuzz.sync.primitives import SLOT_WORDS

#: The actors' plans (the flat form of the program) take at most this much segment.
PROGRAM_BYTES = 1 << 20
CRASH_BYTES = 2048  # per actor: the formatted traceback of what it raised (UTF-8, tail)
PR_SET_PDEATHSIG = 1
ACTOR_WORKER, ACTOR_CHANNEL, ACTOR_WORKQUEUE = 1, 2, 3
#: How long closing waits for the actors to exit before killing them, in seconds.
CLOSE_GRACE = 0.3
_ZERO_AREA = bytes(AREA_BYTES)


class PoolError(RuntimeError):
    pass


class DriverStartError(ValueError):
    """The driver class could not be constructed (bad input, reported in one line)."""


@dataclasses.dataclass(frozen=True)
class Layout:
    """Byte offsets of the areas in a run segment (all 8-byte aligned)."""

    sched: int
    history: int
    table: int
    driver: int
    program: int
    crash: int
    css: int
    size: int
    history_capacity: int
    slots: int
    expect: int = 0
    features: int = 0

    @staticmethod
    def compute(
        nsch: int, history_capacity: int, css_config: CssConfig, private_words: int = 0,
        private_locks: int = 0,
    ) -> Layout:  # fmt: skip
        def align(x: int) -> int:
            return (x + 7) & ~7

        off = 0
        sched, off = off, align(off + 4 * W.WORDS)
        hist, off = off, align(off + 4 * words_for(history_capacity))
        slots = slots_needed(nsch, private_locks)
        table, off = off, align(off + 4 * slots * SLOT_WORDS)
        drv, off = off, align(off + 4 * words_needed(nsch, private_words))
        prog, off = off, align(off + PROGRAM_BYTES)
        crash, off = off, align(off + CRASH_BYTES * W.MAX_ACTORS)
        expect, off = off, align(off + 4 * EXPECT_WORDS * W.MAX_ACTORS * nsch)
        features, off = off, align(off + AREA_BYTES)
        css, off = off, align(off + segment_size(nsch, css_config))
        return Layout(sched, hist, table, drv, prog, crash, css, off, history_capacity, slots,
                      expect, features)  # fmt: skip


#: Channel-subsystem code instrumented for block coverage besides the driver's own.
CHANNEL_MODULES = ("ccwfuzz.device.css", "ccwfuzz.device.channel", "ccwfuzz.device.devices")


def coverage_modules(driver_cls: type) -> list[str]:
    """The modules whose blocks a coverage pool records: every module of the driver
    class's bases (a zoo member and the reference it derives from, or an outside
    project's own), the reference's submodules when it is one of them, and the
    channel subsystem's code."""
    mods = {c.__module__ for c in driver_cls.__mro__ if c.__module__ not in ("builtins",)}
    if any(m.startswith("ccwfuzz.driver.reference") for m in mods):
        import sys

        mods |= {m for m in sys.modules if m.startswith("ccwfuzz.driver.reference.")}
    return sorted(mods | set(CHANNEL_MODULES))


def css_config(nsch: int) -> CssConfig:
    return CssConfig(memory_size=GUEST_TOP + arena_size(nsch), device_block=DEVICE_BLOCK,
                     host_frames=frames_needed(nsch))  # fmt: skip


class Pool:
    """Actor processes for one (target, subchannels, workers) shape.

    Implements :class:`ccwfuzz.program.Executor`: one request in, plain data out.

    Example:
        >>> from ccwfuzz.program import Open, Program, ReadSchib, RunRequest
        >>> prog = Program(workers=((Open(0), ReadSchib(0)),))
        >>> with Pool(workers=1) as pool:
        ...     pool.run(RunRequest(prog)).outcome.name
        'DONE'
    """

    def __init__(
        self,
        target: str = "reference",
        subchannels: int = 2,
        workers: int = 3,
        history_capacity: int = 1 << 14,
        cpu: int | None = None,
        coverage: bool = False,
        focus: tuple[str, ...] = (),
    ) -> None:
        self.driver_cls = resolve(target)
        self.target = target
        self.nsch = subchannels
        self.nworkers = workers
        self.nactors = workers + 2
        if self.nactors > W.MAX_ACTORS:
            raise ValueError(f"at most {W.MAX_ACTORS - 2} workers")
        self.cfg = css_config(subchannels)
        # Optional in a driver class: its own words and primitives per subchannel.
        self._private_words = int(getattr(self.driver_cls, "private_words", 0))
        self._private_locks = tuple(getattr(self.driver_cls, "private_locks", ()))
        self.layout = Layout.compute(subchannels, history_capacity, self.cfg,
                                     self._private_words, len(self._private_locks))  # fmt: skip
        allowed = sorted(os.sched_getaffinity(0))
        self.cpu = cpu if cpu is not None else allowed[os.getpid() % len(allowed)]
        self._allowed = set(allowed)
        self._procs: list[mp.process.BaseProcess] = []
        self._seg: Segment | None = None
        self._gen = 0
        self.runs = 0
        self._signal: tuple[int, ...] = ()
        #: Record features (block coverage of driver and channel code, domain signal)
        #: in the segment's feature map; each result carries them as ``signal``.
        #: ``focus``: only these modules' blocks, and no domain signal (as libFuzzer's
        #: -focus_function aims at one part of a program).
        self.coverage = coverage
        self.focus = focus
        if coverage:
            self.instrumented = list(focus) or coverage_modules(self.driver_cls)
            _instrument(self.instrumented)
        self._start()

    # ---- lifecycle --------------------------------------------------------------------
    def _start(self) -> None:
        ctx = mp.get_context("fork")
        self._seg = Segment.create(self.layout.size)
        self._w = self._seg.words()
        self._sems = [ctx.Semaphore(0) for _ in range(self.nactors)]
        self._ctl = ctx.Semaphore(0)
        # Free mode: each actor's doorbell, and the parent's (sync.sched design notes).
        self._bells = [ctx.Semaphore(0) for _ in range(self.nactors)]
        self._parent_bell = ctx.Semaphore(0)
        self.control = Controller(self._w, self.layout.sched // 4, self._sems, self._ctl,
                                  self._bells)  # fmt: skip
        self._interlock = ctx.RLock()
        lay = self.layout
        self._features = self._seg.buf[lay.features : lay.features + AREA_BYTES]
        self._map = self._features[: coverage.FEATURES]
        self._bind()
        try:
            self._env = self._make_env(self._seg.buf)
            self._format_fresh()
        except Exception as e:  # the driver's own code (its constructor) failed: bad input
            if coverage.bound() is self._map:
                coverage.bind(None)
            self._map.release()
            self._features.release()
            self._w.release()
            self._seg.close()
            self._seg = None
            raise DriverStartError(f"driver {self.target!r} cannot start: "
                                   f"{type(e).__name__}: {e}") from None  # fmt: skip
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
        try:
            kernel = Kernel(css, w, buf, lay.driver // 4, table, GUEST_TOP,
                            self._private_words, self._private_locks)  # fmt: skip
            slots = Expectations(w, lay.expect // 4, self.nsch)
            return Env(css, kernel, self.driver_cls(kernel), slots)
        except BaseException:
            css.close()
            region.release()
            raise

    def _bind(self) -> None:
        """Point instrumented code at this pool's map (a pool without coverage at a
        dummy), so actors forked now never write into another pool's segment."""
        coverage.bind(self._map if self.coverage else None,
                      self.instrumented if self.coverage else None)  # fmt: skip

    def _format_fresh(self) -> None:
        History.format(self._w, self.layout.history // 4, self.layout.history_capacity)
        self._env.kernel.format(self.driver_cls.initial_state)

    def close(self) -> None:
        """Stop the actors and release the segment. Idempotent, and quick: actors in
        a free run abort at their next point, the rest are killed after a grace."""
        if self._seg is None:
            return
        self.control.exit_actors()
        deadline = time.monotonic() + CLOSE_GRACE
        for p in self._procs:
            p.join(timeout=max(0.0, deadline - time.monotonic()))
        for p in self._procs:
            if p.is_alive():
                p.kill()
                p.join(timeout=2)
        self._procs.clear()
        self._release()

    def alive(self) -> bool:
        """Every actor process is still running."""
        return not mp.connection.wait([p.sentinel for p in self._procs], timeout=0)

    def _release(self) -> None:
        if coverage.bound() is self._map:
            coverage.bind(None)  # the map is about to go away with the segment
        self._map.release()
        self._features.release()
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
    def run(self, request: RunRequest) -> RunResult:
        """Run ``request.program`` once; controlled (deterministic) or free (parallel).
        Raises :class:`~ccwfuzz.program.RequestError` for a request no run can satisfy."""
        if self._seg is None:
            raise PoolError("pool is closed")
        program, mode = request.program, request.mode
        if not isinstance(mode, Mode):
            raise RequestError(f"mode must be a Mode, not {mode!r}")
        if program.subchannels != self.nsch or len(program.workers) != self.nworkers:
            raise RequestError(
                f"program wants {program.subchannels} subchannels and {len(program.workers)} "
                f"workers; this pool has {self.nsch} and {self.nworkers}"
            )
        if program.target != self.target:
            raise RequestError(f"program targets {program.target!r}, pool runs {self.target!r}")
        if mode == Mode.CONTROLLED and program.min_steps() >= request.max_steps:
            raise RequestError(f"program needs at least {program.min_steps()} scheduling points;"
                               f" the step budget is {request.max_steps}")  # fmt: skip
        controlled = mode == Mode.CONTROLLED
        self._reset(program)
        sched = program.schedule
        kinds = [ACTOR_WORKER] * self.nworkers + [ACTOR_CHANNEL, ACTOR_WORKQUEUE]
        first = self.control.format_run(
            mode=mode, kinds=kinds, workers_mask=(1 << self.nworkers) - 1,
            policy=sched.policy, priorities=sched.priorities, changes=sched.changes,
            choices=sched.choices, max_steps=request.max_steps, seed=request.seed,
        )  # fmt: skip
        self._pin(controlled)
        try:
            timeout = request.timeout or default_timeout(request.max_steps)
            return self._run(mode, first, timeout)
        finally:
            self._unpin()

    def _run(self, mode: Mode, first: int, timeout: float) -> RunResult:
        c = self.control
        t0 = time.perf_counter()
        if mode == Mode.CONTROLLED:
            c.post(first)
            status = c.wait_end(timeout, self.alive)
        else:
            status = self._free(timeout)
        elapsed = time.perf_counter() - t0
        # Before the actors unwind and the parent reads driver state: only the run.
        self._signal = tuple(coverage.features(self._map)) if self.coverage else ()
        if status == "ok":
            outcome = c.outcome if mode == Mode.CONTROLLED else self._free_outcome()
            if c.end_run(timeout, self.alive) != "ok":  # the run is over; unwinding is not
                return self._failed(mode, "lost", t0, "an actor did not finish the run")
        if status != "ok":
            return self._failed(mode, status, t0)
        self.runs += 1
        return self._result(outcome, mode, elapsed)

    def bare_handoffs(self, count: int) -> float:
        """Benchmark: seconds for ``count`` bare semaphore hand-offs around the actor
        ring, all pinned to the pool's CPU (the floor for a controlled switch)."""
        self._pin(True)
        t0 = time.perf_counter()
        self.control.handoff(count)
        self._ctl.acquire()
        elapsed = time.perf_counter() - t0
        self.control.end_run(10.0, self.alive)  # wake every actor parked in the ring
        self._unpin()
        return elapsed

    def _reset(self, program: Program) -> None:
        lay = self.layout
        for a in range(self.nactors):
            self._w[lay.crash // 4 + a * CRASH_BYTES // 4] = 0
        ChannelSubsystem.format(self._region, self.nsch, config=self.cfg)
        fill_patterns(self._env.css)
        if self.coverage:  # after formatting: the parent's own calls are not the run's
            self._features[:AREA_BYTES] = _ZERO_AREA
        self._env.slots.clear()
        self._format_fresh()
        # Each actor's part in its flat form: an actor decodes only what it runs.
        parts = [flatten_ops(ops) for ops in program.workers]
        parts += [flatten_events(program.channel), [0]]
        header = 2 + 2 * len(parts)
        if 4 * (header + sum(map(len, parts))) > PROGRAM_BYTES:
            raise RequestError(f"program too large for the run segment ({PROGRAM_BYTES} bytes)")
        self._gen += 1
        w, base = self._w, lay.program // 4
        w[base] = len(parts)
        w[base + 1] = self._gen & 0xFFFFFFFF
        off = header
        for a, part in enumerate(parts):
            w[base + 2 + 2 * a] = off
            w[base + 3 + 2 * a] = len(part)
            w[base + off : base + off + len(part)] = _words(part)
            off += len(part)

    def _free(self, timeout: float) -> str:
        """Let a free run go; "ok" when it ended (or was stopped as a hang), "lost" if
        an actor died. The parent sleeps on its doorbell, rung when a worker finishes
        and when a daemon idles after the workers have finished; it wakes at least every
        :data:`~ccwfuzz.sync.control.LIVENESS_SLICE` to check liveness and budgets."""
        c = self.control
        hist = History(self._w, self.layout.history // 4)
        bell = self._parent_bell
        while bell.acquire(False):
            pass  # rung at the end of the last run
        c.post_all()
        start = last_progress = time.monotonic()
        last_total, stopping = -1, False
        k = self._env.kernel
        while True:
            bell.acquire(timeout=LIVENESS_SLICE)
            now = time.monotonic()
            statuses = c.statuses()
            if Status.CRASHED in statuses or now - start > timeout:
                if Status.CRASHED not in statuses:
                    c.set_outcome(Outcome.HANG)  # a livelock, or a loaded machine
                c.abort()
                break
            total = hist.total
            if total != last_total:
                last_total, last_progress = total, now
            elif now - last_progress > 2.0:  # no event for 2 s: a hang
                c.set_outcome(Outcome.HANG)
                c.abort()
                break
            if not self.alive():
                c.abort()
                return "lost"
            if c.free_steps() >= c[W.S_MAXSTEPS]:  # a livelock, whatever the machine's load
                c.set_outcome(Outcome.LIMIT)
                c.abort()
                break
            workers_done = all(s == Status.FINISHED for s in statuses[: self.nworkers])
            if workers_done and not stopping:
                quiet = not self._env.css.channel.busy() and not k.work_pending()
                if quiet and not self._env.css.pending_interruptions():
                    stopping = True
                    c.stop_daemons()
            if all(s in (Status.FINISHED, Status.CRASHED) for s in statuses):
                break
        # END may be posted only once every actor has taken its RUN post: an actor that
        # took RUN after END was set would ack twice (one stray post on ctl).
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            if c.all_started():
                return "ok"
            if not self.alive():
                return "lost"
            time.sleep(0.0005)
        return "timeout"

    def _free_outcome(self) -> Outcome:
        c = self.control
        if c[W.S_CRASHED]:
            return Outcome.CRASH
        return c.outcome if c.outcome in (Outcome.HANG, Outcome.LIMIT) else Outcome.DONE

    def _failed(self, mode: Mode, status: str, t0: float, fault: str = "") -> RunResult:
        """The run could not be finished: an actor died or did not finish ("lost", a
        fault of the tool) or the run did not end in time ("timeout"). The pool is
        restarted either way."""
        outcome = Outcome.LOST if status == "lost" or not self.alive() else Outcome.HANG
        if outcome == Outcome.LOST:
            fault = fault or "the pool lost an actor process"
        result = self._result(outcome, mode, time.perf_counter() - t0, fault)
        self.restart()
        return result

    def _result(self, outcome: Outcome, mode: Mode, elapsed: float, fault: str = "") -> RunResult:
        c = self.control
        hist = History(self._w, self.layout.history // 4)
        drv = self._env.driver
        raw = hist.raw()
        lost = max(0, hist.total - len(hist))
        if mode == Mode.CONTROLLED:
            decisions, truncated = c.decisions()
        else:  # the sequence stamps: the actor of every record, in order
            decisions = tuple(memoryview(raw).cast("I")[1::RECORD_WORDS].tolist())
            truncated = lost > 0
        return RunResult(
            outcome=outcome,
            raw=raw,
            steps=c[W.S_STEPS] if mode == Mode.CONTROLLED else c.free_steps(),
            switches=c[W.S_SWITCHES],
            elapsed=elapsed,
            states=[_state(drv.state(s)) for s in range(self.nsch)],
            cp_live=[drv.cp_live(s) for s in range(self.nsch)],
            end_scsw=[self._env.css.scsw0(s) for s in range(self.nsch)],
            deadlock_mask=c[W.S_DEADLOCK_MASK],
            crashed_mask=c[W.S_CRASHED],
            lost=lost,
            current_ops=c.current_ops(self.nworkers),
            decisions=decisions,
            decisions_truncated=truncated,
            fault=fault,
            initial_states=[State(self.driver_cls.initial_state)] * self.nsch,
            crashes=self._crashes(c[W.S_CRASHED]),
            signal=self._signal,
        )

    def _crashes(self, mask: int) -> dict[int, str]:
        out = {}
        for a in range(self.nactors):
            if mask >> a & 1:
                o = self.layout.crash + a * CRASH_BYTES
                n = min(int.from_bytes(self._env.kernel.buf[o : o + 4], "little"), CRASH_BYTES - 4)
                out[a] = bytes(self._env.kernel.buf[o + 4 : o + 4 + n]).decode("utf-8", "replace")
        return out

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
    with contextlib.suppress(OSError):
        os.sched_setaffinity(0, {pool.cpu})
    nxt = pool._sems[(me + 1) % pool.nactors]
    mine = pool._sems[me]
    while True:
        left = w[b + W.S_STEPS]
        if left == 0:
            pool._ctl.release()
            return
        w[b + W.S_STEPS] = left - 1
        nxt.release()
        mine.acquire()
        if w[b + W.S_CMD] != W.Cmd.HANDOFF:  # the END post: ack it here
            pool._ctl.release()
            return


def _plan(pool: Pool, me: int) -> Any:
    """Decode this actor's part of the run's program from its flat form."""
    w, base = pool._w, pool.layout.program // 4
    off, n = int(w[base + 2 + 2 * me]), int(w[base + 3 + 2 * me])
    words = w[base + off : base + off + n].tolist()
    if me < pool.nworkers:
        return unflatten_ops(words)
    if me == pool.nworkers:
        return unflatten_events(words)
    return ()


def _actor_main(pool: Pool, me: int, parent: int) -> None:
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    lay = pool.layout
    w = pool._w
    pool._bind()
    feedback = Feedback(pool._features, me) if pool.coverage and not pool.focus else None
    ctx = Context(me, w, lay.sched // 4, History(w, lay.history // 4), pool._sems, pool._ctl,
                  pool._interlock, pool._bells, pool._parent_bell, feedback)  # fmt: skip
    env = pool._env
    env.kernel.on_deliver = lambda c, sch, irb: on_deliver(
        c, env.kernel, env.slots, pool.nworkers, sch, irb
    )
    body: Any
    if me < pool.nworkers:
        body = worker_body
    elif me == pool.nworkers:
        body = channel_body
    else:
        body = workqueue_body
    gen, plan, pinned = -1, None, None
    sem, ctl, b = pool._sems[me], pool._ctl, lay.sched // 4
    program_gen = lay.program // 4 + 1
    profile = _profiler(me)
    while True:
        sem.acquire()
        cmd = w[b + W.S_CMD]
        if cmd == W.Cmd.EXIT:
            if profile is not None:
                profile()
            ctl.release()
            os._exit(0)
        if cmd == W.Cmd.HANDOFF:
            _handoff(pool, me)
            continue
        if cmd != W.Cmd.RUN:
            ctl.release()
            continue
        w[b + W.A_STARTED + me] = 1  # took this run's RUN post (free mode END waits)
        if w[program_gen] != gen:  # a new program: decode this actor's part once
            plan, gen = _plan(pool, me), w[program_gen]
        ctx.begin_run()
        want = {pool.cpu} if ctx.controlled else pool._allowed
        if want != pinned:
            with contextlib.suppress(OSError):
                os.sched_setaffinity(0, want)
            pinned = want
        try:
            body(ctx, env, plan)
            ctx.finish()
        except RunAborted:
            if not ctx.controlled:
                sem.acquire()  # the END post this actor has not consumed yet
            ctl.release()
        except Exception as e:  # an actor crash is a finding, not the end of the pool
            if ctx.ended:  # raised while unwinding an ended run: just ack its END post
                ctl.release()
                continue
            text, site = _crash_text(e)
            o = lay.crash + me * CRASH_BYTES
            data = text.encode("utf-8", "replace")[-(CRASH_BYTES - 4) :]
            buf = pool._env.kernel.buf
            buf[o + 4 : o + 4 + len(data)] = data
            buf[o : o + 4] = len(data).to_bytes(4, "little")
            ctx.record(Ev.CRASH, zlib.crc32(site.encode()) & 0xFFFF)
            ctx.finish(crashed=True)


#: Frames of these files are the framework, not the driver: a crash is keyed by the
#: innermost frame outside them (and outside the standard library).
_FRAMEWORK = tuple(
    os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), *part)
    for part in (("sync",), ("device",), ("arch",), ("exec",), ("driver", "toolkit.py"),
                 ("driver", "kernel.py"))
)  # fmt: skip
_STDLIB = os.path.dirname(os.path.abspath(os.__file__))


def _profiler(me: int) -> Any:
    """With ``CCWFUZZ_PROFILE=DIR`` set, profile this actor (cProfile) and return the
    function that writes ``DIR/actor-<me>-<pid>.prof`` when the pool closes; else None.
    For measuring where a run's time goes (``python -m ccwfuzz.bench.profile``)."""
    folder = os.environ.get("CCWFUZZ_PROFILE")
    if not folder:
        return None
    import cProfile

    prof = cProfile.Profile()
    prof.enable()

    def dump() -> None:
        prof.disable()
        prof.dump_stats(os.path.join(folder, f"actor-{me}-{os.getpid()}.prof"))

    return dump


def _instrument(names: list[str]) -> None:
    import importlib

    for name in names:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    coverage.instrument_names(names)


def _state(value: object) -> State:
    """A driver's ``state()`` answer as a State (anything else reads NOT_OPER)."""
    try:
        return State(int(value))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return State.NOT_OPER


def _crash_text(e: BaseException) -> tuple[str, str]:
    """The formatted traceback (driver frames last), and the raising code location
    that keys the finding: ``file:function`` of the innermost frame of driver code
    (not the toolkit, the simulator or the standard library it called into)."""
    tb = traceback.TracebackException.from_exception(e)
    frames = list(tb.stack)
    mine = [f for f in frames if not os.path.abspath(f.filename).startswith((*_FRAMEWORK, _STDLIB))]
    at = (mine or frames)[-1] if frames else None
    site = f"{os.path.basename(at.filename)}:{at.name}" if at else "?"
    return f"raised in {site}\n" + "".join(tb.format()), site


def _words(values: list[int]) -> memoryview:
    return memoryview(array.array("I", values)).cast("B").cast("I")


class Pools:
    """One actor pool per program shape (target, subchannels, workers), started on
    first use and closed together: what a minimizer needs when it tries fewer workers
    or subchannels (:data:`ccwfuzz.engines.reproduce.Executors`).

    Example:
        >>> pools = Pools()
        >>> pools("reference", 1, 2).nworkers
        2
        >>> pools.close()
    """

    def __init__(self) -> None:
        self._pools: dict[tuple[str, int, int], Pool] = {}

    def __call__(self, target: str, subchannels: int, workers: int) -> Pool:
        k = (target, subchannels, workers)
        if k not in self._pools:
            self._pools[k] = Pool(target, subchannels, workers)
        return self._pools[k]

    def close(self) -> None:
        for p in self._pools.values():
            p.close()
        self._pools.clear()

    def __enter__(self) -> Pools:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
