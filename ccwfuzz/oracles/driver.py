"""Driver-contract oracles (spec D.1, D.4, DESIGN section 5)."""

from __future__ import annotations

from ccwfuzz.arch import scsw as S
from ccwfuzz.driver import contract as K
from ccwfuzz.driver.contract import Event, State
from ccwfuzz.oracles.registry import Finding, RunView, rule
from ccwfuzz.program.ops import OPS
from ccwfuzz.sync import Outcome
from ccwfuzz.sync.history import Ev, Record, signed

WRITE_OP = OPS.index("write") + 1
EBADF = 9
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
FIXED = {State.NOT_OPER: -K.EIO, State.STANDBY: -K.EIO, State.CP_PROCESSING: -K.EAGAIN}


@rule("driver.retcode", "D.1 (E12)", "a request's return code and transitions follow the FSM")
def return_codes(view: RunView) -> list[Finding]:
    """IO_REQ: NOT_OPER/STANDBY -EIO, CP_PROCESSING -EAGAIN, CP_PENDING -EBUSY, with no
    state change by the request; in IDLE a request that returns 0 moved the state to
    CP_PENDING itself, and one that fails put it back to IDLE itself, inside the FSM
    (E12), unless the device went NOT_OPER meanwhile. ASYNC_REQ: NOT_OPER/STANDBY -EIO,
    CP_PROCESSING -EAGAIN; in IDLE and CP_PENDING one of 0, -EBUSY, -ENODEV, -EINVAL;
    never a state change. Only the
    requesting actor's own transitions are judged (others may race legitimately). A
    start, halt or clear that fails without reaching the FSM is a finding, unless the
    vfio core refused it (-EBADF, -ENODEV) or its own ``io_mutex`` was busy (-EAGAIN)."""
    out = []
    mine: dict[int, list[tuple[int, State]]] = {}
    answered: dict[int, bool] = {}  # did this op's request reach the FSM
    own_busy: dict[int, bool] = {}  # did it fail to take its own io_mutex
    for r, op, now in view.walk():
        if r.kind == Ev.OP_BEGIN:
            mine[r.actor] = []
            answered[r.actor] = own_busy[r.actor] = False
        elif r.kind == Ev.TRYLOCK_FAIL:
            own_busy[r.actor] = True
        elif r.kind == Ev.OP_END and op in ("ssch", "hsch", "csch"):
            ret = signed(r.arg("result"))
            core = ret in (-EBADF, -K.ENODEV) or (ret == -K.EAGAIN and own_busy.get(r.actor))
            if ret < 0 and not answered.get(r.actor) and not core:
                sch = r.arg("sch")
                out.append(
                    view.finding(
                        "driver.retcode",
                        f"{op} answered {K.errno_name(ret)} outside the FSM",
                        r,
                        op,
                        now[sch],
                        sch,
                    )
                )
        if r.kind == Ev.RET:
            answered[r.actor] = True
        elif r.kind == Ev.FSM:
            mine.setdefault(r.actor, []).append((r.arg("sch"), State(r.arg("new"))))
        if r.kind != Ev.RET:
            continue
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
            ):
                bad = f"IO_REQ in IDLE returned 0 without reaching CP_PENDING ({_names(moves)})"
            elif (
                before == State.IDLE
                and ret != 0
                and (not moves or moves[-1] != State.IDLE)
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


@rule("driver.one-cp", "D.1 (c6c82e0c), E11", "at most one channel program per subchannel")
def one_cp(view: RunView) -> list[Finding]:
    """A channel program is allocated only when none is live for that subchannel."""
    out, live = [], [False] * view.nsch
    for r, op, states in view.walk():
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


@rule("driver.idle-no-cp", "D.1, E13", "state IDLE implies no live channel program")
def idle_no_cp(view: RunView) -> list[Finding]:
    """Whenever the FSM enters IDLE, and at the end of a completed run, a subchannel in
    IDLE has no initialized channel program."""
    out, live = [], [False] * view.nsch
    for r, op, _ in view.walk():
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
    "D.1 io_todo, E1, E8, E10",
    "the interrupt path frees a cp only on its own final solicited interrupt in CP_PENDING",
)
def cp_free_final(view: RunView) -> list[Finding]:
    """The bottom half may free the channel program only in CP_PENDING, only for a
    final, solicited interruption (the IRB it processed, from its TODO record), or in
    NOT_OPER (the deferred free of ``notoper_work``, E18); and for
    a halt's or clear's status only if that program was live when the halt or clear was
    accepted (E10). The top half never frees it; a userspace path frees it only in
    CP_PROCESSING (request error), STANDBY or NOT_OPER (close)."""
    out = []
    live_gen = [0] * view.nsch
    cancel_gen = [0] * view.nsch
    last_irq = [0] * view.nsch
    # A bottom-half free is judged by the IRB the bottom half processed: its TODO
    # record when the driver writes one, else the last IRB the top half delivered.
    pending: dict[int, tuple[Record, str, State, int, int, int, int]] = {}

    def judge(fr: Record, fop: str, st: State, sch: int, gen: int, aimed: int, w0: int) -> None:
        bad = None
        if st == State.NOT_OPER:
            return  # the deferred free after NOT_OPER (notoper_work, E18)
        if st != State.CP_PENDING:
            bad = f"bottom half freed the cp in {st.name}"
        elif not (S.is_final(w0) and S.is_solicited(w0)):
            bad = f"bottom half freed the cp on {S.describe(w0)}"
        elif w0 & (S.FC_HALT | S.FC_CLEAR) and aimed != gen:
            bad = "bottom half freed a cp on the status of a halt/clear aimed at another"
        if bad:
            out.append(view.finding("driver.cp-free-final", bad, fr, fop, st, sch))

    for r, op, _ in view.walk():
        if r.kind == Ev.CP_ALLOC:
            live_gen[r.arg("sch")] = r.arg("gen")
        elif r.kind == Ev.INTERRUPT:
            last_irq[r.arg("sch")] = r.arg("scsw0")
        elif r.kind == Ev.INSTR and r.arg("instr") & 0xFF in (2, 3) and r.arg("cc") == 0:
            cancel_gen[r.arg("sch")] = live_gen[r.arg("sch")]
        elif r.kind == Ev.CP_FREE:
            sch, st, gen = r.arg("sch"), State(r.arg("fsm")), r.arg("gen")
            live_gen[sch] = 0
            if r.actor == view.workqueue_actor:
                if r.actor in pending:
                    judge(*pending.pop(r.actor))
                pending[r.actor] = (r, op, st, sch, gen, cancel_gen[sch], last_irq[sch])
            elif r.actor == view.channel_actor:
                out.append(
                    view.finding(
                        "driver.cp-free-final", "interrupt context freed the cp", r, op, st, sch
                    )
                )
            elif st not in (State.CP_PROCESSING, State.STANDBY, State.NOT_OPER):
                out.append(
                    view.finding(
                        "driver.cp-free-final",
                        f"userspace path freed the cp in {st.name}",
                        r,
                        op,
                        st,
                        sch,
                    )
                )
        elif r.kind == Ev.TODO and r.actor in pending:
            fr, fop, st, sch, gen, aimed, _ = pending.pop(r.actor)
            judge(fr, fop, st, sch, gen, aimed, r.arg("scsw0"))
    for args in pending.values():
        judge(*args)
    return out


@rule(
    "driver.irb-integrity",
    "D.4 (E2, H1-H3), DESIGN 5",
    "a read IRB is one the interrupt path delivered (upstream) and, strict, none is lost",
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
    for r, op, states in view.walk():
        sch = r.arg("sch") if r.kind in (Ev.OP_BEGIN, Ev.IRB_STORE, Ev.IRB_READ) else -1
        if not 0 <= sch < nsch:
            continue
        if r.kind == Ev.OP_BEGIN:
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
            for seq in [q for q, v in lost.items() if v[4] == h and h]:
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
            if h in seen | {unread[sch]}:
                unread[sch] = 0
    for fr, fop, st, sch, _ in lost.values():
        msg = "delivered IRB overwritten before it was read"
        out.append(view.finding("driver.irb-integrity", msg, fr, fop, st, sch))
    return out


@rule(
    "driver.final-delivered",
    "C.1, D.1 io_todo, D.4 (H1)",
    "every final status the top half took is processed and delivered to userspace",
)
def final_delivered(view: RunView) -> list[Finding]:
    """Liveness, judged when a run completed (channel and work queue quiet): every
    final solicited interruption the top half took on an open device was processed by
    the bottom half (a ``TODO`` record for that status) and its IRB put into the I/O
    region for userspace (``IRB_STORE``), unless the device was closed, reset or went
    NOT_OPER meanwhile (STANDBY or NOT_OPER: nothing reaches userspace, E16). An IRB
    overwritten in a single private slot before ``io_todo`` ran (H1) leaves the cp
    CP_PENDING until close."""
    if view.outcome != Outcome.DONE:
        return []
    owed: list[list[tuple[Record, str, State]]] = [[] for _ in range(view.nsch)]
    undelivered = [0] * view.nsch
    closed = (State.STANDBY, State.NOT_OPER)
    for r, op, states in view.walk():
        kind = r.kind
        if kind not in (Ev.INTERRUPT, Ev.TODO, Ev.IRB_STORE, Ev.FSM):
            continue
        sch = r.arg("sch")
        if not 0 <= sch < view.nsch:
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
