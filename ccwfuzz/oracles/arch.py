"""Architecture oracles (spec B, C): what the channel subsystem answered and presented."""

from __future__ import annotations

from ccwfuzz.arch import scsw as S
from ccwfuzz.oracles.registry import Finding, RunView, rule
from ccwfuzz.program.ops import HW_EVENTS
from ccwfuzz.sync import Outcome
from ccwfuzz.sync.history import NO_CC, Ev, Instr, Record

SSCH, HSCH, CSCH, TSCH, MSCH, STSCH, XSCH = (int(i) for i in (Instr.SSCH, Instr.HSCH,
    Instr.CSCH, Instr.TSCH, Instr.MSCH, Instr.STSCH, Instr.XSCH))  # fmt: skip
NOT_OPERATIONAL = HW_EVENTS.index("not_operational") + 1
NAMES = {int(i): i.name.lower() for i in Instr}


def expected_cc(instr: int, operational: bool, w0: int) -> int | None:
    """The condition code spec B gives for ``instr`` on a subchannel whose SCSW word 0
    was ``w0`` (None: not checked)."""
    pending = bool(w0 & S.SC_PENDING)
    fc, sc, ac = w0 & S.FC, w0 & S.SC, w0 & S.AC
    if instr == MSCH:
        return None if not operational else (1 if pending else 2 if fc else 0)
    if not operational:
        return 3
    if instr == SSCH:
        return 1 if pending else 2 if fc else 0  # B.1 #6, #7
    if instr == HSCH:
        if sc == S.SC_PENDING or sc & (S.SC_PRIMARY | S.SC_SECONDARY | S.SC_ALERT):
            return 1  # B.2 #3
        return 2 if fc & (S.FC_HALT | S.FC_CLEAR) else 0
    if instr == CSCH:
        return 0  # B.3
    if instr == TSCH:
        return 0 if pending else 1  # B.4
    if instr == XSCH:
        if pending:
            return 1
        cancellable = S.AC_RESUME_PENDING | S.AC_START_PENDING | S.AC_SUSPENDED
        if fc != S.FC_START or not ac & cancellable or ac & S.AC_SUBCHANNEL_ACTIVE:
            return 2
        return 0
    return None


@rule(
    "arch.cc",
    "B.1-B.8",
    "an instruction's condition code matches the subchannel state",
    needs=(Ev.INSTR,),
)
def condition_codes(view: RunView) -> list[Finding]:
    """Checks every SSCH, HSCH, CSCH, TSCH, XSCH and MSCH issued (by the driver and by
    the interrupt path) against the spec B tables, using the SCSW and PMCW as they were
    just before the instruction. A
    program interruption (the driver passed an invalid operand) is a finding too."""
    out = []
    for r, op, states in view.of(Ev.INSTR):
        if r.kind != Ev.INSTR:
            continue
        code, cc, sch = r.arg("instr"), r.arg("cc"), r.arg("sch")
        instr, operational = code & 0xFF, bool(code >> 8 & 1)
        if cc == NO_CC:
            out.append(
                view.finding(
                    "arch.cc",
                    f"{NAMES.get(instr, instr)} raised a program interruption",
                    r,
                    op,
                    states[sch],
                    sch,
                )
            )
            continue
        want = expected_cc(instr, operational, r.arg("before"))
        if want is not None and cc != want:
            out.append(
                view.finding(
                    "arch.cc",
                    f"{NAMES[instr]} cc {cc}, spec B says cc {want} for SCSW "
                    f"{S.describe(r.arg('before'))}",
                    r,
                    op,
                    states[sch],
                    sch,
                    where=f"{NAMES[instr]} cc {cc} for cc {want}",
                )
            )
    return out


@rule(
    "arch.scsw-valid",
    "A.2, C.1",
    "every presented SCSW is architecturally consistent",
    needs=(Ev.INTERRUPT,),
)
def scsw_valid(view: RunView) -> list[Finding]:
    """Every interruption's SCSW word 0 passes the field-validity and FC/AC/SC rules."""
    out = []
    for r, op, states in view.of(Ev.INTERRUPT):
        if r.kind == Ev.INTERRUPT:
            bad = S.validity_violations(r.arg("scsw0"))
            if bad:
                sch = r.arg("sch")
                out.append(view.finding("arch.scsw-valid", bad[0], r, op, states[sch], sch))
    return out


@rule(
    "arch.intermediate-not-final",
    "C.1, C.3",
    "intermediate status never ends the function",
    needs=(Ev.INTERRUPT,),
)
def intermediate_not_final(view: RunView) -> list[Finding]:
    """An interruption with intermediate status must leave the function active or
    suspended (subchannel/device active or AC suspended)."""
    out = []
    for r, op, states in view.of(Ev.INTERRUPT):
        if r.kind == Ev.INTERRUPT:
            w0 = r.arg("scsw0")
            if w0 & S.SC_INTERMEDIATE and not w0 & (
                S.AC_SUBCHANNEL_ACTIVE | S.AC_DEVICE_ACTIVE | S.AC_SUSPENDED
            ):
                sch = r.arg("sch")
                out.append(
                    view.finding(
                        "arch.intermediate-not-final",
                        "intermediate status on an ended function",
                        r,
                        op,
                        states[sch],
                        sch,
                    )
                )
    return out


@rule(
    "arch.one-final-per-function",
    "C.1, C.2, C.9",
    "exactly one final interrupt per accepted start, halt or clear",
    needs=(Ev.INSTR, Ev.INTERRUPT),
    whole_history=True,
)
def one_final(view: RunView) -> list[Finding]:
    """A final solicited interruption ends the outstanding function (a halt or clear
    accepted during a start ends together with it); one with no function outstanding
    is a duplicate. In a run that completed, no accepted function is left without its
    final interruption, unless the subchannel was disabled or went away, or the start
    function rests suspended (a CCW S flag, spec C.3: only RSCH, which the pass-through
    contract does not offer, or a halt or clear ends it)."""
    out = []
    outstanding = [False] * view.nsch
    dropped = [False] * view.nsch
    last: list[Record | None] = [None] * view.nsch
    for r, op, states in view.of(Ev.INSTR, Ev.HW_EVENT, Ev.INTERRUPT):
        if r.kind == Ev.INSTR:
            instr, sch, cc = r.arg("instr") & 0xFF, r.arg("sch"), r.arg("cc")
            if instr in (SSCH, HSCH, CSCH) and cc == 0:
                outstanding[sch], last[sch] = True, r
            elif instr == MSCH and cc == 0:
                outstanding[sch] = False  # disabled with a device end owed: dropped
        elif r.kind == Ev.HW_EVENT and r.arg("event") == NOT_OPERATIONAL:
            dropped[r.arg("sch")] = True
            outstanding[r.arg("sch")] = False
        elif r.kind == Ev.INTERRUPT:
            w0, sch = r.arg("scsw0"), r.arg("sch")
            if S.is_solicited(w0) and S.is_final(w0):
                if not outstanding[sch]:
                    out.append(
                        view.finding(
                            "arch.one-final-per-function",
                            "final interrupt with no function outstanding",
                            r,
                            op,
                            states[sch],
                            sch,
                        )
                    )
                outstanding[sch] = False
    if view.outcome == Outcome.DONE:
        for sch in range(view.nsch):
            ended = view.end_scsw[sch] if sch < len(view.end_scsw) else 0
            if outstanding[sch] and not dropped[sch] and not ended & S.AC_SUSPENDED:
                out.append(
                    view.finding(
                        "arch.one-final-per-function",
                        "accepted function never got its final interrupt",
                        last[sch],
                        sch=sch,
                    )
                )
    return out


@rule(
    "arch.pending-cleared",
    "C.6",
    "status pending is cleared only by TSCH, CSCH or HSCH",
    needs=(Ev.INSTR,),
)
def pending_cleared(view: RunView) -> list[Finding]:
    """Between the SCSW before and after an instruction, status pending disappears only
    for TSCH cc 0, CSCH cc 0, or HSCH cc 0 on an active subchannel with intermediate
    status only (spec C.6)."""
    out = []
    for r, op, states in view.of(Ev.INSTR):
        if r.kind != Ev.INSTR or r.arg("cc") == NO_CC:
            continue
        before, after = r.arg("before"), r.arg("after")
        if not (before & S.SC_PENDING and not after & S.SC_PENDING):
            continue
        instr, cc, sch = r.arg("instr") & 0xFF, r.arg("cc"), r.arg("sch")
        both = S.AC_SUBCHANNEL_ACTIVE | S.AC_DEVICE_ACTIVE
        ok = cc == 0 and (
            instr in (TSCH, CSCH)
            or (instr == HSCH and before & S.SC == S.SC_INTERMEDIATE | S.SC_PENDING
                and before & both == both)
        )  # fmt: skip
        if not ok:
            out.append(
                view.finding(
                    "arch.pending-cleared",
                    f"{NAMES.get(instr, instr)} cc {cc} cleared status pending",
                    r,
                    op,
                    states[sch],
                    sch,
                )
            )
    return out


@rule(
    "arch.unsolicited-fc",
    "C.4",
    "unsolicited status never changes the function control",
    needs=(Ev.INSTR, Ev.INTERRUPT),
    whole_history=True,
)
def unsolicited_fc(view: RunView) -> list[Finding]:
    """An unsolicited interruption carries the FC the subchannel had (from the last
    instruction on it), never a function of its own."""
    out = []
    fc = [0] * view.nsch
    for r, op, states in view.of(Ev.INSTR, Ev.HW_EVENT, Ev.INTERRUPT):
        if r.kind == Ev.INSTR and r.arg("cc") != NO_CC:
            fc[r.arg("sch")] = r.arg("after") & S.FC
        elif r.kind == Ev.HW_EVENT and r.arg("event") == NOT_OPERATIONAL:
            fc[r.arg("sch")] = 0
        elif r.kind == Ev.INTERRUPT and not S.is_solicited(r.arg("scsw0")):
            sch = r.arg("sch")
            if r.arg("scsw0") & S.FC != fc[sch]:
                out.append(
                    view.finding(
                        "arch.unsolicited-fc",
                        f"unsolicited status changed FC to {S.describe(r.arg('scsw0'))}",
                        r,
                        op,
                        states[sch],
                        sch,
                        where="unsolicited status changed FC",
                    )
                )
    return out
