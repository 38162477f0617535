"""``zoo:chain-own-command`` -- a data-chained CCW judged by its own command code.

Bug: whether to pin a CCW's pages is decided by its own command code, but a CCW that
continues a command by data chaining (the previous CCW has CD) performs that command;
the channel ignores the continuation's code (spec A.6). A continuation whose code is
NOP moves data through an IDAL left holding guest addresses, so the channel reaches
memory nobody pinned.
Interleaving: none needed; a READ or WRITE with CD followed by a CCW whose command
code is NOP, with a count.
Fix: none upstream in the snapshot read (``ccw_does_data_transfer`` looks at the CCW
itself, 2026); the reference follows the executed command (README "reference",
deviation 6). Found by this model, not planted from a commit.
Caught by: ``memory.dma-bounds``.
Minimal: 2 ops (open; SSCH of the chain).
"""

from __future__ import annotations

from ccwfuzz.arch import ccw as C
from ccwfuzz.driver.reference import Reference
from ccwfuzz.driver.reference.cp import does_data_transfer


class ChainOwnCommand(Reference):
    name = "chain-own-command"
    expected_rule = "memory.dma-bounds"

    def moves_data(self, c: C.Ccw1, performs: set[int]) -> bool:
        return does_data_transfer(c, c.cmd)
