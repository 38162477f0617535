"""The README's examples run as written (docs that match the code)."""

from __future__ import annotations

import re
from pathlib import Path

from ccwfuzz.exec import Pool
from ccwfuzz.oracles import check, view_of
from ccwfuzz.program import RunRequest, loads
from ccwfuzz.sync import Outcome

README = (Path(__file__).parents[2] / "README.md").read_text()


def test_program_example_is_valid_and_clean() -> None:
    text = re.search(r"```json\n(.*?)```", README, re.S)
    assert text
    p = loads(text.group(1), "README")
    with Pool(p.target, p.subchannels, len(p.workers)) as pool:
        r = pool.run(RunRequest(p))
    assert r.outcome == Outcome.DONE and check(view_of(r, p)) == []


def test_python_examples_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    assert len(blocks) >= 2
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})  # our own docs, not a file from outside


def test_quick_start_has_exactly_two_commands() -> None:
    quick = README.split("## Quick start", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    assert len(quick.strip().splitlines()) == 2
