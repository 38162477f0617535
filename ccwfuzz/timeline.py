"""A reproducer as a swimlane timeline: one self-contained HTML page (no script, no
network), one lane per actor (the workers, the channel, the work queue), one row per
history record in sequence order, the violation marked and explained with its rule's
statement and spec section. Rendered from a Jinja2 template with autoescaping on:
every text from a history or a file is escaped."""

from __future__ import annotations

from typing import Any

import jinja2

from ccwfuzz.oracles import RULES, Finding
from ccwfuzz.report import actor_name, describe
from ccwfuzz.sync.history import Ev, Record

_KIND = {
    Ev.OP_BEGIN: "op", Ev.OP_END: "op", Ev.GUEST_CC: "ret", Ev.RET: "ret",
    Ev.INTERRUPT: "interrupt", Ev.INSTR: "interrupt", Ev.IRB_STORE: "irb", Ev.IRB_READ: "irb",
    Ev.FSM: "fsm", Ev.TODO: "fsm", Ev.LOCK_ACQUIRE: "lock", Ev.LOCK_RELEASE: "lock",
    Ev.LOCK_WAIT: "lock", Ev.TRYLOCK_FAIL: "lock", Ev.CP_ALLOC: "cp", Ev.CP_FREE: "cp",
    Ev.PIN: "cp", Ev.UNPIN: "cp", Ev.HW_EVENT: "hw",
}  # fmt: skip


def timeline_html(records: list[Record], findings: list[Finding], *, nworkers: int,
                  target: str, title: str, source: str, steps: int,
                  reliability: str = "reliability not measured",
                  locks: dict[int, str] | None = None) -> str:  # fmt: skip
    """The page for one run's ``records`` and ``findings``.

    Example:
        >>> html = timeline_html([], [], nworkers=2, target="reference", title="t",
        ...                      source="f.json", steps=0)
        >>> "worker1" in html and "workqueue" in html and "No finding" in html
        True
    """
    marked = {f.seq: f for f in findings}
    rows: list[dict[str, Any]] = []
    for r in records:
        text = describe(r, nworkers, locks).split(None, 2)[2]
        f = marked.get(r.seq)
        rows.append({"seq": r.seq, "lane": min(r.actor, nworkers + 1), "text": text,
                     "kind": _KIND.get(r.kind, "other"),
                     "violation": f"[{f.rule}] {f.message}" if f else ""})  # fmt: skip
    seen = {r.seq for r in records}
    for f in findings:  # judged on the run as a whole (an end state): marked at its end
        if f.seq not in seen:
            note = f"[{f.rule}] {f.message} (at the end of the run)"
            rows.append({"seq": "end", "lane": -1, "text": "", "kind": "other",
                         "violation": note})  # fmt: skip
    found = []
    for f in findings:
        rule = RULES.get(f.rule)
        found.append({"rule": f.rule, "message": f.message, "op": f.op, "state": f.state,
                      "seq": f.seq, "spec": rule.spec if rule else "-",
                      "statement": rule.statement if rule else ""})  # fmt: skip
    env = jinja2.Environment(loader=jinja2.PackageLoader("ccwfuzz", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined)  # fmt: skip
    lanes = [actor_name(a, nworkers) for a in range(nworkers + 2)]
    return env.get_template("timeline.html.j2").render(
        title=title, target=target, source=source, steps=steps, events=len(records),
        reliability=reliability, findings=found, lanes=lanes, rows=rows,
    )  # fmt: skip
