"""A campaign's report, in ``out/``: ``summary.json`` (the schema is
``ccwfuzz/campaign/summary.schema.json``), ``junit.xml`` (one test case per target and
rule family; a family with a new finding fails) and ``index.html`` (plots of exec/s,
coverage and findings over time per shard, per-rule counts, the findings table with
links to each timeline and reproducer, the watchdog's events, the effective settings).

The plots are matplotlib SVG, inlined: the page opens from disk with no network and
no script. Every file is written atomically (write, fsync, rename)."""

from __future__ import annotations

import collections
import datetime
import io
import json
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import jinja2

from ccwfuzz.campaign.store import Store, write_durably
from ccwfuzz.oracles import RULES

if TYPE_CHECKING:
    from ccwfuzz.campaign.run import Figures
    from ccwfuzz.campaign.settings import Settings


class Run(Protocol):
    """What a report needs of a campaign (:class:`~ccwfuzz.campaign.run.Campaign`, or
    the merge of a campaign's shards across hosts)."""

    name: str
    out: Path
    cid: int
    settings: Settings
    figures: dict[str, Figures]
    failed: str | None


SUMMARY_FORMAT = "ccwfuzz-campaign-summary/1"
SCHEMA = Path(__file__).with_name("summary.schema.json")


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.datetime.fromtimestamp(t, datetime.UTC).isoformat(timespec="seconds")


def family(rule: str) -> str:
    """A rule's family: the part of its id before the first dot (``driver``)."""
    return rule.split(".", 1)[0]


def summary(c: Run, store: Store) -> dict[str, Any]:
    """The campaign as plain data (the ``summary.json`` document)."""
    info = store.campaign(c.cid)
    rows = [r for r in store.findings() if r.last_campaign == c.cid]
    new = [r for r in rows if r.new_in(c.cid)]
    outcome = {0: "clean", 1: "new findings", 3: "failed", 130: "interrupted"}
    code = int(info.get("exit_code") or 0)
    return {
        "format": SUMMARY_FORMAT,
        "name": c.name,
        "campaign": c.cid,
        "started": _iso(info.get("started")),
        "ended": _iso(info.get("ended")),
        "seconds": round(float(info.get("ended") or 0) - float(info.get("started") or 0), 1),
        "exit_code": code,
        "outcome": outcome.get(code, "failed"),
        "failure": c.failed,
        **c.settings.to_dict(),
        "targets": {t: f.to_dict() for t, f in c.figures.items()},
        "counts": {
            "new": len(new),
            "known": len(rows) - len(new),
            "by_rule": dict(collections.Counter(r.rule for r in rows)),
        },
        "findings": [
            {
                "key": r.key,
                "rule": r.rule,
                "location": r.location,
                "target": r.target,
                "new": r.new_in(c.cid),
                "first_seen": _iso(r.first_seen),
                "last_seen": _iso(r.last_seen),
                "count": r.count,
                "mode": r.mode,
                "triage": r.triage,
                "reliability": r.reliability,
                "ops": r.ops,
                "from_ops": r.from_ops,
                "reproducer": r.reproducer,
                "timeline": r.timeline,
            }
            for r in rows
        ],
        "events": [
            {"t": _iso(e["t"]), "kind": e["kind"], "shard": e["shard"], "detail": e["detail"]}
            for e in store.events(c.cid)
        ],
    }


def junit(doc: dict[str, Any]) -> str:
    """JUnit XML: a suite per target, a case per rule family; a family with new
    findings fails, naming each one; the target's figures as properties."""
    families = sorted({family(r) for r in RULES})
    suites = ET.Element("testsuites", name=f"ccwfuzz campaign {doc['name']}")
    total_f = 0
    for target, fig in doc["targets"].items():
        mine = [f for f in doc["findings"] if f["target"] == target and f["new"]]
        suite = ET.SubElement(suites, "testsuite", name=f"ccwfuzz {target}",
                              tests=str(len(families)), time=str(doc["seconds"]))  # fmt: skip
        props = ET.SubElement(suite, "properties")
        for k in ("fuzz_exec_per_s", "features", "corpus", "fuzz_execs", "stress_runs",
                  "regression_inputs"):  # fmt: skip
            ET.SubElement(props, "property", name=k, value=str(fig.get(k, 0)))
        failures = 0
        for fam in families:
            case = ET.SubElement(suite, "testcase", classname=f"ccwfuzz.{target}", name=fam)
            hits = [f for f in mine if family(f["rule"]) == fam]
            if hits:
                failures += 1
                fail = ET.SubElement(case, "failure", type="finding",
                                     message=f"{len(hits)} new finding(s) in {fam}")  # fmt: skip
                fail.text = "\n".join(
                    f"[{f['rule']}] {f['location']} ({f['triage']}, {f['reliability'] or '-'})"
                    + (f" reproducer: {f['reproducer']}" if f["reproducer"] else "")
                    for f in hits
                )  # fmt: skip
        suite.set("failures", str(failures))
        total_f += failures
    suites.set("failures", str(total_f))
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


# ---- plots ---------------------------------------------------------------------------------
def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg") :]


def plots(store: Store, c: Run) -> dict[str, str]:
    """Inline SVGs by name: ``exec_per_s``, ``coverage``, ``memory``, ``findings``,
    ``rules``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    plt.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "ccwfuzz", "font.size": 9})
    samples = store.samples(c.cid)
    start = float(store.campaign(c.cid).get("started") or 0)
    by_shard: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for s in samples:
        by_shard[s["shard"]].append(s)
    out: dict[str, str] = {}
    for name, field, label in (("exec_per_s", "exec_per_s", "exec/s"),
                               ("coverage", "features", "features (coverage)"),
                               ("memory", "rss_mb", "resident MiB (shard + actors)")):  # fmt: skip
        fig, ax = plt.subplots(figsize=(6.4, 2.6))
        for shard, rows in sorted(by_shard.items()):
            if field == "rss_mb":  # a look at a shard that had just ended found nothing
                rows = [r for r in rows if r[field] > 0]
            ax.plot([r["t"] - start for r in rows], [r[field] for r in rows], label=shard)
        ax.set_xlabel("seconds into the campaign")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if by_shard:
            ax.legend(loc="best", fontsize=7)
        else:
            ax.text(0.5, 0.5, "no fuzz samples", ha="center", transform=ax.transAxes)
        out[name] = _svg(fig)
        plt.close(fig)
    seen = [r for r in store.findings() if r.last_campaign == c.cid]
    fig, ax = plt.subplots(figsize=(6.4, 2.6))
    times = sorted(max(0.0, r.last_seen - start if not r.new_in(c.cid) else r.first_seen - start)
                   for r in seen)  # fmt: skip
    end = float(store.campaign(c.cid).get("ended") or time.time()) - start
    ax.step([0.0, *times, end], [*range(len(times) + 1), len(times)], where="post",
            color="#c62828")  # fmt: skip
    ax.set_xlim(0, max(end, 1.0))
    ax.set_ylim(0, max(1, len(times)) * 1.1)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("seconds into the campaign")
    ax.set_ylabel("finding keys seen")
    ax.grid(alpha=0.3)
    out["findings"] = _svg(fig)
    plt.close(fig)
    counts = collections.Counter(r.rule for r in seen)
    fig, ax = plt.subplots(figsize=(6.4, max(1.6, 0.35 * len(counts) + 0.8)))
    if counts:
        names = sorted(counts)
        ax.barh(names, [counts[n] for n in names], color="#3a6ea5")
        ax.invert_yaxis()
    else:
        ax.text(0.5, 0.5, "no findings", ha="center", transform=ax.transAxes)
        ax.set_yticks([])
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("finding keys per rule")
    out["rules"] = _svg(fig)
    plt.close(fig)
    return out


def html(doc: dict[str, Any], figures: dict[str, str]) -> str:
    env = jinja2.Environment(loader=jinja2.PackageLoader("ccwfuzz", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined)  # fmt: skip
    env.filters["when"] = lambda iso: (iso or "-").replace("T", " ").replace("+00:00", " UTC")
    env.filters["value"] = lambda v: ", ".join(map(str, v)) if isinstance(v, list) else v
    rules = {k: v.statement for k, v in RULES.items()}
    return env.get_template("campaign.html.j2").render(doc=doc, plots=figures, rules=rules)


def write_reports(c: Run, store: Store) -> dict[str, Any]:
    """Write ``summary.json``, ``junit.xml`` and ``index.html`` into the campaign's
    folder; returns the summary."""
    doc = summary(c, store)
    write_durably(c.out / "summary.json", (json.dumps(doc, indent=2) + "\n").encode())
    write_durably(c.out / "junit.xml", junit(doc).encode())
    write_durably(c.out / "index.html", html(doc, plots(store, c)).encode())
    return doc


__all__ = ["SCHEMA", "SUMMARY_FORMAT", "family", "html", "junit", "summary", "write_reports"]
