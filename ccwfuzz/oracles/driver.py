"""Driver-contract oracles (spec D.1, D.4, DESIGN section 5)."""

from __future__ import annotations

from ccwfuzz.arch import scsw as S
from ccwfuzz.driver import contract as K
from ccwfuzz.driver.contract import Event, State
from ccwfuzz.oracles.locking import lock_sch
from ccwfuzz.oracles.registry import Finding, RunView, rule
from ccwfuzz.program.ops import HW_EVENTS, OPS
from ccwfuzz.sync import Outcome
from ccwfuzz.sync.history import Ev, Instr, Record, signed

WRITE_OP = OPS.index("write") + 1
REMOVE_OP = OPS.index("remove") + 1
NOT_OPERATIONAL = HW_EVENTS.index("not_operational") + 1
EBADF = K.EBADF
IO_REQ_IDLE_RETS = {
    0,
    -K.EBUSY,
    -K.ENODEV,
    -K.EACCES,
    -K.EINVAL,
    -K.EFAULT,
    -K.ENOMEM,
    -K.EOPNOTSUPP,
    -K.EIO,
}
ASYNC_RETS = {0, -K.EBUSY, -K.ENODEV, -K.EINVAL}
_RETCODE_KINDS = (Ev.LOCK_ACQUIRE, Ev.LOCK_RELEASE, Ev.TRYLOCK_FAIL, Ev.OP_BEGIN, Ev.OP_END,
                  Ev.RET, Ev.FSM)  # fmt: skip
FIXED = {State.NOT_OPER: -K.EIO, State.STANDBY: -K.EIO, State.CP_PROCESSING: -K.EAGAIN}


@rule(
    "driver.retcode",
    "D.1 (E12)",
    "a request's return code and transitions follow the FSM",
    needs=(Ev.RET,),
    whole_history=True,
)
def return_codes(view: RunView) -> list[Finding]:
    """IO_REQ: NOT_OPER/STANDBY -EIO, CP_PROCESSING -EAGAIN, CP_PENDING -EBUSY, with no
    state change by the request; in IDLE a request that returns 0 moved the state to
    CP_PENDING itself, and one that fails put it back to IDLE itself, inside the FSM
    (E12), unless the device went NOT_OPER meanwhile. ASYNC_REQ: NOT_OPER/STANDBY -EIO,
    CP_PROCESSING -EAGAIN; in IDLE and CP_PENDING one of 0, -EBUSY, -ENODEV, -EINVAL;
    never a state change. Only the
    requesting actor's own transitions are judged (others may race legitimately). A
    start, halt or clear that fails without reaching the FSM is a finding, unless the
    vfio core refused it (-EBADF, -ENODEV), or it is an -EAGAIN that QEMU's retry can
    resolve: another actor was active on the same subchannel while it ran (held one of
    its locks, ran an op on it, or held a lock the request's trylock found taken).
    Which lock the driver tried is its own choice."""
    out = []
    mine: dict[int, list[tuple[int, State]]] = {}
    answered: dict[int, bool] = {}  # did this op's request reach the FSM
    busy: dict[int, bool] = {}  # was another actor active on this op's subchannel
    op_sch: dict[int, int] = {}  # actor -> subchannel of the op it is in
    held: dict[int, set[int]] = {}  # actor -> lock slots held
    for r, op, now in view.of(*_RETCODE_KINDS):
        kind = r.kind
        if kind == Ev.LOCK_ACQUIRE:
            held.setdefault(r.actor, set()).add(r.arg("lock"))
            sch_of = lock_sch(view, r.arg("lock"))
            for a, s in op_sch.items():
                if a != r.actor and (sch_of is None or sch_of == s):
                    busy[a] = True
        elif kind == Ev.LOCK_RELEASE:
            held.get(r.actor, set()).discard(r.arg("lock"))
        elif kind == Ev.TRYLOCK_FAIL and r.arg("owner") != r.actor:
            busy[r.actor] = True  # the lock's holder is running: it will let go
        elif kind == Ev.OP_BEGIN:
            sch = r.arg("sch")
            mine[r.actor] = []
            answered[r.actor] = False
            op_sch[r.actor] = sch
            busy[r.actor] = any(a != r.actor and s == sch for a, s in op_sch.items()) or any(
                a != r.actor and any(lock_sch(view, x) in (None, sch) for x in locks)
                for a, locks in held.items()
            )
            for a, s in op_sch.items():
                if a != r.actor and s == sch:
                    busy[a] = True
        elif kind == Ev.OP_END:
            op_sch.pop(r.actor, None)
            ret = signed(r.arg("result"))
            # Refused by the vfio core (not open, removed), or -EAGAIN while another
            # actor was active on the subchannel: QEMU's retry resolves it.
            core = ret in (-EBADF, -K.ENODEV) or (ret == -K.EAGAIN and busy.get(r.actor))
            if (
                op in ("ssch", "hsch", "csch")
                and ret < 0
                and not answered.get(r.actor)
                and (not core)
            ):
                sch = r.arg("sch")
                out.append(
                    view.finding(
                        "driver.retcode",
                        f"{op} answered {K.errno_name(ret)} outside the FSM"
                        + (" with nothing else active on the subchannel: a retry cannot "
                           "resolve it" if ret == -K.EAGAIN else ""),
                        r,
                        op,
                        now[sch],
                        sch,
                        where=f"{K.errno_name(ret)} outside the FSM",
                    )
                )  # fmt: skip
        if kind == Ev.FSM:
            mine.setdefault(r.actor, []).append((r.arg("sch"), State(r.arg("new"))))
        if kind != Ev.RET:
            continue
        answered[r.actor] = True
        event, sch = r.arg("what"), r.arg("sch")
        ret, before = signed(r.arg("ret")), State(r.arg("fsm_before"))
        moves = [st for s, st in mine.get(r.actor, []) if s == sch]
        mine[r.actor] = []
        bad = None
        if event == Event.IO_REQ:
            want = {**FIXED, State.CP_PENDING: -K.EBUSY}.get(before)
            if want is not None and (ret != want or moves):
                bad = (
                    f"IO_REQ in {before.name}: {K.errno_name(ret)}, moves {_names(moves)}; "
                    f"want {K.errno_name(want)} and no transition"
                )
            elif (
                before == State.IDLE
                and ret == 0
                and State.CP_PENDING not in moves
                and now[sch] != State.NOT_OPER
                and op == "ssch"  # a raw write may carry no function: ret_code echoed (H4)
            ):
                bad = f"IO_REQ in IDLE returned 0 without reaching CP_PENDING ({_names(moves)})"
            elif before == State.IDLE and op == "ssch" and ret not in IO_REQ_IDLE_RETS:
                bad = f"IO_REQ in IDLE answered {K.errno_name(ret)}, not a D.1 answer"
            elif (
                before == State.IDLE
                and ret != 0
                and moves  # a request refused before any transition leaves no E12 window
                and moves[-1] != State.IDLE
                and now[sch] != State.NOT_OPER  # gone meanwhile: NOT_OPER must stick
            ):
                bad = (
                    f"IO_REQ in IDLE failed ({K.errno_name(ret)}) but the FSM did not go "
                    f"back to IDLE itself ({_names(moves)})"
                )
        elif event == Event.ASYNC_REQ:
            want = FIXED.get(before)
            if want is not None and ret != want:
                bad = f"ASYNC_REQ in {before.name}: {K.errno_name(ret)}, want {K.errno_name(want)}"
            elif want is None and ret not in ASYNC_RETS:
                bad = f"ASYNC_REQ in {before.name}: {K.errno_name(ret)}"
            elif moves:
                bad = f"ASYNC_REQ in {before.name} changed the state ({_names(moves)})"
        if bad:
            out.append(view.finding("driver.retcode", bad, r, op, before, sch))
    return out


def _names(moves: list[State]) -> str:
    return "->".join(m.name for m in moves) or "none"


@rule(
    "driver.one-cp",
    "D.1 (c6c82e0c), E11",
    "at most one channel program per subchannel",
    needs=(Ev.CP_ALLOC,),
    whole_history=True,
)
def one_cp(view: RunView) -> list[Finding]:
    """A channel program is allocated only when none is live for that subchannel."""
    out, live = [], [False] * view.nsch
    for r, op, states in view.of(Ev.CP_ALLOC, Ev.CP_FREE):
        if r.kind == Ev.CP_ALLOC:
            sch = r.arg("sch")
            if live[sch]:
                out.append(
                    view.finding(
                        "driver.one-cp",
                        "second channel program while one is live",
                        r,
                        op,
                        states[sch],
                        sch,
                    )
                )
            live[sch] = True
        elif r.kind == Ev.CP_FREE:
            live[r.arg("sch")] = False
    return out


@rule(
    "driver.idle-no-cp",
    "D.1, E13",
    "state IDLE implies no live channel program",
    needs=(Ev.FSM, Ev.CP_ALLOC),
    whole_history=True,
)
def idle_no_cp(view: RunView) -> list[Finding]:
    """Whenever the FSM enters IDLE, and at the end of a completed run, a subchannel in
    IDLE has no initialized channel program."""
    out, live = [], [False] * view.nsch
    for r, op, _ in view.of(Ev.CP_ALLOC, Ev.CP_FREE, Ev.FSM):
        if r.kind == Ev.CP_ALLOC:
            live[r.arg("sch")] = True
        elif r.kind == Ev.CP_FREE:
            live[r.arg("sch")] = False
        elif r.kind == Ev.FSM and r.arg("new") == State.IDLE and live[r.arg("sch")]:
            out.append(
                view.finding(
                    "driver.idle-no-cp",
                    "entered IDLE with a live channel program",
                    r,
                    op,
                    State(r.arg("old")),
                    r.arg("sch"),
                )
            )
    if view.outcome == Outcome.DONE:
        for sch, (st, cp) in enumerate(zip(view.states, view.cp_live, strict=False)):
            if st == State.IDLE and cp:
                out.append(
                    view.finding(
                        "driver.idle-no-cp",
                        "run ended IDLE with a live channel program",
                        state=st,
                        sch=sch,
                    )
                )
    return out


@rule(
    "driver.cp-free-final",
    "D.1 io_todo, C.1, E1, E8, E10, E18",
    "a cp is freed only when nothing can still use it, and never from interrupt context",
    needs=(Ev.CP_ALLOC, Ev.CP_FREE),
    whole_history=True,
)
def cp_free_final(view: RunView) -> list[Finding]:
    """Safety, not the reference's order of steps. A channel program may be freed only
    when (a) the channel can no longer fetch it: the start that runs it has ended (a
    final solicited interruption was taken, a halt's or clear's included), was
    cancelled (XSCH), the subchannel was disabled or the device went away (C.1, E1,
    E10); and
    (b) no other request is still building it (E8). It is never freed in atomic
    context (the top half, or under a spin lock: unpinning sleeps; D.4, E18). Which FSM
    state the driver is in when it frees is its own business."""
    out = []
    nsch = view.nsch
    live = [0] * nsch  # live generation (0: none)
    running = [0] * nsch  # generation the channel may fetch (0: none)
    builder: dict[int, tuple[int, int]] = {}  # sch -> (actor, gen) still building it
    for r, op, _states in view.of(
        Ev.OP_END, Ev.RET, Ev.HW_EVENT, Ev.CP_ALLOC, Ev.CP_FREE, Ev.INSTR, Ev.INTERRUPT
    ):
        kind = r.kind
        if kind == Ev.OP_END or (kind == Ev.RET and r.arg("what") == Event.IO_REQ):
            for sch, (a, _) in list(builder.items()):
                if a == r.actor:
                    del builder[sch]
            continue
        if kind == Ev.HW_EVENT and r.arg("event") == NOT_OPERATIONAL:
            if 0 <= r.arg("sch") < nsch:
                running[r.arg("sch")] = 0
            continue
        if kind not in (Ev.CP_ALLOC, Ev.CP_FREE, Ev.INSTR, Ev.INTERRUPT):
            continue
        sch = r.arg("sch")
        if kind == Ev.CP_ALLOC:
            live[sch] = r.arg("gen")
            if r.actor < view.nworkers:
                builder[sch] = (r.actor, live[sch])
        elif kind == Ev.INSTR and r.arg("cc") == 0:
            instr = r.arg("instr") & 0xFF
            if instr == Instr.SSCH:
                running[sch] = live[sch]
                builder.pop(sch, None)  # built: the request issued it
            elif instr in (Instr.XSCH, Instr.MSCH):
                running[sch] = 0  # cancelled, or disabled (MSCH cc 0: nothing active)
            # CSCH cc 0 only makes the clear pending (C.1): the program may be fetched
            # until the clear's final interruption, as after HSCH.
        elif kind == Ev.INTERRUPT:
            w0 = r.arg("scsw0")
            if S.is_final(w0) and S.is_solicited(w0):
                running[sch] = 0
        elif kind == Ev.CP_FREE:
            gen, st = r.arg("gen"), State(r.arg("fsm"))
            bad, where = "", ""
            if r.arg("atomic"):
                bad = where = "freed the cp in atomic context (interrupt, spin lock held)"
            elif running[sch] and running[sch] == gen:
                bad = "freed a cp the channel may still fetch (its start has not ended)"
                where = "freed a cp the channel may still fetch"
            elif builder.get(sch, (r.actor, 0))[0] != r.actor and builder[sch][1] == gen:
                bad = where = "freed a cp another request is still building"
            if bad:
                out.append(view.finding("driver.cp-free-final", bad, r, op, st, sch, where=where))
            if live[sch] == gen:
                live[sch] = 0
            if running[sch] == gen:
                running[sch] = 0
    return out


@rule(
    "driver.irb-integrity",
    "D.4 (E2, H1-H3), DESIGN 5",
    "a read IRB is one the interrupt path delivered (upstream) and, strict, none is lost",
    needs=(Ev.IRB_STORE,),
    whole_history=True,
)
def irb_integrity(view: RunView) -> list[Finding]:
    """Judged on what userspace received (the worker's ``IRB_READ``). ``upstream``: every
    IRB read from the I/O region is one that was the latest delivered for that
    subchannel at some moment while the read ran, or all zeros (a region write may
    clobber it, hazard H3); a torn or stale IRB is a finding. ``strict``: also, a
    delivered IRB must be read before it is overwritten or zeroed (H1-H3 are findings).
    Subchannels that saw raw region writes of arbitrary bytes are not judged."""
    out = []
    raw_written = set()
    for r in view.records:
        if r.kind == Ev.OP_BEGIN and r.arg("op") == WRITE_OP:
            raw_written.add(r.arg("sch"))
    nsch = view.nsch
    latest = [0] * nsch
    unread = [0] * nsch
    window: dict[int, tuple[int, set[int]]] = {}  # actor -> (sch, IRBs current during op)
    lost: dict[int, tuple[Record, str, State, int, int]] = {}  # overwritten, maybe read late
    closed = (State.STANDBY, State.NOT_OPER)
    for r, op, states in view.of(Ev.OP_BEGIN, Ev.IRB_STORE, Ev.IRB_READ, Ev.FSM):
        sch = r.arg("sch")
        if not 0 <= sch < nsch:
            continue
        if r.kind == Ev.FSM:
            if r.arg("new") in closed:
                unread[sch] = 0  # closed: an IRB nobody read is userspace's choice, not a loss
        elif r.kind == Ev.OP_BEGIN:
            window[r.actor] = (sch, {latest[sch]})
        elif r.kind == Ev.IRB_STORE:
            if view.contract == "strict" and unread[sch] and sch not in raw_written:
                lost[r.seq] = (r, op, states[sch], sch, unread[sch])
            latest[sch] = unread[sch] = r.arg("hash")
            for s, seen in window.values():
                if s == sch:
                    seen.add(latest[sch])
        elif r.kind == Ev.IRB_READ and sch not in raw_written:
            h = r.arg("hash")
            _, seen = window.get(r.actor, (sch, {latest[sch]}))
            if h != 0 and h not in seen | {latest[sch]}:
                out.append(
                    view.finding(
                        "driver.irb-integrity",
                        "read an IRB that was never delivered (torn or stale)",
                        r,
                        op,
                        states[sch],
                        sch,
                    )
                )
            for seq in [q for q, v in lost.items() if v[3] == sch and v[4] == h and h]:
                del lost[seq]  # it was read after all: the copy ran before the overwrite
            if view.contract == "strict" and unread[sch] and h not in seen | {unread[sch]}:
                out.append(
                    view.finding(
                        "driver.irb-integrity",
                        "delivered IRB destroyed before it was read",
                        r,
                        op,
                        states[sch],
                        sch,
                    )
                )
            if h == unread[sch]:
                unread[sch] = 0
    for fr, fop, st, sch, _ in lost.values():
        msg = "delivered IRB overwritten before it was read"
        out.append(view.finding("driver.irb-integrity", msg, fr, fop, st, sch))
    return out


@rule(
    "driver.final-delivered",
    "C.1, D.1 io_todo, D.4 (H1)",
    "every final status the top half took is processed and delivered to userspace",
    needs=(Ev.INTERRUPT, Ev.TODO, Ev.IRB_STORE),
    whole_history=True,
)
def final_delivered(view: RunView) -> list[Finding]:
    """Liveness, judged when a run completed (channel and work queue quiet): every
    final solicited interruption the top half took on an open device was processed by
    the bottom half (a ``TODO`` record for that status) and its IRB put into the I/O
    region for userspace (``IRB_STORE``), unless the device was closed, reset, removed or
    went NOT_OPER meanwhile (STANDBY or NOT_OPER: nothing reaches userspace, E16). An IRB
    overwritten in a single private slot before ``io_todo`` ran (H1) leaves the cp
    CP_PENDING until close."""
    if view.outcome != Outcome.DONE:
        return []
    owed: list[list[tuple[Record, str, State]]] = [[] for _ in range(view.nsch)]
    undelivered = [0] * view.nsch
    closed = (State.STANDBY, State.NOT_OPER)
    removed = [False] * view.nsch  # no device left to deliver to
    for r, op, states in view.of(Ev.INTERRUPT, Ev.TODO, Ev.IRB_STORE, Ev.FSM, Ev.OP_END):
        kind = r.kind
        if kind not in (Ev.INTERRUPT, Ev.TODO, Ev.IRB_STORE, Ev.FSM, Ev.OP_END):
            continue
        sch = r.arg("sch")
        if not 0 <= sch < view.nsch or removed[sch]:
            continue
        if kind == Ev.OP_END:
            if r.arg("op") == REMOVE_OP and r.arg("result") == 0:
                removed[sch], owed[sch], undelivered[sch] = True, [], 0
            continue
        if kind == Ev.FSM:
            if r.arg("new") in closed:
                owed[sch], undelivered[sch] = [], 0  # the program shows why
            continue
        w0 = r.arg("scsw0")
        if not (S.is_final(w0) and S.is_solicited(w0)):
            continue
        if kind == Ev.INTERRUPT:
            if states[sch] not in closed:
                owed[sch].append((r, op, states[sch]))
                undelivered[sch] += 1
        elif kind == Ev.TODO:
            owed[sch] = owed[sch][1:]
        else:
            undelivered[sch] = max(0, undelivered[sch] - 1)
    out = []
    for sch in range(view.nsch):
        if owed[sch] or undelivered[sch]:
            r, op, st = owed[sch][0] if owed[sch] else (None, "-", "-")  # type: ignore[assignment]
            what = "never processed by the bottom half" if owed[sch] else "never delivered"
            end = view.states[sch].name if sch < len(view.states) else "?"
            out.append(
                view.finding(
                    "driver.final-delivered",
                    f"final status {what} (the run ended {end})",
                    r,
                    op,
                    st,
                    sch,
                )
            )
    return out


SIZES = {"ssch": K.IO_REGION_SIZE, "hsch": K.ASYNC_REGION_SIZE, "csch": K.ASYNC_REGION_SIZE}


@rule(
    "driver.user-answer",
    "D.4, B.1 (passthrough)",
    "what a region write returns to userspace is what the FSM answered",
    needs=(Ev.RET,),
)
def user_answer(view: RunView) -> list[Finding]:
    """Judged at the userspace boundary: a start, halt or clear whose request reached
    the FSM returns to the worker the FSM's ``ret_code`` if it is non-zero, else the
    byte count (spec D.4), so QEMU derives the guest condition code from the answer
    for *this* request. A return code read after ``io_mutex`` was dropped (another
    request's answer) or lost on the way out is a finding."""
    out = []
    last: dict[int, int | None] = {}  # actor -> the FSM's last answer in this op
    for r, op, states in view.of(Ev.OP_BEGIN, Ev.RET, Ev.TRYLOCK_FAIL, Ev.OP_END):
        if r.kind == Ev.OP_BEGIN:
            last[r.actor] = None
        elif r.kind == Ev.RET and r.arg("what") in (Event.IO_REQ, Event.ASYNC_REQ):
            last[r.actor] = signed(r.arg("ret"))
        elif r.kind == Ev.TRYLOCK_FAIL:
            last[r.actor] = None  # a later attempt never reached the FSM
        elif r.kind == Ev.OP_END and op in SIZES and last.get(r.actor) is not None:
            answer = last[r.actor]
            assert answer is not None
            want = answer if answer else SIZES[op]
            got = signed(r.arg("result"))
            if got != want and got not in (-EBADF, -K.ENODEV):  # a retry refused by the core
                sch = r.arg("sch")
                out.append(
                    view.finding(
                        "driver.user-answer",
                        f"{op} returned {K.errno_name(got)} to userspace; the FSM answered "
                        f"{K.errno_name(answer)}",
                        r,
                        op,
                        states[sch],
                        sch,
                        where="returned another answer than the FSM's",
                    )
                )
    return out


@rule(
    "driver.irb-translated",
    "D.1 io_todo, A.2",
    "an IRB userspace reads carries the guest's CCW address, never the host program's",
    needs=(Ev.CP_ALLOC, Ev.IRB_READ),
)
def irb_translated(view: RunView) -> list[Finding]:
    """Judged on what userspace received: the CCW address of a solicited status of a
    start (FC start only, status pending, deferred cc 0, where the CPA is meaningful,
    A.2) never points into a channel program the driver built in host memory; the
    bottom half translates it back to the guest's (``cp_update_scsw``, D.1 step 2).
    Statuses whose CPA carries no meaning (halt or clear status, deferred cc 1 or 3,
    unsolicited status) are not judged."""
    out = []
    hosts: list[set[tuple[int, int]]] = [set() for _ in range(view.nsch)]
    for r, op, states in view.of(Ev.CP_ALLOC, Ev.IRB_READ):
        if r.kind == Ev.CP_ALLOC:
            hosts[r.arg("sch")].add((r.arg("addr"), r.arg("addr") + max(8, r.arg("length"))))
        elif r.kind == Ev.IRB_READ:
            sch, w0, cpa = r.arg("sch"), r.arg("scsw0"), r.arg("cpa")
            meaningful = (
                w0 & S.FC == S.FC_START
                and w0 & S.SC_PENDING
                and S.is_solicited(w0)
                and not w0 >> 24 & 3
                and cpa
            )
            if meaningful and any(lo <= cpa <= hi for lo, hi in hosts[sch]):
                out.append(
                    view.finding(
                        "driver.irb-translated",
                        f"userspace got CCW address {cpa:#x}, inside the host channel program",
                        r,
                        op,
                        states[sch],
                        sch,
                        where="untranslated CCW address",
                    )
                )
    return out


LIFECYCLE_END = {
    "open": ({State.IDLE, State.NOT_OPER}, "fsm_open: IDLE (or NOT_OPER on failure)"),
    "close": ({State.STANDBY, State.NOT_OPER}, "fsm_close: STANDBY (or NOT_OPER)"),
    "reset": ({State.IDLE, State.NOT_OPER}, "CLOSE + OPEN: IDLE (or NOT_OPER)"),
}


@rule(
    "driver.lifecycle",
    "D.1 (fsm_open, fsm_close), E15, E16",
    "open, close and reset leave the FSM where the contract says, and say so",
    needs=(Ev.FSM,),
    whole_history=True,
)
def lifecycle(view: RunView) -> list[Finding]:
    """Judged on the lifecycle op's own result and its own transitions (those the
    worker's actor wrote during the op): a successful open ends IDLE, a successful
    close STANDBY, a successful reset IDLE, each or NOT_OPER if the device went away
    (spec D.1); an open that failed does not leave the device IDLE when it returns
    (E15); an op that moved no state is not judged. And only OPEN leaves STANDBY for
    anything but NOT_OPER: a bottom half that sets IDLE on a closed device (say, after
    close set STANDBY) is a finding (D.1, E16)."""
    out = []
    moves: dict[int, list[State]] = {}
    for r, op, states in view.of(Ev.OP_BEGIN, Ev.FSM, Ev.OP_END):
        if r.kind == Ev.OP_BEGIN:
            moves[r.actor] = []
        elif r.kind == Ev.FSM:
            old, new = State(r.arg("old")), State(r.arg("new"))
            if r.actor < view.nworkers:
                moves.setdefault(r.actor, []).append(new)
            if (
                old == State.STANDBY
                and new not in (old, State.NOT_OPER)
                and (r.arg("event") != Event.OPEN)
            ):
                out.append(
                    view.finding(
                        "driver.lifecycle",
                        f"left STANDBY for {new.name} outside OPEN",
                        r,
                        op,
                        old,
                        r.arg("sch"),
                        where=f"left STANDBY for {new.name} outside OPEN",
                    )
                )
        elif r.kind == Ev.OP_END and op in LIFECYCLE_END and moves.get(r.actor):
            ret, last, sch = signed(r.arg("result")), moves[r.actor][-1], r.arg("sch")
            ends, says = LIFECYCLE_END[op]
            bad = ""
            if ret == 0 and last not in ends and states[sch] not in ends:
                bad = f"{op} returned 0 but left {last.name} ({says})"
            elif ret < 0 and op == "open" and states[sch] == State.IDLE:
                bad = f"open failed ({K.errno_name(ret)}) but left the device IDLE (E15)"
            if bad:
                out.append(
                    view.finding(
                        "driver.lifecycle",
                        bad,
                        r,
                        op,
                        states[sch],
                        sch,
                        where=f"{op} left {last.name}",
                    )
                )
    return out
