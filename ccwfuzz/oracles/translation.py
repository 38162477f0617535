"""Channel-program translation oracles (spec A.6 "Passthrough", D.1 ``cp_init``,
``cp_prefetch``, ``cp_update_scsw``; E6, E9).

``driver.translation-equivalence`` is differential: before each start request the
worker ran the guest's program on a bare channel subsystem holding a copy of the
subchannel, its device and guest memory (``EXPECT``, ``EXPECT_MEM``); what the guest
then gets through the driver must be the same. So the translator is judged against the
architecture, not against another translator.
"""

from __future__ import annotations

import dataclasses

from ccwfuzz.arch import scsw as S
from ccwfuzz.driver import contract as K
from ccwfuzz.driver.contract import Event, State
from ccwfuzz.oracles.registry import Finding, RunView, rule
from ccwfuzz.sync.history import Ev, Instr, Record, signed

#: SCSW word-0 bits the guest gets from the channel rather than from its ORB: the key,
#: S, F, P, I, A and U bits come from the host ORB the driver builds (spec D.1
#: ``cp_get_orb``), so they may differ.
STATUS_BITS = S.CC | S.FC | S.AC | S.SC | S.N
#: A PCI indication in the final status depends on whether the top half took the
#: intermediate status first (spec C.3, G.8): timing, not translation.
PCI_BIT = S.SCH_PCI << S.CSTAT_SHIFT
_CHANGES = {Instr.SSCH, Instr.HSCH, Instr.CSCH, Instr.XSCH, Instr.RSCH, Instr.MSCH, Instr.TSCH}
_CANCELS = {Instr.HSCH, Instr.CSCH, Instr.XSCH, Instr.RSCH, Instr.MSCH, Instr.SSCH}


@dataclasses.dataclass
class _Expectation:
    sch: int
    actor: int
    tag: int
    scsw: tuple[int, int, int]
    crc: int = 0
    touched: int = 0
    clean: bool = False
    started: bool = False
    void: bool = False
    got: tuple[int, int, int] | None = None
    got_by: int = -1
    record: Record | None = None


def _compare(e: _Expectation, got: tuple[int, int, int]) -> list[str]:
    """The fields (spec A.2 validity) where the guest's status differs. When the bare
    run's final status still owes the device end (device active), the guest may get it
    merged or apart: secondary status and device end are not compared then."""
    w0, w1, w2 = e.scsw
    cc = (w0 & S.CC) >> S.CC_SHIFT
    bad = []
    bits, dev = STATUS_BITS, ~PCI_BIT
    if w0 & S.AC_DEVICE_ACTIVE:
        bits &= ~(S.AC_DEVICE_ACTIVE | S.SC_SECONDARY)
        dev &= ~(S.DEV_DEVICE_END << S.DSTAT_SHIFT)
    if (got[0] ^ w0) & bits:
        bad.append(f"status {got[0] & STATUS_BITS:#010x} (expected {w0 & STATUS_BITS:#010x})")
    if cc == 0 and got[1] != w1:
        bad.append(f"CCW address {got[1]:#x} (expected {w1:#x})")
    if cc != 3 and (got[2] ^ w2) & dev:
        bad.append(f"device/subchannel status and count {got[2]:#010x} (expected {w2:#010x})")
    return bad


@rule(
    "driver.translation-equivalence",
    "A.6, D.1 (cp_init, cp_prefetch, cp_update_scsw)",
    "through the driver, a program gives the guest what the bare channel gives it",
    needs=(Ev.EXPECT,),
    whole_history=True,
)
def translation_equivalence(view: RunView) -> list[Finding]:
    """A start the driver accepted ends, for the guest, with the same final status as
    the same program on the bare channel: the status bits, the CCW address (when the
    deferred cc is 0), device and subchannel status and residual count (when it is not
    3; a PCI bit aside), and the same contents of the guest pages it stores into and of
    the device's storage. A request refused with -EFAULT ("guest memory could not be
    accessed") is a finding when the bare run accessed only valid storage and ended
    cleanly. Comparisons are skipped when something else could change the outcome:
    another function or hardware event on the subchannel, another worker writing into
    the program's pages, or another program touching them (or one whose footprint is
    unknown) while it runs."""
    out: list[Finding] = []
    live: dict[int, _Expectation] = {}  # tag -> expectation
    unknown: set[int] = set()  # subchannels running a start nobody predicted
    began: dict[int, int] = {}  # actor -> seq of its current op's OP_BEGIN
    changed: dict[int, int] = {}  # sch -> seq of the last event that changed it
    for r, op, states in view.of(Ev.OP_BEGIN, Ev.EXPECT, Ev.EXPECT_MEM, Ev.INSTR, Ev.HW_EVENT,
                                 Ev.GUEST_CC, Ev.IRB_STORE, Ev.OUTCOME):  # fmt: skip
        kind = r.kind
        if kind == Ev.OP_BEGIN:
            began[r.actor] = r.seq
        elif kind == Ev.HW_EVENT or (
            kind == Ev.INSTR and r.arg("cc") == 0 and r.arg("instr") & 0xFF in _CHANGES
        ):
            changed[r.arg("sch")] = r.seq
        if kind == Ev.EXPECT:
            sch = r.arg("sch")
            for t in [t for t, e in live.items() if e.actor == r.actor and e.sch == sch]:
                del live[t]
            e = _Expectation(sch, r.actor, r.arg("tag"),
                             (r.arg("scsw0"), r.arg("cpa"), r.arg("scsw2")))  # fmt: skip
            # The copy was taken after the op began: a change since then (recorded before
            # this record, in a free run) may or may not be in it.
            e.void = bool(unknown) or changed.get(sch, -1) > began.get(r.actor, -1)
            live[e.tag] = e
        elif kind == Ev.EXPECT_MEM:
            e2 = live.get(r.arg("tag"))
            if e2 is not None:
                e2.crc, e2.touched, e2.clean = r.arg("crc"), r.arg("pages"), bool(r.arg("verdict"))
        elif kind == Ev.INSTR:
            _instr(r, live, unknown)
        elif kind == Ev.HW_EVENT:
            for e in live.values():
                if e.sch == r.arg("sch"):
                    e.void = True
        elif kind == Ev.GUEST_CC:
            if r.arg("instr") != Instr.SSCH:
                continue
            sch, pages = r.arg("sch"), r.arg("pages")
            for t, e in list(live.items()):
                if e.actor != r.actor:
                    if pages & e.touched:
                        e.void = True
                elif e.sch == sch and not e.started:
                    del live[t]
                    ret = signed(r.arg("ret"))
                    if ret == -K.EFAULT and e.clean and not e.void:
                        out.append(view.finding(
                            "driver.translation-equivalence",
                            "start refused with -EFAULT: the architecture runs the program "
                            "without a storage access error", r, op, states[sch], sch,
                            where="false -EFAULT",
                        ))  # fmt: skip
        elif kind == Ev.IRB_STORE:
            sch, w0 = r.arg("sch"), r.arg("scsw0")
            if S.is_final_for_start(w0) or w0 & (S.FC_HALT | S.FC_CLEAR):
                unknown.discard(sch)
            for e in live.values():
                if e.sch == sch and e.started and e.got is None and S.is_final_for_start(w0):
                    e.got, e.got_by, e.record = (w0, r.arg("cpa"), r.arg("scsw2")), r.actor, r
        elif kind == Ev.OUTCOME:
            done = live.get(r.arg("tag"))
            if done is None or done.got is None or done.got_by != r.actor:
                continue
            del live[done.tag]
            if done.void:
                continue
            bad = _compare(done, done.got)
            if (done.scsw[0] & S.CC) == 0 and r.arg("crc") != done.crc:
                bad.append("guest memory or device storage")
            if bad:
                out.append(view.finding(
                    "driver.translation-equivalence",
                    "the guest's final status differs from the architecture's: " + "; ".join(bad),
                    done.record, op, states[done.sch], done.sch,
                    where=bad[0].split(" 0x")[0].split(" (")[0],
                ))  # fmt: skip
    return out


def _instr(r: Record, live: dict[int, _Expectation], unknown: set[int]) -> None:
    instr, sch, cc = r.arg("instr") & 0xFF, r.arg("sch"), r.arg("cc")
    if cc != 0 or instr not in _CHANGES:
        return
    if instr == Instr.SSCH:
        mine = next((e for e in live.values()
                     if e.sch == sch and e.actor == r.actor and not e.started), None)  # fmt: skip
        if mine is not None and not mine.void:
            mine.started = True
            for e in live.values():  # programs running side by side on shared pages
                if e is not mine and e.touched & mine.touched and e.sch != sch:
                    e.void = mine.void = True
        elif mine is None:
            unknown.add(sch)
            for e in live.values():
                e.void = True
    for e in live.values():
        if e.sch != sch:
            continue
        if (not e.started and not (instr == Instr.SSCH and e.actor == r.actor)) or (
            e.started and instr in _CANCELS and not (instr == Instr.SSCH and e.actor == r.actor)
        ):
            e.void = True


@rule(
    "memory.dma-bounds",
    "A.6, D.1 (cp_prefetch)",
    "the channel touches only the running program and the pages pinned for it",
    needs=(Ev.CP_ALLOC,),
)
def dma_bounds(view: RunView) -> list[Finding]:
    """Every CCW and IDAW the channel fetches lies in the running program's host copy,
    and every byte it moves lies in a host frame pinned for that program: not guest
    memory directly (an address left untranslated), not another program's frame, not
    a frame after it was unpinned."""
    what = {0: "CCW fetched", 1: "IDAW fetched", 2: "data fetched", 3: "data stored"}
    why = {1: "outside the running program's pinned pages", 2: "in a page already unpinned"}
    return [
        view.finding(
            "memory.dma-bounds",
            f"{what.get(r.arg('access'), 'storage accessed')} {why.get(r.arg('why'), '')}",
            r,
            op,
            states[r.arg("sch")] if r.arg("sch") < len(states) else "-",
            r.arg("sch"),
        )
        for r, op, states in view.of(Ev.DMA)
    ]


def pinned_leaks(view: RunView, ended: bool) -> list[Finding]:
    """Pinned pages (E6, E9, 8b515be5): a translation that fails releases what it
    pinned before it answers; ``cp_free`` releases the program's pages; a closed device
    has none left when the run ``ended``."""
    out: list[Finding] = []
    pinned: dict[tuple[int, int], int] = {}  # (sch, gen) -> pages
    builder: dict[tuple[int, int], int] = {}  # (sch, gen) -> the actor that pinned them
    allocated: set[tuple[int, int]] = set()
    for r, op, states in view.of(Ev.PIN, Ev.UNPIN, Ev.CP_ALLOC, Ev.CP_FREE, Ev.RET):
        kind = r.kind
        if kind == Ev.PIN:
            key = (r.arg("sch"), r.arg("gen"))
            pinned[key] = pinned.get(key, 0) + 1
            builder[key] = r.actor
        elif kind == Ev.UNPIN:
            pinned.pop((r.arg("sch"), r.arg("gen")), None)
        elif kind == Ev.CP_ALLOC:
            allocated.add((r.arg("sch"), r.arg("gen")))
        elif kind == Ev.CP_FREE:
            key = (r.arg("sch"), r.arg("gen"))
            allocated.discard(key)
            if pinned.pop(key, 0):
                out.append(view.finding("memory.leak", "freed channel program left its pages "
                                        "pinned", r, op, states[key[0]], key[0]))  # fmt: skip
        elif kind == Ev.RET and r.arg("what") == Event.IO_REQ and signed(r.arg("ret")) != 0:
            sch = r.arg("sch")
            mine = [k for k in pinned if builder[k] == r.actor and k[0] == sch]
            left = [k for k in mine if pinned[k] and k not in allocated]
            for k in left:
                del pinned[k]
            if left:
                out.append(view.finding("memory.leak", "failed translation left guest pages "
                                        "pinned", r, op, states[sch], sch))  # fmt: skip
    for sch, st in enumerate(view.states if ended else ()):
        if st in (State.STANDBY, State.NOT_OPER) and any(
            k[0] == sch and n for k, n in pinned.items()
        ):
            out.append(view.finding("memory.leak", "closed device still has guest pages pinned",
                                    state=st, sch=sch))  # fmt: skip
    return out
