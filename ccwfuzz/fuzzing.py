"""``ccwfuzz fuzz``: shards of libFuzzer under one supervisor.

The supervisor never runs libFuzzer itself: libFuzzer owns its process (it exits it at
the end, on a crash, on ``-runs``), so every shard is a child process
(:mod:`ccwfuzz.shard`) in its own session, with its own actor pool pinned to its own
CPU. The shards share one corpus directory (libFuzzer writes each new input there
and ``-reload`` picks up the others'), and one findings folder (each finding key is
saved once, whichever shard finds it first). The supervisor shows the live line,
prints each new finding, restarts a shard that dies, and makes sure that however the
session ends (time, ``--stop-on-finding``, SIGINT, SIGTERM, a shard killed) no process
and no shared-memory segment is left behind.

Corpus inputs are bytes, and every byte string is a program, so a corpus file cannot be
"corrupt" in content; it can be unusable: not a regular file (a FIFO would hang
libFuzzer's read), unreadable, or longer than the decoder reads. Such a file in the
corpus directory is moved to ``<out>/skipped/`` with a warning naming it (libFuzzer
would otherwise stop or silently cut it); a bad seed file is left out.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from ccwfuzz.choices import RandomSource, derive
from ccwfuzz.device import sweep_stale
from ccwfuzz.engines.fuzz import unusable
from ccwfuzz.watchdog import Limits, Watchdog

EXIT_OK, EXIT_FINDING, EXIT_INTERRUPTED = 0, 1, 130
#: How long shards get to exit after SIGTERM before they are killed, in seconds.
STOP_GRACE = 5.0
#: Restarts of a shard that died on its own before its time was up.
MAX_RESTARTS = 3
#: Random seed inputs written when a target has no corpus at all (each a full program).
RANDOM_SEEDS = 8
SEED_BYTES = 128
#: libFuzzer flags that may be passed through, with their value type. Process-level
#: modes (-jobs, -workers, -fork, -merge, ...) are ccwfuzz's own to run (``--jobs``,
#: ``ccwfuzz corpus merge``) and are refused.
LIBFUZZER_FLAGS: dict[str, type] = {
    "runs": int, "max_total_time": int, "max_len": int, "len_control": int, "seed": int,
    "dict": str, "only_ascii": int, "timeout": int, "rss_limit_mb": int,
    "malloc_limit_mb": int, "mutate_depth": int, "shuffle": int, "prefer_small": int,
    "use_value_profile": int, "use_cmp": int, "reduce_inputs": int, "reload": int,
    "print_final_stats": int, "print_pcs": int, "print_coverage": int, "verbosity": int,
    "entropic": int, "entropic_feature_frequency_threshold": int,
    "entropic_number_of_rarest_features": int, "entropic_scale_per_exec_time": int,
    "cross_over": int, "keep_seed": int, "max_number_of_runs": int, "report_slow_units": int,
    "exact_artifact_path": str, "artifact_prefix": str, "error_exitcode": int,
    "seed_inputs": str, "print_new_cov_pcs": int, "reduce_depth": int, "use_counters": int,
}  # fmt: skip
_REFUSED = {"jobs", "workers", "fork", "merge", "set_cover_merge", "minimize_crash",
            "cleanse_crash", "merge_control_file", "merge_inner", "help", "close_fd_mask",
            "handle_term", "handle_int", "ignore_crashes", "ignore_timeouts",
            "ignore_ooms"}  # fmt: skip
_FLAG_RE = re.compile(r"^-([a-z_]+)=(.*)$", re.S)


def slug(target: str) -> str:
    """A directory name for a target (``zoo:boxed-busy`` -> ``zoo-boxed-busy``)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", target).strip("-") or "target"


def check_flags(flags: list[str]) -> str | None:
    """Why the pass-through libFuzzer flags are unusable (one line), or None."""
    for flag in flags:
        m = _FLAG_RE.match(flag)
        if not m:
            return f"libFuzzer flag {flag!r} is not of the form -name=value"
        name, value = m.groups()
        if name in _REFUSED:
            use = " (use --jobs)" if name in ("jobs", "workers", "fork") else ""
            return f"libFuzzer flag -{name} is run by ccwfuzz itself, not passed through{use}"
        kind = LIBFUZZER_FLAGS.get(name)
        if kind is None:
            return f"unknown libFuzzer flag -{name} (known: {', '.join(sorted(LIBFUZZER_FLAGS))})"
        if kind is int:
            try:
                if int(value) < 0 and name != "seed":
                    raise ValueError
            except ValueError:
                return f"libFuzzer flag -{name} wants a non-negative integer, not {value!r}"
        if name == "dict" and not os.path.isfile(value):
            return f"libFuzzer dictionary {value!r} is not a file"
    return None


def seed_corpus(target: str) -> Path | None:
    """The committed seed corpus of ``target``, if there is one: ``corpora/<slug>/``
    beside the package (a source checkout), else in the current directory (an
    installed ccwfuzz run from a checkout)."""
    for base in (Path(__file__).resolve().parent.parent, Path.cwd()):
        root = base / "corpora" / slug(target)
        if root.is_dir():
            return root
    return None


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclasses.dataclass
class FuzzConfig:
    target: str
    time: float
    out: Path
    jobs: int = 1
    corpus: Path | None = None
    stop_on_finding: str = ""  # "" go on, "*" any finding, else a rule id
    libfuzzer: list[str] = dataclasses.field(default_factory=list)
    workers: int = 3
    subchannels: int = 2
    ops: int = 8
    draw: str = "valid"
    contract: str = "upstream"
    bridge: bool = True
    seed: int = 0
    max_steps: int = 20_000
    mutator: str = "bytes"
    reschedule: float = 0.0
    focus: tuple[str, ...] = ()


class Supervisor:
    """Runs the shards of one ``ccwfuzz fuzz`` session (see the module text).

    ``limits``: the watchdog's (:mod:`ccwfuzz.watchdog`): a shard over the memory
    limit or silent too long is killed and restarted. ``live``: the display (default
    the one-line one). ``on_event(kind, shard, detail)`` hears of every restart, kill
    and death; ``on_tick(statuses, corpus)`` gets the shards' figures about once a
    second (a campaign samples them).
    """

    def __init__(self, cfg: FuzzConfig, *, limits: Limits | None = None, live: Any = None,
                 on_event: Callable[[str, int, str], None] | None = None,
                 on_tick: Callable[[list[dict[str, Any]], int], None] | None = None,
                 ) -> None:  # fmt: skip
        self.cfg = cfg
        self.out = cfg.out
        self.corpus = cfg.corpus or cfg.out / "corpus"
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.started: dict[int, float] = {}
        self.restarts: dict[int, int] = {}
        self.stop_signal = 0
        self.seen_findings: set[str] = set()
        self.new_findings: list[Path] = []
        self.watchdog = Watchdog(limits or Limits())
        self.live = live
        self.on_event = on_event
        self.on_tick = on_tick

    # ---- set-up ---------------------------------------------------------------------------
    def prepare(self) -> list[str]:
        """Make the folders, move unusable corpus files aside, list the seed inputs."""
        for d in ("findings", "artifacts", "shards", "logs"):
            (self.out / d).mkdir(parents=True, exist_ok=True)
        self.corpus.mkdir(parents=True, exist_ok=True)
        for stale in (self.out / "shards").glob("*.json"):
            stale.unlink()
        skipped = self.out / "skipped"
        for entry in sorted(self.corpus.iterdir()):
            if entry.name.startswith("."):
                continue
            why = unusable(entry)
            if why:
                skipped.mkdir(exist_ok=True)
                entry.rename(skipped / entry.name)
                _say(f"ccwfuzz: warning: skipped corpus file {entry}: {why} "
                     f"(moved to {skipped / entry.name})")  # fmt: skip
        seeds: list[str] = []
        committed = seed_corpus(self.cfg.target)
        if committed is not None and committed.resolve() != self.corpus.resolve():
            for entry in sorted(committed.iterdir()):
                why = unusable(entry)
                if why:
                    _say(f"ccwfuzz: warning: skipped seed file {entry}: {why}")
                else:
                    seeds.append(str(entry))
        if not seeds and not any(self.corpus.iterdir()):
            gen = self.out / "random-seeds"
            gen.mkdir(exist_ok=True)
            src = RandomSource(derive(self.cfg.seed, "seeds"))
            for k in range(RANDOM_SEEDS):
                p = gen / f"random-{k}"
                p.write_bytes(bytes(src.draw(256) for _ in range(SEED_BYTES)))
                seeds.append(str(p))
        self.seen_findings = {p.name for p in (self.out / "findings").glob("*.json")}
        return seeds

    def _command(self, shard: int, seeds_file: Path | None) -> list[str]:
        cfg = self.cfg
        cpus = sorted(os.sched_getaffinity(0))
        cpu = cpus[shard % len(cpus)]
        cmd = [sys.executable, "-m", "ccwfuzz.shard", "--target", cfg.target,
               "--out", str(self.out), "--corpus", str(self.corpus), "--shard", str(shard),
               "--time", str(cfg.time), "--workers", str(cfg.workers),
               "--subchannels", str(cfg.subchannels), "--ops", str(cfg.ops),
               "--draw", cfg.draw, "--contract", cfg.contract,
               "--max-steps", str(cfg.max_steps), "--cpu", str(cpu)]  # fmt: skip
        if not cfg.bridge:
            cmd.append("--no-bridge")
        cmd += ["--mutator", cfg.mutator, "--reschedule", str(cfg.reschedule)]
        if cfg.focus:
            cmd += ["--focus", ",".join(cfg.focus)]
        if cfg.stop_on_finding:
            cmd += ["--stop-on-finding", cfg.stop_on_finding]
        lf = []
        if seeds_file is not None:
            lf.append(f"-seed_inputs=@{seeds_file}")
        if not any(f.startswith("-seed=") for f in cfg.libfuzzer):
            lf.append(f"-seed={derive(cfg.seed, 'shard', shard) % (1 << 31) or 1}")
        return [*cmd, "--", *lf, *cfg.libfuzzer]

    def _spawn(self, shard: int, seeds_file: Path | None) -> None:
        log = open(self.out / "logs" / f"shard-{shard}.log", "ab")  # noqa: SIM115
        try:
            self.procs[shard] = subprocess.Popen(
                self._command(shard, seeds_file), stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
            self.started[shard] = time.monotonic()
        finally:
            log.close()

    def _event(self, kind: str, shard: int, detail: str) -> None:
        if self.on_event is not None:
            self.on_event(kind, shard, detail)

    def _watch(self, seeds_file: Path | None) -> None:
        """Kill and restart every shard the watchdog gives up on."""
        for k, p in list(self.procs.items()):
            if p.poll() is not None:
                continue
            why = self.watchdog.verdict(p.pid, self.out / "shards" / f"{k}.json",
                                        self.started.get(k, time.monotonic()))  # fmt: skip
            if why is None:
                continue
            _say(f"ccwfuzz: shard {k}: {why}; killing it (a fault of the tool, not a finding)")
            self._event("killed", k, why)
            with contextlib.suppress(OSError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)
            self.watchdog.forget(p.pid)
            del self.procs[k]
            self._restart(k, -9, seeds_file)

    # ---- the session ---------------------------------------------------------------------
    def run(self) -> int:
        seeds = self.prepare()
        seeds_file = None
        if seeds:
            seeds_file = self.out / "seed-inputs.txt"
            seeds_file.write_text(",".join(seeds))
        old = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        start = time.monotonic()
        live = self.live or _Live(self.cfg, start)
        last_watch = start
        try:
            for k in range(self.cfg.jobs):
                self._spawn(k, seeds_file)
            while self.procs:
                time.sleep(0.25)
                self._poll_findings(live)
                statuses, corpus = self.statuses(), self.corpus_size()
                live.update(statuses, corpus)
                if self.stop_signal:
                    break
                if time.monotonic() - last_watch >= 1.0:
                    last_watch = time.monotonic()
                    if self.on_tick is not None:
                        self.on_tick(statuses, corpus)
                    self._watch(seeds_file)
                for k, p in list(self.procs.items()):
                    code = p.poll()
                    if code is None:
                        continue
                    del self.procs[k]
                    self.watchdog.forget(p.pid)
                    if code == EXIT_FINDING and self.cfg.stop_on_finding:
                        self.stop_signal = -1
                    elif code != 0 and time.monotonic() - start < self.cfg.time - 1:
                        self._event("died", k, f"exit {code}")
                        self._restart(k, code, seeds_file)
                if self.stop_signal:
                    break
                if time.monotonic() - start > self.cfg.time + 30:  # a shard that hangs
                    _say("ccwfuzz: a shard did not stop at its time limit; stopping it")
                    break
        finally:
            self._stop_all()
            for s, h in old.items():
                signal.signal(s, h)
            self._poll_findings(live)
            stats = self.statuses()
            live.close()
            sweep_stale()
        self._summary(stats, time.monotonic() - start)
        if self.stop_signal > 0:
            return EXIT_INTERRUPTED
        return EXIT_FINDING if self.new_findings else EXIT_OK

    def _restart(self, shard: int, code: int, seeds_file: Path | None) -> None:
        n = self.restarts.get(shard, 0)
        log = self.out / "logs" / f"shard-{shard}.log"
        if n >= MAX_RESTARTS:
            _say(f"ccwfuzz: shard {shard} died again (exit {code}); not restarting it ({log})")
            self._event("given up", shard, f"{n} restarts already; see {log}")
            return
        self.restarts[shard] = n + 1
        self._event("restarted", shard, f"restart {n + 1} of {MAX_RESTARTS}")
        _say(f"ccwfuzz: shard {shard} died (exit {code}, a fault of the tool, not a finding; "
             f"see {log}); restarting it")  # fmt: skip
        sweep_stale()
        self._spawn(shard, seeds_file)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stop_signal = signum

    def _stop_all(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                with contextlib.suppress(OSError):
                    p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for p in self.procs.values():
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(OSError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=5)
        for p in self.procs.values():  # actors left in the shard's session, if any
            with contextlib.suppress(OSError):
                os.killpg(p.pid, signal.SIGKILL)
        self.procs.clear()

    # ---- what the shards say -------------------------------------------------------------
    def statuses(self) -> list[dict[str, Any]]:
        out = []
        for p in sorted((self.out / "shards").glob("*.json"), key=lambda p: p.stem.zfill(6)):
            try:
                status = json.loads(p.read_text())
            except (OSError, ValueError):
                continue
            if isinstance(status, dict) and p.stem.isdigit():
                out.append({**status, "shard": int(p.stem)})
        return out

    def corpus_size(self) -> int:
        try:
            return sum(1 for e in os.scandir(self.corpus) if not e.name.startswith("."))
        except OSError:
            return 0

    def _poll_findings(self, live: Any) -> None:
        for path in sorted((self.out / "findings").glob("*.json")):
            if path.name in self.seen_findings:
                continue
            self.seen_findings.add(path.name)
            self.new_findings.append(path)
            try:
                meta = json.loads(path.read_text()).get("meta", {})
            except (OSError, ValueError):
                meta = {}
            extra = "" if _builtin(self.cfg.target) else f" --target {self.cfg.target}"
            live.say(f"FINDING [{meta.get('rule', '?')}] {' / '.join(meta.get('key', []))}\n"
                     f"  saved: {path} (replay: ccwfuzz replay {path}{extra};"
                     f" shrink: ccwfuzz minimize {path}{extra} -o repro.json)")  # fmt: skip

    def _summary(self, stats: list[dict[str, Any]], seconds: float) -> None:
        execs = sum(int(s.get("execs", 0)) for s in stats)
        feats = max((int(s.get("features", 0)) for s in stats), default=0)
        how = ""
        if self.stop_signal:
            how = {int(signal.SIGINT): " (interrupted)", int(signal.SIGTERM): " (terminated)"}.get(
                self.stop_signal, " (stopped at the first finding)"
            )
        rate = execs / max(seconds, 1e-9)
        print(f"fuzz {self.cfg.target}: {execs} execs in {seconds:.0f} s ({rate:,.0f} exec/s), "
              f"{feats} features, corpus {self.corpus_size()}, "
              f"{len(self.new_findings)} new finding(s){how}")  # fmt: skip
        if self.new_findings:
            print(f"  findings: {self.out / 'findings'}")


def _builtin(target: str) -> bool:
    from ccwfuzz.driver import TARGETS

    return target in TARGETS


class _Live:
    """The live line on a terminal (tqdm), a plain line every 10 s otherwise."""

    def __init__(self, cfg: FuzzConfig, start: float) -> None:
        from tqdm import tqdm

        self.cfg, self.start = cfg, start
        self.tty = sys.stderr.isatty()
        self.bar = tqdm(total=round(cfg.time), unit="s", desc=f"fuzz {cfg.target}",
                        disable=not self.tty, file=sys.stderr, leave=False,
                        bar_format="{desc} {n_fmt}/{total_fmt}s |{bar:20}| {postfix}")  # fmt: skip
        self.last_plain = start

    def update(self, stats: list[dict[str, Any]], corpus: int) -> None:
        now = time.monotonic()
        execs = sum(int(s.get("execs", 0)) for s in stats)
        rate = sum(float(s.get("exec_per_s", 0)) for s in stats if not s.get("done"))
        feats = max((int(s.get("features", 0)) for s in stats), default=0)
        found = sum(int(s.get("findings", 0)) for s in stats)
        text = (f"{rate:,.0f} exec/s, {feats} features, corpus {corpus}, "
                f"findings {found}, {execs} execs")  # fmt: skip
        if self.tty:
            self.bar.n = min(round(now - self.start), round(self.cfg.time))
            self.bar.set_postfix_str(text)
        elif now - self.last_plain >= 10:
            self.last_plain = now
            print(f"fuzz {self.cfg.target}: {now - self.start:.0f}/{self.cfg.time:.0f} s, {text}",
                  flush=True)  # fmt: skip

    def say(self, text: str) -> None:
        if self.tty:
            self.bar.clear()
        print(text, flush=True)
        if self.tty:
            self.bar.refresh()

    def close(self) -> None:
        self.bar.close()
