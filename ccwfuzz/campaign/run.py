"""``ccwfuzz campaign``: what runs every night, in phases, per target:

1. **regression**: every corpus input (the committed seeds and what earlier nights
   kept) is replayed once in controlled mode; a finding there is a regression;
2. **fuzz**: ``jobs`` libFuzzer shards sharing the target's corpus, under the
   supervisor and its psutil watchdog (:mod:`ccwfuzz.fuzzing`, :mod:`ccwfuzz.watchdog`);
3. **stress**: free-running random programs;

then, over all targets, **triage** (each new finding made deterministic, minimized,
measured and drawn as a timeline, :mod:`.triage`) and the **report**
(:mod:`.reports`).

The output folder outlives a night: ``findings.db`` (the store, :mod:`.store`),
``corpus/<target>/`` (the corpus, grown by every night), ``runs/<id>/`` (each
campaign's shard logs, findings as found, stress findings), ``reproducers/`` and
``timelines/`` (one per finding key), and the latest report (``index.html``,
``summary.json``, ``junit.xml``).

What must stay true: the tool's faults (a shard that dies, hangs or bloats; a
lost actor) are events in the report, never findings; the campaign never hangs (every
phase has a deadline); however it ends, what it reported is in the store.
"""

from __future__ import annotations

import dataclasses
import json
import signal
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from ccwfuzz.campaign.settings import Settings
from ccwfuzz.campaign.store import Store
from ccwfuzz.campaign.triage import triage
from ccwfuzz.device import sweep_stale
from ccwfuzz.fuzzing import FuzzConfig, Supervisor, seed_corpus, slug
from ccwfuzz.watchdog import Limits

EXIT_OK, EXIT_NEW, EXIT_USAGE, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
#: The most of a target's time the regression replay may take.
REGRESSION_SHARE = 0.2


class Interrupted(Exception):  # noqa: N818 (a stop, not an error)
    """SIGINT or SIGTERM arrived: stop the phase, keep what was found, report."""


@dataclasses.dataclass
class Figures:
    """Per-target figures for the report."""

    regression_inputs: int = 0
    regression_findings: int = 0
    fuzz_execs: int = 0
    fuzz_seconds: float = 0.0
    features: int = 0
    corpus: int = 0
    stress_runs: int = 0
    stress_seconds: float = 0.0
    stress_ops: int = 0

    def saved(self) -> dict[str, Any]:
        """The fields, for the store (a resumed campaign goes on counting from them)."""
        return dataclasses.asdict(self)

    @classmethod
    def load(cls, data: dict[str, Any]) -> Figures:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["fuzz_exec_per_s"] = (
            round(self.fuzz_execs / self.fuzz_seconds, 1) if self.fuzz_seconds else 0.0
        )
        return d


class Campaign:
    """One campaign (see the module docstring). ``display`` shows progress (a
    :class:`ccwfuzz.campaign.display.Display`); ``store`` is the findings store's path
    (default ``out/findings.db``), ``corpus`` the folder of the targets' corpora
    (default ``out/corpus``; shards of a campaign across hosts share one)."""

    def __init__(self, settings: Settings, out: Path, *, name: str, display: Any,
                 store: Path | None = None, resume: int | None = None,
                 corpus: Path | None = None,
                 regression: tuple[int, int] = (0, 1)) -> None:  # fmt: skip
        self.settings = settings
        self.out = out
        self.name = name
        self.display = display
        self.store_path = store or out / "findings.db"
        self.corpus_root = corpus or out / "corpus"
        self.regression_share = regression  # (k, n): replay every n-th input from the k-th
        self.figures: dict[str, Figures] = {}
        self.recorded: set[str] = set()  # finding files already counted
        self.stop = 0
        self.failed: str | None = None
        self.cid = 0
        self.doc: dict[str, Any] = {}
        self.resume = resume
        self.part: tuple[str, str, float, float, float] = ("", "", 0.0, 0.0, time.monotonic())

    # ---- the whole campaign ---------------------------------------------------------------
    def run(self) -> int:
        from ccwfuzz.campaign.reports import write_reports

        self.out.mkdir(parents=True, exist_ok=True)
        sweep_stale()  # segments a killed campaign's processes could not unlink
        with Store(self.store_path) as store:
            self.store = store
            if self.resume is not None:  # a killed or interrupted campaign goes on
                self.cid = self.resume
                store.reopen(self.cid)
                self.figures = {t: Figures.load(d) for t, d in store.figures(self.cid).items()}
            else:
                self.cid = store.begin(self.name, self.settings.to_dict())
            old = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
            try:
                self._phases()
            except Interrupted:
                pass
            except Exception as e:  # the campaign's own failure: said, reported, exit 3
                self.failed = f"{type(e).__name__}: {e}"
            finally:
                for s, h in old.items():
                    signal.signal(s, h)
            code = self._exit_code()
            store.end(self.cid, code)
            self.doc = write_reports(self, store)
        self.display.finish()
        return code

    def _exit_code(self) -> int:
        if self.failed:
            return EXIT_FAILED
        if self.stop:
            return EXIT_INTERRUPTED
        return EXIT_NEW if self.new_findings() else EXIT_OK

    def outcome_line(self) -> str:
        """One line: the outcome, the findings and the work done."""
        d = self.doc
        execs = sum(t["fuzz_execs"] for t in d["targets"].values())
        runs = sum(t["stress_runs"] for t in d["targets"].values())
        return (
            f"{d['outcome']}: {d['counts']['new']} new and {d['counts']['known']} known "
            f"finding(s); {execs} fuzz execs, {runs} stress runs in {d['seconds']:.0f} s"
        )

    def new_findings(self) -> list[Any]:
        return [r for r in self.store.findings() if r.new_in(self.cid)]

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stop = signum

    def _check(self) -> None:
        if self.stop:
            raise Interrupted

    def _phases(self) -> None:
        s = self.settings
        share = s.time / len(s.targets)
        for target in s.targets:
            self.figures.setdefault(target, Figures())
            self._phase(target, "regression", share * REGRESSION_SHARE, self._regression)
            reg = self.store.phase_state(self.cid, target, "regression")
            fuzz = share * (1 - s.stress_share) - (reg[1] if reg else 0.0)
            self._phase(target, "fuzz", fuzz, self._fuzz)
            self._phase(target, "stress", share * s.stress_share, self._stress)
        self._phase("", "triage", 0.0, lambda _t, _s: self._triage())

    def _phase(self, target: str, phase: str, planned: float,
               body: Callable[[str, float], None]) -> None:  # fmt: skip
        """Run ``body(target, seconds)`` with what is left of the phase's budget: all
        of ``planned`` the first time, ``planned`` less what was spent before a kill
        when resumed; a phase done before is skipped."""
        self._check()
        state = self.store.phase_state(self.cid, target, phase)
        if state is not None:
            planned, spent, done = state
            if done:
                return
        else:
            spent = 0.0
        self.store.phase_progress(self.cid, target, phase, planned, spent)
        self.store.phase(self.cid, f"{phase} {target}".strip())
        self.display.phase(phase, target, resumed=state is not None)
        self.part = (target, phase, planned, spent, time.monotonic())
        try:
            body(target, planned - spent)
        finally:
            self.display.end_view()
            self.progress()
        if target:
            self.store.set_figures(self.cid, target, self.figures[target].saved())
        self.store.phase_progress(self.cid, target, phase, planned, self._spent(), done=True)
        self._check()

    def _spent(self) -> float:
        _, _, _, before, start = self.part
        return before + time.monotonic() - start

    def progress(self) -> None:
        """Note the running phase's spent time (so a resumed one gets the rest)."""
        target, phase, planned, _, _ = self.part
        self.store.phase_progress(self.cid, target, phase, planned, self._spent())

    # ---- where things go ------------------------------------------------------------------
    def corpus(self, target: str) -> Path:
        return self.corpus_root / slug(target)

    def run_dir(self, *parts: str) -> Path:
        return self.out.joinpath("runs", str(self.cid), *parts)

    def _record(self, path: Path, mode: str) -> None:
        """Count the finding saved at ``path`` (once per file, also across a resume)
        in the store."""
        if str(path) in self.recorded:
            return
        try:
            meta = json.loads(path.read_text()).get("meta", {})
            key = tuple(str(k) for k in meta["key"])
        except (OSError, ValueError, KeyError, TypeError):
            return
        if len(key) != 3:
            return
        self.recorded.add(str(path))
        seen = self.store.sighting(self.cid, key, str(meta.get("mode", mode)), str(path))
        if seen:
            self.display.finding(key, seen, path)

    # ---- phases ---------------------------------------------------------------------------
    def _regression(self, target: str, seconds: float) -> None:
        from ccwfuzz.engines.fuzz import Harness, unusable
        from ccwfuzz.exec import Pool

        s = self.settings
        inputs: list[Path] = []
        for root in (seed_corpus(target), self.corpus(target)):
            if root is not None and root.is_dir():
                inputs += [p for p in sorted(root.iterdir())
                           if not p.name.startswith(".") and not unusable(p)]  # fmt: skip
        k, n = self.regression_share
        inputs = inputs[k::n]
        out = self.run_dir("regression", slug(target))
        limit = time.monotonic() + seconds
        fig = self.figures[target]
        with Pool(target, s.subchannels, s.workers) as pool:
            harness = Harness(pool, out=out, max_steps=20_000)
            for p in inputs:
                if time.monotonic() >= limit:
                    break
                self._check()
                harness(p.read_bytes())
                fig.regression_inputs += 1
        fig.regression_findings = len(harness.found)
        for f in sorted((out / "findings").glob("*.json")):
            self._record(f, "controlled")

    def _fuzz(self, target: str, seconds: float) -> None:
        s = self.settings
        if seconds < 2:
            return
        out = self.run_dir("fuzz", slug(target))
        cfg = FuzzConfig(target=target, time=seconds, out=out, jobs=s.jobs,
                         corpus=self.corpus(target), workers=s.workers,
                         subchannels=s.subchannels, seed=s.seed)  # fmt: skip
        limits = Limits(rss_mb=s.rss_limit_mb, hang_seconds=s.hang_seconds)

        def on_event(kind: str, shard: int, detail: str) -> None:
            self.store.event(self.cid, kind, f"{target}#{shard}", detail)

        fig = self.figures[target]
        base = fig.fuzz_execs

        def on_tick(statuses: list[dict[str, Any]], corpus: int) -> None:
            now = time.time()
            fig.fuzz_execs = base + sum(int(x.get("execs", 0)) for x in statuses)
            fig.corpus = corpus
            self.store.set_figures(self.cid, target, fig.saved())
            self.progress()
            rows = []
            for st in statuses:
                k = st["shard"]
                health = sup.watchdog.health(int(st["pid"])) if st.get("pid") else None
                rows.append((now, target, f"{target}#{k}", int(st.get("execs", 0)),
                             float(st.get("exec_per_s", 0.0)), int(st.get("features", 0)),
                             corpus, int(st.get("findings", 0)),
                             round(health.rss_mb, 1) if health else 0.0))  # fmt: skip
            if rows:
                self.store.sample(self.cid, rows)
            for f in sorted((out / "findings").glob("*.json")):
                self._record(f, "controlled")

        sup = Supervisor(cfg, limits=limits, live=self.display.fuzz_view(target, seconds),
                         on_event=on_event, on_tick=on_tick)  # fmt: skip
        start = time.monotonic()
        sup.run()
        stats = sup.statuses()
        fig.fuzz_execs = base + sum(int(x.get("execs", 0)) for x in stats)
        fig.fuzz_seconds += time.monotonic() - start
        fig.features = max([fig.features, *(int(x.get("features", 0)) for x in stats)])
        fig.corpus = sup.corpus_size()
        for f in sorted((out / "findings").glob("*.json")):
            self._record(f, "controlled")
        if sup.stop_signal > 0:
            self.stop = sup.stop_signal

    def _stress(self, target: str, seconds: float) -> None:
        from ccwfuzz.engines import stress
        from ccwfuzz.exec import Pool
        from ccwfuzz.program import digest, save

        s = self.settings
        if seconds < 0.5:
            return
        out = self.run_dir("stress", slug(target))
        out.mkdir(parents=True, exist_ok=True)
        fig = self.figures[target]
        last: list[Any] = []
        view = self.display.stress_view(target, seconds)

        tick = [time.monotonic()]

        def progress(st: Any) -> None:
            last[:] = [st]
            view(st)
            if self.stop:
                raise Interrupted
            if time.monotonic() - tick[0] >= 1.0:
                tick[0] = time.monotonic()
                self.progress()

        start = time.monotonic()
        with Pool(target, s.subchannels, s.workers) as pool:
            try:
                for hit in stress(pool, seconds, seed=s.seed, on_progress=progress):
                    path = out / f"{hit.finding.rule}-{digest(hit.program)[:8]}.json"
                    save(hit.program, path)
                    self._record(path, hit.mode.value)
            finally:
                fig.stress_seconds += time.monotonic() - start
                if last:
                    fig.stress_runs += last[0].runs
                    fig.stress_ops += last[0].ops

    def _triage(self) -> None:
        from ccwfuzz.exec import Pools

        s = self.settings
        todo = [r for r in self.new_findings() if r.triage == "pending"][: s.triage_limit]
        with Pools() as pools:
            for row in todo:
                self._check()
                self.display.triage(row)
                what = triage(self.store, row, pools, out=self.out, seconds=s.minimize_time)
                self.display.triaged(row, what)


__all__ = ["EXIT_FAILED", "EXIT_NEW", "EXIT_OK", "EXIT_USAGE", "Campaign", "Figures"]
