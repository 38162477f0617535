"""``check-driver``: scripted scenarios that tell a driver's author, in plain words,
what the driver lacks before any fuzzing: missing attributes, toolkit calls never made
(so records the oracles need are never written and rules cannot judge it), a channel
never kicked, an eventfd never signalled, a raise.

The scenarios are fixed, small and controlled (deterministic): one start and its
interruption, a start with halt and clear, two workers starting at once, an attention,
open/close/reset/remove. Oracle findings met on the way are reported as notes (the
scenarios are not a search; fuzz the driver to find its bugs); only what stops the
driver from being judged is a problem.
"""

from __future__ import annotations

import dataclasses

from ccwfuzz.driver import missing
from ccwfuzz.oracles import RULES, check, not_judged, view_of
from ccwfuzz.oracles.registry import Finding
from ccwfuzz.program import Executor, Program, RunRequest
from ccwfuzz.program.ops import (
    Ccw,
    Close,
    Csch,
    Hsch,
    HwEvent,
    Open,
    ReadIo,
    ReadSchib,
    Remove,
    Reset,
    Ssch,
    WaitIrq,
)
from ccwfuzz.sync import Outcome
from ccwfuzz.sync.history import Ev, Instr

NOP = (Ccw(0x03),)
WORKERS = 2

#: Record kinds every driver writes in the scenarios, what writes them, and what is
#: lost without them.
EXPECTED: dict[Ev, str] = {
    Ev.FSM: "no FSM state change recorded: change states with kernel.set_state() "
            "(driver.retcode, driver.lifecycle, driver.idle-no-cp cannot judge it)",
    Ev.INSTR: "no instruction recorded: issue SSCH/HSCH/CSCH/MSCH with kernel.issue() "
              "(it also kicks the channel; the arch.* rules cannot judge it)",
    Ev.INTERRUPT: "no interruption recorded: the top half must take it with "
                  "kernel.test_subchannel() inside kernel.interrupt_context()",
    Ev.RET: "no FSM answer recorded: report each request's return code with "
            "kernel.answer() (driver.retcode, driver.user-answer cannot judge it)",
    Ev.CP_ALLOC: "no channel program recorded: build it with kernel.cp_alloc() "
                 "(driver.cp-free-final, driver.one-cp, memory.* cannot judge it)",
    Ev.CP_FREE: "no channel program freed: free it with kernel.cp_free()",
    Ev.TODO: "the bottom half recorded nothing: call kernel.processed() after acting "
             "on an IRB (driver.final-delivered cannot judge it)",
    Ev.IRB_STORE: "no IRB delivered to userspace: copy it with kernel.deliver_irb()",
    Ev.EVENTFD: "no eventfd signal recorded: signal userspace with kernel.signal_io() "
                "(workers in wait_irq wake on it; a signal the toolkit does not see is "
                "not judged)",
}  # fmt: skip


@dataclasses.dataclass
class Report:
    """What ``check-driver`` found: problems stop the driver from being judged;
    notes are oracle findings the scenarios happened to meet."""

    target: str
    problems: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    unjudged: list[str] = dataclasses.field(default_factory=list)
    runs: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        out = [f"check-driver {self.target}: {self.runs} scenario run(s)"]
        out += [f"  PROBLEM  {p}" for p in self.problems]
        out += [f"  note     {n}" for n in self.notes]
        if self.unjudged:
            out.append(f"  not judged by: {', '.join(self.unjudged)}")
        out.append("  ok: the driver can be judged by every rule the scenarios reach"
                   if self.ok else f"  {len(self.problems)} problem(s)")  # fmt: skip
        return out


def scenarios(target: str) -> dict[str, Program]:
    """The scripted programs, by name (one subchannel, two workers)."""

    def prog(w0: tuple, w1: tuple = (), channel: tuple = ()) -> Program:  # type: ignore[type-arg]
        return Program(target=target, subchannels=1, workers=(w0, w1), channel=channel)

    start = (Open(0), Ssch(0, ccws=NOP), WaitIrq(0), ReadIo(0), Close(0))
    return {
        "one start": prog(start),
        "start, halt, clear": prog(
            (
                Open(0),
                Ssch(0, ccws=NOP),
                Hsch(0),
                WaitIrq(0),
                Csch(0),
                WaitIrq(0),
                ReadIo(0),
                Close(0),
            )
        ),
        "two starts at once": prog(
            (Open(0), Ssch(0, ccws=NOP), WaitIrq(0), ReadIo(0)),
            (Open(0), Ssch(0, ccws=NOP), WaitIrq(0), ReadIo(0), Close(0), Close(0)),
        ),
        "attention": prog(
            (Open(0), ReadSchib(0), WaitIrq(0), ReadIo(0), Close(0)),
            channel=(HwEvent("attention", 0, after=3),),
        ),
        "lifecycle": prog(
            (Open(0), Reset(0), Ssch(0, ccws=NOP), WaitIrq(0), Close(0), Remove(0), Open(0))
        ),
    }


def check_driver(executor: Executor, cls: type) -> Report:
    """Run the scenarios on ``executor`` (a pool of ``cls`` with one subchannel and
    two workers) and say what the driver lacks.

    Example:
        >>> from ccwfuzz.driver import Reference
        >>> from ccwfuzz.exec import Pool
        >>> with Pool("reference", subchannels=1, workers=2) as pool:
        ...     check_driver(pool, Reference).ok
        True
    """
    report = Report(executor.target)
    lacks = missing(cls)
    if lacks:
        report.problems.append(f"the class lacks {', '.join(lacks)} (see ccwfuzz.driver.contract)")
        return report
    seen: set[int] = set()
    never_judged = set(RULES)
    accepted_unanswered = False
    for name, program in scenarios(executor.target).items():
        result = executor.run(RunRequest(program, max_steps=20_000))
        report.runs += 1
        view = view_of(result, program, getattr(executor, "lock_names", dict)())
        seen |= view.kinds
        if view.malformed:
            report.problems.append(
                f"{name}: {view.malformed} history record(s) with out-of-range fields were "
                "dropped (a state, event or subchannel the contract does not have, e.g. an "
                "event passed to kernel.set_state() that is not an Event)"
            )
        never_judged &= set(not_judged(view))
        for actor, text in sorted(result.crashes.items()):
            last = text.strip().splitlines()[-1] if text.strip() else "an exception"
            report.problems.append(f"{name}: actor {actor} raised {last}")
        if result.outcome in (Outcome.LOST, Outcome.HANG):
            report.problems.append(f"{name}: the run did not finish ({result.outcome.name})")
        findings: list[Finding] = check(view)
        for f in findings:
            if f.rule != "actor.crash":
                report.notes.append(f"{name}: {f.line()}")
        started = any(r.kind == Ev.OP_END and r.arg("op") == Ssch.code and r.arg("result") == 124
                      for r in view.records)  # fmt: skip
        issued = [r for r in view.records if r.kind == Ev.INSTR
                  and r.arg("instr") & 0xFF == Instr.SSCH and r.arg("cc") == 0]  # fmt: skip
        if started and not issued:
            accepted_unanswered = True
        if issued and Ev.INTERRUPT not in view.kinds and result.outcome == Outcome.DONE:
            report.problems.append(f"{name}: an accepted start never interrupted: does the "
                                   "top half call kernel.test_subchannel?")  # fmt: skip
    for kind, why in EXPECTED.items():
        if kind not in seen:
            report.problems.append(why)
    if accepted_unanswered:
        report.problems.append("a start was accepted (the write returned 124) but no SSCH was "
                               "recorded: issue it with kernel.issue(), which records it and "
                               "kicks the channel (else the channel may never run it, and "
                               "arch.* cannot judge it)")  # fmt: skip
    report.unjudged = sorted(never_judged)
    return report
