"""A campaign's settings, and where each came from.

Every setting has a value in each profile (``dev`` about a minute, ``ci`` about ten,
``nightly`` hours), may be set by a ``CCWFUZZ_``-prefixed environment variable, and by
the command line; the command line wins over the environment, which wins over the
profile. The report header shows every effective value with its source, so a
dashboard's number can be traced to the flag, variable or profile that set it.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Callable, Mapping
from typing import Any

PROFILES = ("dev", "ci", "nightly")
ENV_PREFIX = "CCWFUZZ_"


def parse_duration(text: str) -> float:
    """Seconds from ``90``, ``90s``, ``10m`` or ``8h``.

    Example:
        >>> parse_duration("10m"), parse_duration("1.5h"), parse_duration("45")
        (600.0, 5400.0, 45.0)
    """
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([smh]?)\s*", text.lower())
    if not m:
        raise ValueError(f"not a duration: {text!r} (e.g. 90, 10m, 8h)")
    v = float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"not a positive duration: {text!r}")
    return v


def count_in(lo: int, hi: int) -> Callable[[str], int]:
    """A parser of whole numbers in ``lo..hi``.

    Example:
        >>> count_in(1, 8)("3")
        3
    """

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise ValueError(f"not a whole number: {text!r}") from None
        if not lo <= v <= hi:
            raise ValueError(f"{v} is not in {lo}..{hi}")
        return v

    return parse


def _share(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise ValueError(f"not a number: {text!r}") from None
    if not 0 <= v < 1:
        raise ValueError(f"{v} is not in [0, 1)")
    return v


def _targets(text: str) -> tuple[str, ...]:
    names = tuple(t.strip() for t in text.split(",") if t.strip())
    if not names:
        raise ValueError("no target named")
    return names


@dataclasses.dataclass(frozen=True)
class Setting:
    """One setting: its parser (from text, for the environment) and a value per
    profile (dev, ci, nightly)."""

    name: str
    parse: Callable[[str], Any]
    dev: Any
    ci: Any
    nightly: Any
    help: str

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()


def _cpus() -> int:
    return max(1, len(os.sched_getaffinity(0)))


#: Every campaign setting. ``jobs`` of the ci and nightly profiles is the CPU count.
SETTINGS = (
    Setting("targets", _targets, ("reference",), ("reference",), ("reference",),
            "driver targets, comma-separated (names or module:Class)"),
    Setting("time", parse_duration, 45.0, 600.0, 8 * 3600.0,
            "fuzz and stress time over all targets (seconds, or 90s, 10m, 8h)"),
    Setting("jobs", count_in(1, 256), 1, -1, -1, "fuzz shards, one CPU each"),
    Setting("stress_share", _share, 0.25, 0.25, 0.2,
            "share of each target's time given to free stress"),
    Setting("minimize_time", parse_duration, 20.0, 60.0, 300.0,
            "the most seconds spent minimizing one new finding"),
    Setting("triage_limit", count_in(0, 10_000), 10, 50, 500,
            "the most new findings minimized in one campaign"),
    Setting("seed", count_in(0, 2**32 - 1), 0, 0, 0, "the campaign's seed"),
    Setting("rss_limit_mb", count_in(64, 1 << 20), 2048, 2048, 4096,
            "a shard whose processes pass this resident memory is restarted"),
    Setting("hang_seconds", parse_duration, 30.0, 60.0, 120.0,
            "a shard silent this long is restarted"),
    Setting("workers", count_in(1, 14), 3, 3, 3, "userspace workers per run"),
    Setting("subchannels", count_in(1, 64), 2, 2, 2, "subchannels per run"),
)  # fmt: skip
BY_NAME = {s.name: s for s in SETTINGS}


@dataclasses.dataclass(frozen=True)
class Settings:
    """The effective settings: ``values`` by name and ``sources`` by name (``profile
    dev``, ``env CCWFUZZ_TIME``, ``command line``)."""

    profile: str
    values: dict[str, Any]
    sources: dict[str, str]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Settings:
        """The settings a campaign saved (:meth:`to_dict`), parsed again: a value that
        does not parse raises ValueError (a hand-edited store)."""
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        saved = data.get("settings", {})
        for s in SETTINGS:
            if s.name not in saved:
                raise ValueError(f"the saved campaign has no setting {s.name!r}")
            v = saved[s.name]["value"]
            text = ",".join(map(str, v)) if isinstance(v, list) else str(v)
            values[s.name], sources[s.name] = s.parse(text), str(saved[s.name]["source"])
        profile = str(data.get("profile", "dev"))
        if profile not in PROFILES:
            raise ValueError(f"the saved campaign has profile {profile!r}")
        return cls(profile, values, sources)

    def to_dict(self) -> dict[str, Any]:
        settings = {k: {"value": list(v) if isinstance(v, tuple) else v,
                        "source": self.sources[k]} for k, v in self.values.items()}  # fmt: skip
        return {"profile": self.profile, "settings": settings}


def resolve(profile: str | None, cli: Mapping[str, Any],
            env: Mapping[str, str] | None = None) -> Settings:  # fmt: skip
    """The effective settings: the command line (``cli``: name -> parsed value, None
    when not given) over the environment over the profile. Raises ValueError with one
    line naming the variable and the value when an environment value does not parse.

    Example:
        >>> s = resolve(None, {"time": 30.0}, {"CCWFUZZ_JOBS": "2", "CCWFUZZ_SEED": "7"})
        >>> s.time, s.sources["time"], s.jobs, s.sources["jobs"], s.sources["seed"]
        (30.0, 'command line', 2, 'env CCWFUZZ_JOBS', 'env CCWFUZZ_SEED')
        >>> s.workers, s.sources["workers"]
        (3, 'profile dev')
    """
    env = os.environ if env is None else env
    source = "command line"
    if profile is None:
        profile, source = env.get(ENV_PREFIX + "PROFILE"), f"env {ENV_PREFIX}PROFILE"
        if profile is None:
            profile, source = "dev", "default"
    if profile not in PROFILES:
        raise ValueError(f"profile {profile!r} (from {source}) is not one of {', '.join(PROFILES)}")
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for s in SETTINGS:
        if cli.get(s.name) is not None:
            values[s.name], sources[s.name] = cli[s.name], "command line"
        elif s.env in env:
            try:
                values[s.name] = s.parse(env[s.env])
            except ValueError as e:
                raise ValueError(f"{s.env}={env[s.env]!r}: {e}") from None
            sources[s.name] = f"env {s.env}"
        else:
            v = getattr(s, profile)
            values[s.name] = _cpus() if v == -1 else v
            sources[s.name] = f"profile {profile}"
    return Settings(profile, values, sources)


__all__ = [
    "BY_NAME",
    "PROFILES",
    "SETTINGS",
    "Setting",
    "Settings",
    "count_in",
    "parse_duration",
    "resolve",
]
