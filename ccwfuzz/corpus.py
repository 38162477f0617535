"""``ccwfuzz corpus merge OUT DIR...``: the smallest set of inputs that keeps every
feature, as libFuzzer's ``-merge=1`` does, computed with the actors' coverage.

Every input of the ``DIR``s (libFuzzer layout: one input per file) is run once on a
coverage pool; its features go to ``OUT/.merge-state.jsonl`` as soon as they are known,
one line per input (flushed), so a merge killed at any point resumes where it stopped
and never runs an input twice. Then a greedy set cover: what ``OUT`` already holds
stays; of the rest, inputs with more features first (the smaller of two equal ones),
each added if it has a feature not covered yet, under its SHA-1 (write, fsync,
rename). The state file goes at the end.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from ccwfuzz.engines.fuzz import decode, unusable
from ccwfuzz.exec import Pool
from ccwfuzz.program import RunRequest

STATE = ".merge-state.jsonl"


def _inputs(dirs: Iterable[Path]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for d in dirs:
        for entry in sorted(d.iterdir()):
            if entry.name.startswith("."):
                continue
            why = unusable(entry)
            if why:
                print(f"ccwfuzz: warning: skipped corpus file {entry}: {why}", file=sys.stderr)
                continue
            data = entry.read_bytes()
            out.setdefault(hashlib.sha1(data).hexdigest(), data)
    return out


def _state(path: Path) -> dict[str, list[int]]:
    done: dict[str, list[int]] = {}
    if not path.exists():
        return done
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            row = json.loads(line)
            done[str(row["sha1"])] = [int(x) for x in row["features"]]
        except (ValueError, KeyError, TypeError):
            continue  # a line torn by a kill: that input runs again
    return done


def merge(out: Path, dirs: list[Path], *, target: str = "reference", workers: int = 3,
          subchannels: int = 2, ops: int = 8, draw: str = "valid",
          progress: bool = True) -> tuple[int, int, int]:  # fmt: skip
    """Merge ``dirs`` into ``out``; returns (inputs seen, inputs kept, features)."""
    out.mkdir(parents=True, exist_ok=True)
    inputs = _inputs([*dirs, out])
    state_path = out / STATE
    done = _state(state_path)
    todo = [h for h in sorted(inputs) if h not in done]
    if todo:
        with Pool(target, subchannels, workers, coverage=True) as pool, \
                open(state_path, "a", encoding="utf-8") as state:  # fmt: skip
            for k, h in enumerate(todo):
                program, _ = decode(inputs[h], workers=workers, subchannels=subchannels, ops=ops,
                                    target=target, draw=draw)  # fmt: skip
                result = pool.run(RunRequest(program, max_steps=20_000))
                done[h] = list(result.signal)
                state.write(json.dumps({"sha1": h, "features": done[h]}) + "\n")
                state.flush()
                if progress and (k + 1) % 50 == 0:
                    print(f"merge: {k + 1}/{len(todo)} inputs run", file=sys.stderr, flush=True)
    present = set(_inputs([out]))  # OUT keeps what it has, as libFuzzer's -merge does
    covered: set[int] = set().union(*(done.get(h, ()) for h in present))
    order = sorted(set(inputs) - present, key=lambda h: (-len(done.get(h, ())), len(inputs[h]), h))
    kept: list[str] = []
    for h in order:
        new = set(done.get(h, ())) - covered
        if new:
            covered |= new
            kept.append(h)
            tmp = out / f".{h}.tmp"
            with open(tmp, "wb") as f:
                f.write(inputs[h])
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, out / h)
    state_path.unlink(missing_ok=True)
    return len(inputs), len(present) + len(kept), len(covered)
