"""The ccwfuzz pytest plugin: fuzz a driver model from a project's own test suite.

Registered through the ``pytest11`` entry point ``ccwfuzz``. Loading it imports only
pytest and the standard library; the engines load when a test first asks for a
fixture, so a suite that never uses ccwfuzz pays nothing for it.

A test marked ``@pytest.mark.ccwfuzz(target=..., time=..., mode=...)`` asks for the
``ccwfuzz`` fixture and calls :meth:`CcwfuzzSession.run`. In a normal run that replays
the target's corpus (regression) and searches for ``time`` seconds; ``--ccwfuzz-time``
(or a profile) makes every marked test fuzz longer, as a nightly job does, and
``--ccwfuzz-replay-only`` only replays. A finding fails the test with its rule, the
minimized reproducer and the timeline page.

Seeds: the controller (or a plain run) makes one seed, or takes ``--ccwfuzz-seed``;
pytest-xdist workers receive it, and each test's seed derives from it and the test's
node id, so a test draws the same programs whichever worker runs it. The seed is in
the report header. Per-test statistics travel in the test report's user properties
(they survive xdist and become JUnit properties) and are summed in a terminal summary.

Example (a test module of another project):

    import pytest

    @pytest.mark.ccwfuzz(target="mydriver:MyDriver", time=5)
    def test_my_driver(ccwfuzz):
        ccwfuzz.run()
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

#: What a ``@pytest.mark.ccwfuzz(...)`` marker may say, and the defaults.
MARKER_KEYS = {"target": "reference", "time": None, "mode": "controlled", "workers": 3,
               "subchannels": 2, "ops": 8, "rule": None, "draw": "valid"}  # fmt: skip
MODES = ("controlled", "free")
DRAWS = ("valid", "anything", "mixed")
#: Seconds a marked test searches in a normal run, and in each profile.
PROFILE_TIME = {"dev": 2.0, "ci": 30.0, "nightly": 600.0}
DEFAULT_TIME = PROFILE_TIME["dev"]
#: The most a finding's minimization may take, in seconds.
MINIMIZE_SECONDS = 20.0
PROPERTY_PREFIX = "ccwfuzz_"
_SEED = pytest.StashKey[int]()
_OPTIONS = (
    ("time", "seconds each marked test fuzzes (90, 10m, 8h); default: the marker's"),
    ("profile", "dev, ci or nightly: how long marked tests fuzz without --ccwfuzz-time"),
    ("seed", "the run's seed (default: a fresh one, shown in the report header)"),
    ("corpus", "the folder of per-target corpora marked tests replay (default: corpora)"),
    ("out", "where findings' reproducers and timelines go (default: reports/pytest)"),
)


# ---- options, markers, seed ---------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ccwfuzz", "ccwfuzz: fuzz driver models in marked tests")
    for name, text in _OPTIONS:
        group.addoption(f"--ccwfuzz-{name}", dest=f"ccwfuzz_{name}", default=None, help=text)
        parser.addini(f"ccwfuzz_{name}", text, default=None)
    text = "only replay the corpus in marked tests (no search)"
    group.addoption("--ccwfuzz-replay-only", dest="ccwfuzz_replay_only", action="store_true",
                    default=None, help=text)  # fmt: skip
    parser.addini("ccwfuzz_replay_only", text, type="bool", default=False)


def _setting(config: pytest.Config, name: str) -> Any:
    """An option's value: the command line over the ini file."""
    value = config.getoption(f"ccwfuzz_{name}")
    return config.getini(f"ccwfuzz_{name}") if value is None else value


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "ccwfuzz(target='reference', time=None, mode='controlled', workers=3, "
        "subchannels=2, ops=8, rule=None, draw='valid'): fuzz a driver model in this test "
        "through the ccwfuzz fixture")  # fmt: skip
    try:
        settings = Settings.of(config)
    except ValueError as e:
        raise pytest.UsageError(f"ccwfuzz: {e}") from None
    config.stash[_SETTINGS] = settings
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and "ccwfuzz_seed" in workerinput:
        seed = int(workerinput["ccwfuzz_seed"])  # the controller's
    else:
        seed = settings.seed if settings.seed is not None else secrets.randbits(32)
    config.stash[_SEED] = seed


@pytest.hookimpl(optionalhook=True)  # an xdist hook: pytest runs without xdist too
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist (controller): hand the run's seed to each worker."""
    node.workerinput["ccwfuzz_seed"] = node.config.stash[_SEED]


def pytest_report_header(config: pytest.Config) -> str:
    s = config.stash[_SETTINGS]
    time = f"{s.time:g} s" if s.time is not None else "per marker"
    return (f"ccwfuzz: seed {config.stash[_SEED]} (--ccwfuzz-seed to repeat), time {time}, "
            f"profile {s.profile or '-'}, corpus {s.corpus}"
            + (", replay only" if s.replay_only else ""))  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Settings:
    """The plugin's effective settings (command line over ini file)."""

    time: float | None
    profile: str | None
    seed: int | None
    corpus: Path
    out: Path
    replay_only: bool

    @classmethod
    def of(cls, config: pytest.Config) -> Settings:
        time = _setting(config, "time")
        profile = _setting(config, "profile")
        if profile is not None and profile not in PROFILE_TIME:
            raise ValueError(f"--ccwfuzz-profile {profile!r}: choose dev, ci or nightly")
        seed = _setting(config, "seed")
        if seed is not None:
            if not re.fullmatch(r"[0-9]{1,10}", str(seed)) or int(seed) >= 2**32:
                raise ValueError(f"--ccwfuzz-seed {seed!r}: a whole number below 2**32")
            seed = int(seed)
        seconds = _duration(f"--ccwfuzz-time {time!r}", time) if time is not None else None
        if seconds is None and profile is not None:
            seconds = PROFILE_TIME[profile]
        root = config.rootpath
        return cls(seconds, profile, seed, root / (_setting(config, "corpus") or "corpora"),
                   root / (_setting(config, "out") or "reports/pytest"),
                   bool(_setting(config, "replay_only")))  # fmt: skip


_SETTINGS = pytest.StashKey[Settings]()


def _duration(what: str, value: object) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        text = str(value)
    elif isinstance(value, str):
        text = value
    else:
        raise ValueError(f"{what}: not a duration (e.g. 90, 10m, 8h)")
    from ccwfuzz.campaign.settings import parse_duration

    try:
        return parse_duration(text)
    except ValueError:
        raise ValueError(f"{what}: not a positive duration (e.g. 90, 10m, 8h)") from None


# ---- the marker ---------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Marked:
    """What a test's ``ccwfuzz`` marker asks for (validated at collection)."""

    target: str
    time: float | None
    mode: str
    workers: int
    subchannels: int
    ops: int
    rule: str | None
    draw: str

    @classmethod
    def of(cls, item: pytest.Item) -> Marked:
        mark = item.get_closest_marker("ccwfuzz")
        kw = dict(mark.kwargs) if mark is not None else {}
        if mark is not None and mark.args:
            raise ValueError("the ccwfuzz marker takes keywords only "
                             f"({', '.join(MARKER_KEYS)})")  # fmt: skip
        unknown = sorted(set(kw) - set(MARKER_KEYS))
        if unknown:
            raise ValueError(f"unknown ccwfuzz marker key {unknown[0]!r} "
                             f"(known: {', '.join(MARKER_KEYS)})")  # fmt: skip
        v = {**MARKER_KEYS, **kw}
        target = v["target"]
        if isinstance(target, type):
            target = f"{target.__module__}:{target.__qualname__}"
        if not isinstance(target, str):
            raise ValueError(f"target={target!r}: a target name or a driver class")
        if v["mode"] not in MODES:
            raise ValueError(f"mode={v['mode']!r}: choose {' or '.join(MODES)}")
        if v["draw"] not in DRAWS:
            raise ValueError(f"draw={v['draw']!r}: choose {', '.join(DRAWS)}")
        for key, lo, hi in (("workers", 1, 14), ("subchannels", 1, 8), ("ops", 1, 256)):
            n = v[key]
            if isinstance(n, bool) or not isinstance(n, int) or not lo <= n <= hi:
                raise ValueError(f"{key}={n!r}: a whole number in {lo}..{hi}")
        time = _duration(f"time={v['time']!r}", v["time"]) if v["time"] is not None else None
        rule = v["rule"]
        if rule is not None:
            from ccwfuzz.oracles import RULES

            if rule not in RULES:
                raise ValueError(f"rule={rule!r}: not a ccwfuzz rule (ccwfuzz rules lists them)")
        from ccwfuzz.driver import resolve

        resolve(target)  # a target that cannot be loaded is a usage error, here
        return cls(target, time, v["mode"], v["workers"], v["subchannels"], v["ops"], rule,
                   v["draw"])  # fmt: skip


_MARKED = pytest.StashKey[Marked]()


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:  # fmt: skip
    for item in items:
        if item.get_closest_marker("ccwfuzz") is None:
            continue
        try:
            item.stash[_MARKED] = Marked.of(item)
        except ValueError as e:
            raise pytest.UsageError(f"{item.nodeid}: {e}") from None


# ---- fixtures ------------------------------------------------------------------------------
def _marked(request: pytest.FixtureRequest) -> Marked:
    item = request.node
    if _MARKED not in item.stash:
        item.stash[_MARKED] = Marked.of(item)  # unmarked: the defaults
    marked: Marked = item.stash[_MARKED]
    return marked


@pytest.fixture
def ccwfuzz_target(request: pytest.FixtureRequest) -> str:
    """The test's target name (``reference`` unless its marker says otherwise)."""
    return _marked(request).target


@pytest.fixture
def ccwfuzz_driver(ccwfuzz_target: str) -> type:
    """The test's driver class (resolved from its target)."""
    from ccwfuzz.driver import resolve

    return resolve(ccwfuzz_target)


@pytest.fixture
def ccwfuzz_css() -> Iterator[Any]:
    """A formatted channel subsystem of two subchannels (the simulated hardware alone,
    no driver, no actors), closed after the test."""
    from ccwfuzz.device import ChannelSubsystem, segment_size
    from ccwfuzz.exec.pool import css_config

    cfg = css_config(2)
    buf = bytearray(segment_size(2, cfg))
    region = memoryview(buf)
    ChannelSubsystem.format(region, 2, config=cfg)
    css = ChannelSubsystem(region)
    try:
        yield css
    finally:
        css.close()
        region.release()


@pytest.fixture
def ccwfuzz_pool(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A persistent actor pool for the test's target and program shape, recording
    coverage features (block coverage of the driver and the channel code, domain
    signal), closed (no process or segment left) after the test."""
    from ccwfuzz.exec import Pool

    m = _marked(request)
    with Pool(m.target, m.subchannels, m.workers, coverage=True) as pool:
        yield pool


@pytest.fixture
def ccwfuzz(request: pytest.FixtureRequest, ccwfuzz_pool: Any) -> CcwfuzzSession:
    """Runs a fuzz or stress session against the test's target: ``ccwfuzz.run()``."""
    config = request.config
    item = request.node
    seed = test_seed(config.stash[_SEED], item.nodeid)
    return CcwfuzzSession(_marked(request), config.stash[_SETTINGS], seed, ccwfuzz_pool,
                          item, _worker_id(config))  # fmt: skip


def test_seed(run_seed: int, nodeid: str) -> int:
    """A test's seed: the run's seed and the test's node id, hashed (32 bits).

    Example:
        >>> test_seed(1, "t.py::a") == test_seed(1, "t.py::a") != test_seed(1, "t.py::b")
        True
    """
    h = hashlib.blake2b(f"{run_seed}:{nodeid}".encode(), digest_size=4)
    return int.from_bytes(h.digest(), "big")


test_seed.__test__ = False  # type: ignore[attr-defined]  # not a test for pytest


def _worker_id(config: pytest.Config) -> str:
    workerinput = getattr(config, "workerinput", None)
    return str(workerinput["workerid"]) if workerinput else "main"


# ---- the session a marked test runs -----------------------------------------------------------
@dataclasses.dataclass
class Outcome:
    """What :meth:`CcwfuzzSession.run` did: inputs replayed, search runs and their
    rate, and the finding (rule, key, reproducer and timeline paths) if there was one."""

    replayed: int = 0
    runs: int = 0
    seconds: float = 0.0
    coverage: int = 0  # coverage features the search's runs reached
    rule: str | None = None
    key: tuple[str, ...] | None = None
    reproducer: Path | None = None
    timeline: Path | None = None
    token: str = ""
    reliability: str = ""

    @property
    def exec_per_s(self) -> float:
        return self.runs / self.seconds if self.seconds > 0 else 0.0


class CcwfuzzSession:
    """One marked test's fuzzing: replay the corpus, search, and on a finding make it
    deterministic, minimize it, write its reproducer and timeline, and fail the test.

    Everything it draws derives from the test's seed, so the same seed and node id
    give the same search (controlled mode); free mode is as parallel as the machine."""

    def __init__(self, marked: Marked, settings: Settings, seed: int, pool: Any,
                 item: pytest.Item, worker: str) -> None:  # fmt: skip
        self.marked = marked
        self.settings = settings
        self.seed = seed
        self.pool = pool
        self._item = item
        self._worker = worker

    @property
    def seconds(self) -> float:
        """How long :meth:`run` searches: ``--ccwfuzz-time`` (or the profile's), else
        the marker's ``time``, else the default."""
        s, m = self.settings, self.marked
        return s.time if s.time is not None else (m.time if m.time is not None else DEFAULT_TIME)

    def run(self, *, fail: bool = True) -> Outcome:
        """Replay the corpus, then search (unless replay-only); a finding fails the
        test (``fail=False`` returns it instead). Statistics go into the test report."""
        from ccwfuzz.program import Mode

        m, out = self.marked, Outcome()
        found = self._replay(out)
        if found is None and not self.settings.replay_only:
            from ccwfuzz.engines import search

            r = search(self.pool, m.rule, budget=10**9, seed=self.seed, mode=Mode(m.mode),
                       seconds=self.seconds, max_steps=20_000, draw=m.draw)  # fmt: skip
            out.runs, out.seconds = r.runs, r.seconds
            out.coverage = len(r.stats.features)
            if r.found is not None and r.program is not None:
                found = (r.program, r.found.key, r.token)
        if found is not None:
            self._triage(out, *found)
        self._report(out)
        if fail and out.key is not None:
            pytest.fail(self._message(out), pytrace=False)
        return out

    # ---- the parts --------------------------------------------------------------------
    def _replay(self, out: Outcome) -> tuple[Any, tuple[str, ...], str] | None:
        """Replay every corpus input of the target; the first finding, if any."""
        from ccwfuzz.engines.fuzz import Harness, unusable
        from ccwfuzz.fuzzing import slug

        root = self.settings.corpus / slug(self.marked.target)
        if not root.is_dir():
            return None
        m = self.marked
        harness = Harness(self.pool, out=None, ops=m.ops, max_steps=20_000, draw=m.draw)
        for path in sorted(root.iterdir()):
            if path.name.startswith(".") or unusable(path):
                continue
            harness(path.read_bytes())
            out.replayed += 1
            for f, program in harness.found:
                if m.rule is None or f.rule == m.rule:
                    return program, f.key, ""
        return None

    def _triage(self, out: Outcome, program: Any, key: tuple[str, ...], token: str) -> None:
        from ccwfuzz.engines.reproduce import Saved, triage_finding
        from ccwfuzz.fuzzing import slug
        from ccwfuzz.program import dumps
        from ccwfuzz.timeline import timeline_html

        out.rule, out.key, out.token = key[0], key, token
        pools = _Executors(self.pool)
        try:
            t = triage_finding(pools, Saved(program, key, None), tries=100,
                               seconds=MINIMIZE_SECONDS, replays=5, seed=self.seed)  # fmt: skip
            small = t.program or program
            out.reliability = (t.reproducer.reliability.label if t.reproducer is not None
                               else t.outcome)  # fmt: skip
            folder = self.settings.out / f"{self._worker}-{slug(self._item.nodeid)}"
            folder.mkdir(parents=True, exist_ok=True)
            out.reproducer = folder / f"{slug(key[0])}.json"
            out.reproducer.write_text(dumps(small))
            if t.judged is not None:
                hits = [f for f in t.judged.findings if f.key == key] or t.judged.findings
                out.timeline = folder / f"{slug(key[0])}.html"
                out.timeline.write_text(timeline_html(
                    t.judged.result.records, hits, nworkers=len(small.workers),
                    target=small.target, title=f"{key[0]} on {small.target}",
                    source=str(out.reproducer), steps=t.judged.result.steps,
                    locks=t.executor.lock_names(), reliability=out.reliability))  # fmt: skip
        finally:
            pools.close()

    def _report(self, out: Outcome) -> None:
        props = {
            "target": self.marked.target,
            "seed": self.seed,
            "mode": self.marked.mode,
            "replayed": out.replayed,
            "runs": out.runs,
            "exec_per_s": round(out.exec_per_s, 1),
            "coverage": out.coverage,
            "findings": int(out.key is not None),
        }
        if out.rule:
            props["rule"] = out.rule
        for k, v in props.items():
            self._item.user_properties.append((PROPERTY_PREFIX + k, v))

    def _message(self, out: Outcome) -> str:
        assert out.key is not None
        lines = [f"ccwfuzz: [{out.rule}] on {self.marked.target}: {' | '.join(out.key[1:])}",
                 f"  seed {self.seed} (run with --ccwfuzz-seed to repeat the run), "
                 f"{out.replayed} replayed, {out.runs} runs, {out.reliability}"]  # fmt: skip
        if out.reproducer:
            lines.append(f"  reproducer: {out.reproducer}  (ccwfuzz replay {out.reproducer})")
        if out.timeline:
            lines.append(f"  timeline:   {out.timeline}")
        return "\n".join(lines)


class _Executors:
    """The engines' ``Executors``: the test's pool for its own program shape, pools
    started on demand for the smaller shapes a minimizer tries (closed by :meth:`close`)."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self._others: Any = None

    def __call__(self, target: str, subchannels: int, workers: int) -> Any:
        p = self.pool
        if (target, subchannels, workers) == (p.target, p.nsch, p.nworkers):
            return p
        if self._others is None:
            from ccwfuzz.exec.pool import Pools

            self._others = Pools()
        return self._others(target, subchannels, workers)

    def close(self) -> None:
        if self._others is not None:
            self._others.close()


# ---- statistics ------------------------------------------------------------------------------
def pytest_terminal_summary(terminalreporter: Any) -> None:
    rows = []
    for reports in terminalreporter.stats.values():
        for rep in reports:
            if getattr(rep, "when", None) != "call":
                continue
            props = {k[len(PROPERTY_PREFIX):]: v for k, v in getattr(rep, "user_properties", ())
                     if isinstance(k, str) and k.startswith(PROPERTY_PREFIX)}  # fmt: skip
            if props:
                rows.append((rep.nodeid, props))
    if not rows:
        return
    tr = terminalreporter
    tr.write_sep("-", "ccwfuzz")
    for nodeid, p in sorted(rows):
        tr.write_line(f"{nodeid}: {p.get('target')} seed {p.get('seed')}: "
                      f"{p.get('replayed', 0)} replayed, {p.get('runs', 0)} runs "
                      f"({p.get('exec_per_s', 0)}/s), {p.get('coverage', 0)} features, "
                      f"{p.get('findings', 0)} finding(s)")  # fmt: skip
    runs = sum(int(p.get("runs", 0)) for _, p in rows)
    found = sum(int(p.get("findings", 0)) for _, p in rows)
    tr.write_line(f"ccwfuzz: {len(rows)} test(s), {runs} runs, {found} finding(s)")
