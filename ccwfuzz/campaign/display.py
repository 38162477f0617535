"""The campaign's live display: on a terminal a rich table (per shard: exec/s,
coverage, corpus, findings; the phase and the time left); otherwise plain lines, one
per event and a figures line every ``PLAIN_EVERY`` seconds, so a CI log stays short
and readable."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

#: Seconds between figures lines when stdout is not a terminal.
PLAIN_EVERY = 10.0


class Display:
    """What the campaign says while it runs (see the module docstring)."""

    def __init__(self, name: str, *, tty: bool | None = None) -> None:
        self.name = name
        self.tty = sys.stdout.isatty() if tty is None else tty
        self.console = Console(highlight=False, soft_wrap=True)
        self.live: Live | None = None
        self.last_plain = 0.0
        self.what = ""

    def say(self, text: str) -> None:
        if self.live is not None:
            self.live.console.print(text, markup=False)
        else:
            print(text, flush=True)

    def phase(self, phase: str, target: str, resumed: bool = False) -> None:
        self.what = f"{phase} {target}".strip()
        again = " (resumed: the time left of it)" if resumed else ""
        self.say(f"campaign {self.name}: {self.what}{again}")

    def finding(self, key: tuple[str, ...], seen: str, path: Path) -> None:
        """A sighting: ``seen`` is the store's word (new, again, known)."""
        word = {"new": "NEW FINDING", "again": "found again"}.get(seen, "known finding")
        self.say(f"  {word} [{key[0]}] {key[1]} on {key[2]} (saved: {path})")

    def triage(self, row: Any) -> None:
        self.say(f"  triage [{row.rule}] {row.location}: minimizing")

    def triaged(self, row: Any, what: str) -> None:
        self.say(f"  triage [{row.rule}] {row.location}: {what}")

    def fuzz_view(self, target: str, seconds: float) -> FuzzView:
        return FuzzView(self, target, seconds)

    def stress_view(self, target: str, seconds: float) -> Any:
        start = time.monotonic()

        def show(stats: Any) -> None:
            left = max(0.0, seconds - (time.monotonic() - start))
            line = (f"stress {target}: {stats.runs} runs, {stats.ops_per_s:,.0f} ops/s, "
                    f"{stats.findings} finding(s), {left:.0f} s left")  # fmt: skip
            self._figures(line, None)

        return show

    def _figures(self, line: str, table: Table | None) -> None:
        if self.tty:
            if self.live is None:
                self.live = Live(console=self.console, refresh_per_second=4, transient=True)
                self.live.start()
            self.live.update(table if table is not None else line)
            return
        now = time.monotonic()
        if now - self.last_plain >= PLAIN_EVERY:
            self.last_plain = now
            print(f"  {line}", flush=True)

    def end_view(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None
        self.last_plain = 0.0

    def finish(self) -> None:
        self.end_view()


class FuzzView:
    """The supervisor's display during the fuzz phase: the shards as a table."""

    def __init__(self, display: Display, target: str, seconds: float) -> None:
        self.d, self.target, self.seconds = display, target, seconds
        self.start = time.monotonic()

    def update(self, statuses: list[dict[str, Any]], corpus: int) -> None:
        left = max(0.0, self.seconds - (time.monotonic() - self.start))
        rate = sum(float(s.get("exec_per_s", 0)) for s in statuses if not s.get("done"))
        feats = max((int(s.get("features", 0)) for s in statuses), default=0)
        found = sum(int(s.get("findings", 0)) for s in statuses)
        line = (f"fuzz {self.target}: {rate:,.0f} exec/s, {feats} features, corpus {corpus}, "
                f"{found} finding(s), {left:.0f} s left")  # fmt: skip
        table = None
        if self.d.tty:
            table = Table(title=f"campaign {self.d.name}: {line}", title_justify="left")
            for col in ("shard", "exec/s", "execs", "features", "findings", "state"):
                table.add_column(col, justify="right" if col != "shard" else "left")
            for k, s in enumerate(statuses):
                state = "done" if s.get("done") else "running"
                shard = f"{self.target}#{s.get('shard', k)}"
                table.add_row(shard, f"{float(s.get('exec_per_s', 0)):,.0f}",
                              f"{int(s.get('execs', 0)):,}", str(s.get("features", 0)),
                              str(s.get("findings", 0)), state)  # fmt: skip
        self.d._figures(line, table)

    def say(self, text: str) -> None:
        """The supervisor's finding lines: the campaign says each finding itself (new
        or known to the store), so these are left out."""

    def close(self) -> None:
        self.d.end_view()


__all__ = ["Display", "FuzzView"]
