"""Declarative big-endian bit fields shared by every control block.

A control block is a sequence of 32-bit big-endian words. Each field is named by the
word it lives in and its mask within that word, exactly as the tables of spec A give
them, so the code can be read side by side with the spec. Every bit of every word is
covered by some field (reserved bits included), which makes ``from_bytes`` followed by
``to_bytes`` the identity: a fuzzer's bytes survive a decode/encode round trip.
"""

from __future__ import annotations

import dataclasses
import struct
from typing import Any, ClassVar, Self


def shift_of(mask: int) -> int:
    """Bit position (LSB = 0) of the lowest set bit of ``mask``."""
    return (mask & -mask).bit_length() - 1


@dataclasses.dataclass(frozen=True, slots=True)
class Field:
    """One field of a control block: ``word`` index and ``mask`` within that word."""

    name: str
    word: int
    mask: int
    shift: int = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "shift", shift_of(self.mask))

    @property
    def width(self) -> int:
        return bin(self.mask).count("1")


class ControlBlock:
    """Base for the word-structured control blocks of spec A.

    Subclasses are frozen dataclasses whose integer attributes are listed in ``FIELDS``.
    One-bit fields hold 0 or 1; wider fields hold the unshifted value.
    """

    FIELDS: ClassVar[tuple[Field, ...]]
    WORDS: ClassVar[int]

    @classmethod
    def size(cls) -> int:
        return 4 * cls.WORDS

    @classmethod
    def from_words(cls, words: tuple[int, ...] | list[int]) -> Self:
        values: dict[str, Any] = {}
        for f in cls.FIELDS:
            values[f.name] = (words[f.word] & f.mask) >> f.shift
        return cls(**values)

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> Self:
        """Decode ``size()`` bytes (extra bytes are an error: slice first)."""
        if len(data) != cls.size():
            raise ValueError(f"{cls.__name__} is {cls.size()} bytes, got {len(data)}")
        return cls.from_words(struct.unpack(f">{cls.WORDS}I", data))

    def to_words(self) -> list[int]:
        words = [0] * self.WORDS
        for f in self.FIELDS:
            value = getattr(self, f.name)
            if value < 0 or value > (f.mask >> f.shift):
                raise ValueError(f"{type(self).__name__}.{f.name}={value:#x} does not fit")
            words[f.word] |= value << f.shift
        return words

    def to_bytes(self) -> bytes:
        return struct.pack(f">{self.WORDS}I", *self.to_words())


def check_fields(cls: type[ControlBlock]) -> type[ControlBlock]:
    """Class decorator: the masks of each word must tile the 32 bits exactly once."""
    for w in range(cls.WORDS):
        covered = 0
        for f in cls.FIELDS:
            if f.word == w:
                if covered & f.mask:
                    raise TypeError(f"{cls.__name__}: overlapping field {f.name}")
                covered |= f.mask
        if covered != 0xFFFFFFFF:
            raise TypeError(f"{cls.__name__}: word {w} not fully covered ({covered:#010x})")
    return cls
