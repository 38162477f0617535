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
            live_gen[r.arg("sch")] = r.arg("slot")
        elif r.kind == Ev.INTERRUPT:
            last_irq[r.arg("sch")] = r.arg("scsw0")
        elif r.kind == Ev.INSTR and r.arg("instr") & 0xFF in (2, 3) and r.arg("cc") == 0:
            cancel_gen[r.arg("sch")] = live_gen[r.arg("sch")]
        elif r.kind == Ev.CP_FREE:
            sch, st, gen = r.arg("sch"), State(r.arg("fsm")), r.arg("slot")
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
    """``upstream``: every IRB read from the I/O region is the last one delivered for
    that subchannel or all zeros (a region write may clobber it, hazard H3); a torn or
    stale IRB is a finding. ``strict``: also, a delivered IRB must be read before it is
    overwritten or zeroed (H1-H3 are findings). Subchannels that saw raw region writes
    of arbitrary bytes are not judged."""
    out = []
    raw_written = set()
    for r in view.records:
        if r.kind == Ev.OP_BEGIN and r.arg("op") == WRITE_OP:
            raw_written.add(r.arg("sch"))
    latest = [0] * view.nsch
    unread = [0] * view.nsch
    for r, op, states in view.walk():
        if r.kind == Ev.IRB_STORE:
            sch = r.arg("sch")
            if view.contract == "strict" and unread[sch] and sch not in raw_written:
                out.append(
                    view.finding(
                        "driver.irb-integrity",
                        "delivered IRB overwritten before it was read",
                        r,
                        op,
                        states[sch],
                        sch,
                    )
                )
            latest[sch] = unread[sch] = r.arg("hash")
        elif r.kind == Ev.IRB_READ:
            sch, h = r.arg("sch"), r.arg("hash")
            if sch in raw_written:
                continue
            if h not in (0, latest[sch]):
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
            elif view.contract == "strict" and unread[sch] and h != unread[sch]:
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
            unread[sch] = 0
    return out
