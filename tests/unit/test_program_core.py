"""The typed program core: one declaration per op kind drives the schema, the JSON and
flat forms; programs round-trip; the content hash tells programs apart; every choice
comes from the one choice source."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ccwfuzz
from ccwfuzz.choices import RandomSource, RecordingSource, ReplaySource, increasing, permutation
from ccwfuzz.program import (
    OP_KINDS,
    Ccw,
    Program,
    ProgramError,
    Ssch,
    Write,
    Yield,
    digest,
    dumps,
    loads,
    random_program,
)
from ccwfuzz.program.flat import flatten_events, flatten_ops, unflatten_events, unflatten_ops
from ccwfuzz.program.ops import specs
from ccwfuzz.program.schema import SCHEMA

ROOT = Path(__file__).parents[2]


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 4), st.integers(1, 3), st.integers(0, 12))
def test_json_and_flat_round_trip(seed: int, workers: int, nsch: int, ops: int) -> None:
    p = random_program(RandomSource(seed), workers=workers, subchannels=nsch, ops=ops)
    assert loads(dumps(p)) == p
    assert loads(dumps(p, compact=True)) == p
    for w in p.workers:
        assert unflatten_ops(flatten_ops(w)) == w
    assert unflatten_events(flatten_events(p.channel)) == p.channel


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, 2**32 - 1), max_size=300))
def test_every_choice_list_decodes_to_a_valid_program(choices: list[int]) -> None:
    """No rejection loop: any recorded list (short ones run out into zeros) decodes."""
    p = random_program(ReplaySource(choices))
    assert loads(dumps(p)) == p


def test_recorded_choices_regenerate_the_program() -> None:
    rec = RecordingSource(RandomSource(17))
    p = random_program(rec)
    assert random_program(ReplaySource(rec.choices)) == p


def test_schema_fields_come_from_the_declarations() -> None:
    op = SCHEMA["$defs"]["op"]
    assert op["properties"]["op"]["enum"] == list(OP_KINDS)
    for branch in op["allOf"]:
        kind = branch["if"]["properties"]["op"]["const"]
        declared = {name for name, _, _ in specs(OP_KINDS[kind])}
        assert set(branch["then"]["properties"]) == declared | {"op"}


def test_ops_write_only_fields_off_their_default() -> None:
    text = dumps(Program(workers=((Ssch(0, (Ccw(3, 0x20, 1, 0),)), Yield(0, n=3)),)))
    assert '"retry"' not in text and '"n": 3' in text
    assert loads(text).workers[0][1] == Yield(0, n=3)


def test_digest_separates_programs_and_ignores_meta() -> None:
    a = Program(workers=((Write(0, offset=4, data=b"\x01"),),))
    b = dataclasses.replace(a, workers=((Write(0, offset=4, data=b"\x02"),),))
    assert digest(a) != digest(b)
    assert digest(a) == digest(dataclasses.replace(a, meta={"note": "x"}))


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('{"format":"ccwfuzz.program","version":2,"subchannels":1.0,"workers":[[]]}', "subchannels"),
        ('{"format":"ccwfuzz.program","version":2,"workers":[[{"op":"open","sch":0.0}]]}', "sch"),
        ('{"format":"ccwfuzz.program","version":2,"workers":[[{"op":"ssch","retry":1}]]}', "retry"),
        ('{"format":"ccwfuzz.program","version":2,"meta":{"mode":"\\u001b[2J"},"workers":[[]]}',
         "meta/mode"),
        ('{"format":"ccwfuzz.program","version":2,"schedule":{"policy":"x"},"workers":[[]]}',
         "schedule/policy"),
    ],
)  # fmt: skip
def test_loader_is_strict(text: str, where: str) -> None:
    with pytest.raises(ProgramError) as e:
        loads(text)
    message = str(e.value)
    assert where in message and "\x1b" not in message and "\n" not in message


def test_choice_helpers_need_no_rejection() -> None:
    zeros = ReplaySource([])
    assert increasing(zeros, 1, 100, 3) == [1, 2, 3]
    assert sorted(permutation(RandomSource(1), range(5))) == [0, 1, 2, 3, 4]
    picks = increasing(RandomSource(2), 1, 400, 5)
    assert picks == sorted(set(picks)) and all(1 <= x < 400 for x in picks)


def test_no_random_outside_the_choice_source() -> None:
    """Every random decision goes through ccwfuzz.choices (segment names use
    ``secrets``, which picks no behaviour)."""
    pattern = re.compile(r"^\s*(import random|from random import)|\brandom\.(Random|rand|choice|"
                         r"random|sample|shuffle|seed)", re.M)  # fmt: skip
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("ccwfuzz", "strategies")
        for path in (ROOT / folder).rglob("*.py")
        if path.name != "choices.py" and pattern.search(path.read_text())
    ]
    assert offenders == []


def test_the_package_root_is_a_thin_lazy_facade() -> None:
    import subprocess
    import sys

    for name in ccwfuzz.__all__:
        value = getattr(ccwfuzz, name)
        assert getattr(value, "__module__", "").startswith("ccwfuzz") or isinstance(value, dict)
    code = "import sys, ccwfuzz; print(sorted(m for m in sys.modules if m.startswith('ccwfuzz')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert loaded.stdout.strip() == "['ccwfuzz']"
    expected = {"Pool", "Program", "RunRequest", "RunResult", "Executor", "Mode", "check",
                "search", "stress", "random_program", "load", "loads", "dumps", "digest"}  # fmt: skip
    assert expected <= set(ccwfuzz.__all__)
    with pytest.raises(AttributeError):
        _ = ccwfuzz.nothing_here  # type: ignore[attr-defined]


def test_loader_stays_linear_on_unterminated_escaped_strings() -> None:
    """A string of escaped quotes with no end used to make the depth scan quadratic."""
    import time

    for text in ['"' + '\\"' * 200_000, '{"a": "' + "\\" * 300_001, '"' * 3 + "x" * 500_000]:
        t0 = time.process_time()
        with pytest.raises(ProgramError):
            loads(text)
        assert time.process_time() - t0 < 1.0


def test_shapes_the_pool_runs_are_shapes_the_loader_takes() -> None:
    from ccwfuzz.sync.words import MAX_ACTORS

    p = random_program(RandomSource(1), workers=MAX_ACTORS - 2, ops=2)
    assert loads(dumps(p)) == p


@pytest.mark.parametrize(
    "schedule",
    ['{"policy": "pct", "priorities": [0, 1, 2], "changes": [5, 5, 9]}',
     '{"policy": "pct", "priorities": [0, 1]}'],
)  # fmt: skip
def test_bad_pct_schedules_are_refused(schedule: str) -> None:
    with pytest.raises(ProgramError, match="schedule"):
        loads(f'{{"format":"ccwfuzz.program","version":2,"workers":[[]],"schedule":{schedule}}}')


def test_a_partial_history_fingerprint_is_refused() -> None:
    with pytest.raises(ProgramError, match="meta/history"):
        loads('{"format":"ccwfuzz.program","version":2,"workers":[[]],'
              '"meta":{"history":{"events":3}}}')  # fmt: skip
