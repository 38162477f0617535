"""The fuzzer's pure parts: bytes as choices, the decoder, block instrumentation, the
structure-aware mutator, libFuzzer flag checks."""

from __future__ import annotations

import importlib.util
import itertools
import os
import random
import sys
import textwrap
from pathlib import Path

import pytest

from ccwfuzz import coverage
from ccwfuzz.choices import ByteSource, ReplaySource
from ccwfuzz.engines.fuzz import EVENT_BYTES, SCHEDULE_BYTES, decode, generate, unusable, write_once
from ccwfuzz.engines.mutate import TracingSource, mutate
from ccwfuzz.fuzzing import check_flags, slug

SHAPE = {"workers": 2, "subchannels": 2, "ops": 8, "target": "reference", "draw": "valid"}


def test_byte_source_widths_and_end() -> None:
    src = ByteSource(bytes([0xFF, 0x01, 0x02, 0x03, 0x04, 0x05]))
    assert src.draw(256) == 0xFF  # one byte
    assert src.draw(257) == 0x0102 % 257  # two bytes
    assert src.draw(1 << 32) == 0x03040500  # four, the missing one read as 0
    assert src.draw(1000) == 0  # past the end: the smallest choice
    assert src.consumed == 6


def test_empty_input_is_the_smallest_program() -> None:
    p, choices = decode(b"", **SHAPE)  # type: ignore[arg-type]
    assert choices == []
    assert [[o.kind for o in w] for w in p.workers] == [["open", "open"], ["open", "open"]]
    assert p.channel == ()


def test_short_inputs_give_short_programs() -> None:
    rng = random.Random(4)
    short = [decode(rng.randbytes(12), **SHAPE)[0] for _ in range(50)]  # type: ignore[arg-type]
    long = [decode(rng.randbytes(3000), **SHAPE)[0] for _ in range(50)]  # type: ignore[arg-type]

    def ops(ps: list) -> float:  # type: ignore[type-arg]
        return sum(sum(len(w) for w in p.workers) for p in ps) / len(ps)

    assert ops(short) < 8 < ops(long)


def test_recorded_choices_replay_the_program() -> None:
    data = random.Random(1).randbytes(2000)
    p, choices = decode(data, **SHAPE)  # type: ignore[arg-type]
    again = generate(ReplaySource(choices), **SHAPE)  # type: ignore[arg-type]
    assert again == p
    assert decode(data, **SHAPE)[0] == p  # type: ignore[arg-type]


def test_one_changed_byte_changes_little() -> None:
    """A late byte flip leaves the program's first decisions alone."""
    rng = random.Random(2)
    data = bytearray(rng.randbytes(1500))
    p, _ = decode(bytes(data), **SHAPE)  # type: ignore[arg-type]
    data[-1] ^= 0xFF
    q, _ = decode(bytes(data), **SHAPE)  # type: ignore[arg-type]
    assert q.workers == p.workers


_MODULE = textwrap.dedent(
    '''
    """A module to instrument."""

    class Thing:
        def pick(self, x):
            """Docstring stays first."""
            if x > 0:
                return "pos"
            elif x < 0:
                return "neg"
            return "zero"

    def loop(n):
        total = 0
        for i in range(n):
            total += i
        try:
            1 // n
        except ZeroDivisionError:
            total = -1
        return total
    '''
)


@pytest.fixture
def module(tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "instrument_me.py"
    path.write_text(_MODULE)
    spec = importlib.util.spec_from_file_location("instrument_me", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["instrument_me"] = mod
    spec.loader.exec_module(mod)
    yield mod
    sys.modules.pop("instrument_me", None)
    coverage._instrumented.pop("instrument_me", None)


def test_instrumented_code_behaves_the_same_and_records_blocks(module) -> None:  # type: ignore[no-untyped-def]
    thing = module.Thing()
    pick = module.Thing.pick
    assert coverage.instrument(module) == 2
    assert coverage.instrument(module) == 0  # idempotent
    assert module.Thing.pick is pick  # the same function object, new code
    assert module.Thing.pick.__doc__ == "Docstring stays first."
    m = bytearray(coverage.FEATURES)
    coverage.bind(memoryview(m))
    try:
        runs = {}
        for x in (1, -1, 0):
            m[:] = bytes(len(m))
            assert thing.pick(x) == {1: "pos", -1: "neg", 0: "zero"}[x]
            runs[x] = set(coverage.features(m))
        m[:] = bytes(len(m))
        assert module.loop(3) == 3 and module.loop(0) == -1
        looped = set(coverage.features(m))
    finally:
        coverage.bind(None)
    assert runs[1] != runs[-1] != runs[0] != runs[1]  # each arm its own feature
    assert len(runs[0] & runs[1]) == 1  # the function body is shared
    assert len(looped) >= 4  # body, loop body, loop exit, except clause
    assert thing.pick(5) == "pos"  # unbound: still works, stores go to the dummy


def test_mix_is_stable_and_spread() -> None:
    ids = {coverage.mix(k, v) for k in range(40) for v in range(40)}
    assert coverage.mix(1, 2) == coverage.mix(1, 2) != coverage.mix(2, 1)
    assert len(ids) > 1500  # few collisions among 1600 tuples in 16384 slots
    assert all(0 <= i < coverage.FEATURES for i in ids)


def _spans(data: bytes) -> list[tuple[int, int, int]]:
    src = TracingSource(data)
    generate(src, **SHAPE)  # type: ignore[arg-type]
    return src.spans


def test_tracing_source_tiles_the_input() -> None:
    data = random.Random(3).randbytes(300)
    spans = _spans(data)
    inside = [s for s in spans if s[0] < len(data)]
    assert inside[0][0] == 0
    jumps = []
    for (a, k, _), (b, _, _) in itertools.pairwise(inside):
        if b != a + k:  # a share ends: the next starts at its own offset
            jumps.append(b)
            assert b in (SCHEDULE_BYTES, SCHEDULE_BYTES + EVENT_BYTES) and a < b
    assert jumps == sorted(set(jumps)) and len(jumps) <= 2


def test_mutate_changes_one_draw_in_its_own_bytes() -> None:
    data = random.Random(5).randbytes(400)
    spans = {s[0]: s for s in _spans(data)}
    checked = 0
    for seed in range(200):
        out = mutate(data, 4096, seed, spans=_spans, fallback=lambda d, m: b"libfuzzer")
        if out == b"libfuzzer":
            continue
        grown = out[len(data) :]
        diff = [i for i in range(len(data)) if out[i] != data[i]]
        diff += [len(data) + i for i, b in enumerate(grown) if b]  # grown bytes read 0 anyway
        if not diff:
            continue  # the same value drawn again
        start = max(p for p in spans if p <= diff[0])
        _, k, n = spans[start]
        assert diff[-1] < start + k, "only the chosen draw's bytes change"
        assert len(out) <= max(len(data), start + k)
        assert int.from_bytes(out[start : start + k], "big") < n
        checked += 1
    assert checked > 100  # most mutations change one draw (a quarter go to libFuzzer)


def test_mutate_respects_max_size() -> None:
    data = bytes(64)
    for seed in range(50):
        assert len(mutate(data, 64, seed, spans=_spans, fallback=lambda d, m: d)) <= 64


@pytest.mark.parametrize(
    ("flags", "why"),
    [
        (["-runs=10", "-seed=3", "-max_len=100"], None),
        (["runs=10"], "not of the form"),
        (["-jobs=4"], "use --jobs"),
        (["-bogus=1"], "unknown libFuzzer flag"),
        (["-runs=many"], "non-negative integer"),
        (["-dict=/nonexistent/file"], "not a file"),
    ],
)
def test_libfuzzer_flags_checked(flags: list[str], why: str | None) -> None:
    got = check_flags(flags)
    assert (got is None) if why is None else (got is not None and why in got)


def test_slug_and_unusable_corpus_entries(tmp_path: Path) -> None:
    assert slug("zoo:boxed-busy") == "zoo-boxed-busy"
    assert slug("drivers.ladder:Ladder") == "drivers.ladder-Ladder"
    ok = tmp_path / "ok"
    ok.write_bytes(b"x")
    big = tmp_path / "big"
    big.write_bytes(bytes(5000))
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert unusable(ok) is None
    assert "more than" in (unusable(big) or "")
    assert "not a regular file" in (unusable(fifo) or "")
    assert "not a regular file" in (unusable(tmp_path) or "")


def test_write_once_keeps_the_first(tmp_path: Path) -> None:
    p = tmp_path / "f"
    assert write_once(p, b"first")
    assert not write_once(p, b"second")
    assert p.read_bytes() == b"first"
    assert sorted(os.listdir(tmp_path)) == ["f"]  # no temporary left
