"""An intrusive doubly linked FIFO of subchannels, kept in segment words.

Used for the pending I/O-interruption queue (oldest first, removable by TSCH) and the
channel's work queue (round robin): push, remove and pop are O(1) whatever the number of
subchannels, like the kernel's ``list_head``.
"""

from __future__ import annotations

from ccwfuzz.device.layout import NIL, sch_base


class SchList:
    """FIFO over the words ``w``: header slots (head, tail, count), record slots
    (prev, next, queued)."""

    __slots__ = ("_count", "_head", "_next", "_prev", "_queued", "_tail", "_w")

    def __init__(
        self, w: memoryview, header: tuple[int, int, int], record: tuple[int, int, int]
    ) -> None:
        self._w = w
        self._head, self._tail, self._count = header
        self._prev, self._next, self._queued = record

    def reset(self) -> None:
        self._w[self._head] = NIL
        self._w[self._tail] = NIL
        self._w[self._count] = 0

    def __len__(self) -> int:
        return self._w[self._count]

    def __contains__(self, index: int) -> bool:
        return bool(self._w[sch_base(index) + self._queued])

    def push(self, index: int) -> bool:
        """Append at the tail; False (and no move) if already queued."""
        w, b = self._w, sch_base(index)
        if w[b + self._queued]:
            return False
        tail = w[self._tail]
        w[b + self._queued] = 1
        w[b + self._prev] = tail
        w[b + self._next] = NIL
        if tail == NIL:
            w[self._head] = index
        else:
            w[sch_base(tail) + self._next] = index
        w[self._tail] = index
        w[self._count] += 1
        return True

    def remove(self, index: int) -> bool:
        """Unlink ``index``; False if it was not queued."""
        w, b = self._w, sch_base(index)
        if not w[b + self._queued]:
            return False
        prev, nxt = w[b + self._prev], w[b + self._next]
        if prev == NIL:
            w[self._head] = nxt
        else:
            w[sch_base(prev) + self._next] = nxt
        if nxt == NIL:
            w[self._tail] = prev
        else:
            w[sch_base(nxt) + self._prev] = prev
        w[b + self._queued] = 0
        w[self._count] -= 1
        return True

    def pop(self) -> int | None:
        head = self._w[self._head]
        if head == NIL:
            return None
        self.remove(head)
        return head

    def items(self) -> list[int]:
        out, cur = [], self._w[self._head]
        while cur != NIL:
            out.append(cur)
            cur = self._w[sch_base(cur) + self._next]
        return out
