"""Channel programs from a choice source: ORB word 1, CCW chains in format 0 and 1,
their IDALs and TICs (spec A.1, A.6), placed in the fixed guest memory map below.

Two modes share one code path. ``"valid"`` (weighted-valid) draws starts the device
accepts most of the time, so a search gets past the channel-program checks into deep
driver states, with a steady small share of every odd field; ``"anything"`` draws every
field from its whole range, hostile values often; ``"mixed"`` picks one of the two with
one draw (3:1), for whatever it is asked to draw.

What must stay true:

* the zero choice is the plain one: a source that answers 0 forever (an exhausted
  :class:`~ccwfuzz.choices.ReplaySource`, a fully shrunk Hypothesis example) gives one
  NOP behind a default ORB, so shrinking choices shrinks programs;
* every draw is bounded, with no rejection loop, so any draw sequence decodes;
* a chain and its IDAL fit one program slot and the op's limits (``MAX_CCWS``,
  ``MAX_IDAL``), and valid-mode data stays in the subchannel's data window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TypeVar

from ccwfuzz.arch import ccw, orb
from ccwfuzz.choices import ChoiceSource
from ccwfuzz.program.ops import MAX_IDAL, Ccw

# ---- guest memory map of generated programs -------------------------------------------
GUEST_TOP = 0x20000  # guest memory is 0 .. GUEST_TOP, 4-KiB pages (the pool's too)
PROGRAM_BASE = 0x1000  # program slots: chain + IDAL, one 4-KiB page each
PROGRAM_SLOT = 0x1000
PROGRAM_SLOTS = 6
DATA_BASE = 0x8000  # valid-mode data windows, one per subchannel (modulo 4)
DATA_WINDOW = 0x6000
DATA_WINDOWS = 4
LONG_CHAIN = (250, 300)  # CCWs in a long chain: around vfio-ccw's 256 (spec A.6)

MODES = ("valid", "anything", "mixed")
Entry = tuple[Ccw, int | None]  # a CCW and, for IDA, its IDAL's offset in the op's idal
_T = TypeVar("_T")
_SINGLE, _BYTE = -1, -2  # table sentinels: LPM another single path, invalid code; any byte
_BOUNDARY_COUNTS = (0x7FF, 0x800, 0x801, 0xFFF, 0x1000, 0x1001, 0x17FF, 0x2000)
_DATA_COMMANDS = {ccw.CMD_READ, ccw.CMD_WRITE, ccw.CMD_READ_BACKWARD, ccw.CMD_SENSE,
                  ccw.CMD_SENSE_ID, ccw.CMD_CONTROL}  # fmt: skip


def program_at(worker: int, k: int) -> int:
    """Guest address of worker ``worker``'s ``k``-th start: two slots per worker,
    alternating, so a start never overwrites the chain of the one just before it."""
    return PROGRAM_BASE + ((2 * worker + k % 2) % PROGRAM_SLOTS) * PROGRAM_SLOT


def data_window(sch: int) -> int:
    """First byte of subchannel ``sch``'s data window (:data:`DATA_WINDOW` bytes)."""
    return DATA_BASE + (sch % DATA_WINDOWS) * DATA_WINDOW


def resolve_mode(src: ChoiceSource, mode: str) -> str:
    """``"valid"`` or ``"anything"``; ``"mixed"`` draws one of them (3:1, zero: valid)."""
    if mode == "mixed":
        return "valid" if src.draw(4) < 3 else "anything"
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r} (valid, anything, mixed)")
    return mode


def pick(src: ChoiceSource, table: Sequence[tuple[int, _T]]) -> _T:
    """A weighted choice from ``(weight, value)`` rows; the zero draw is the first row."""
    r = src.draw(sum([w for w, _ in table]))
    for w, value in table:
        if r < w:
            return value
        r -= w
    raise AssertionError("unreachable")  # pragma: no cover


def chance(src: ChoiceSource, k: int, n: int) -> bool:
    """True ``k`` times in ``n``; the zero draw says False."""
    return src.draw(n) >= n - k


# ---- ORB ------------------------------------------------------------------------------
_LPM_VALID = ((16, 0xFF), (6, 0x80), (1, _SINGLE), (1, 0), (1, _BYTE))
_LPM_ANYTHING = ((1, 0xFF), (1, 0x80), (1, _SINGLE), (1, 0), (1, _BYTE))


def orb_ctrl(src: ChoiceSource, mode: str = "valid") -> int:
    """ORB word 1 (spec A.1), every field drawn on its own.

    Valid mode: F=1 or F=0 (3:2), P=1, H=1 and T=0 mostly, LPM 0xFF or 0x80,
    B = D = reserved = 0, and each other field set now and then (one in 100 for the
    ones that make SSCH an operand exception). Anything mode: a coin toss per bit,
    except B, D and the reserved bits (one in four each, so that most starts still
    reach the channel), any key, any LPM.

    Example:
        >>> from ccwfuzz.choices import ReplaySource
        >>> hex(orb_ctrl(ReplaySource([])))  # F, P, H (format-2 IDAWs), all paths
        '0xc2ff00'
    """
    valid = resolve_mode(src, mode) == "valid"
    # Valid mode: the rare fields come together, in one start of four (their odds are
    # scaled by four so each keeps its own share), which saves their draws in the rest.
    rare = not valid or chance(src, 1, 4)

    def odd(mask: int, one_in: int, k: int = 1, hostile: int = 2, common: bool = False) -> int:
        if not valid:
            return mask if chance(src, 1, hostile) else 0
        if not common and not rare:
            return 0
        return mask if chance(src, k, one_in if common else max(2, one_in // 4)) else 0

    if valid:
        ctrl = (1 + src.draw(15)) << 28 if odd(1, 20) else 0
    else:
        ctrl = src.draw(16) << 28
    ctrl |= odd(orb.S, 10, common=True) | odd(orb.C, 40) | odd(orb.M, 40) | odd(orb.Y, 40)
    ctrl |= (orb.F ^ odd(orb.F, 5, k=2, common=True)) | (orb.P ^ odd(orb.P, 20))
    ctrl |= odd(orb.I, 6, common=True) | odd(orb.A, 20) | odd(orb.U, 20)
    # H=1, T=0 (format-2 IDAWs, 4K) as a Linux guest builds its ORBs; 2K IDAWs are the
    # unusual case, one start in twelve each way.
    ctrl |= odd(orb.B, 100, hostile=4) | (orb.H ^ odd(orb.H, 12, common=True))
    ctrl |= odd(orb.T, 12, common=True) | odd(orb.L, 20) | odd(orb.D, 100, hostile=4)
    lpm = pick(src, _LPM_VALID if valid else _LPM_ANYTHING)
    if lpm == _SINGLE:
        lpm = 0x40 >> src.draw(7)
    elif lpm == _BYTE:
        lpm = src.draw(256)
    ctrl |= lpm << 8
    if odd(1, 100, hostile=4):
        ctrl |= (1 + src.draw(31)) << 1  # bits 26-30
    return ctrl | odd(orb.X, 40)


_CPAS_VALID = ((60, "chain"), (2, "later"), (1, "unaligned"), (1, "bit0"), (1, "beyond"))
_CPAS_ANYTHING = ((4, "chain"), (2, "later"), (2, "unaligned"), (2, "bit0"), (2, "beyond"),
                  (1, "zero"), (1, "any"))  # fmt: skip


def cpa_offset(src: ChoiceSource, mode: str, at: int, nccws: int) -> int:
    """The Ssch ``cpa`` field: ORB CPA = ``at`` + this, modulo 2**32. Mostly 0 (the
    chain's first CCW); sometimes a later CCW, unaligned, bit 0 set (an operand
    exception, spec A.1), beyond guest memory; in anything mode also CPA 0 or any word.

    Example:
        >>> from ccwfuzz.choices import ReplaySource
        >>> cpa_offset(ReplaySource([]), "valid", 0x1000, 3)
        0
    """
    valid = resolve_mode(src, mode) == "valid"
    how = pick(src, _CPAS_VALID if valid else _CPAS_ANYTHING)
    if how == "later":
        return 8 * src.draw(max(1, nccws))
    if how == "unaligned":
        return 1 + src.draw(7)
    if how == "bit0":
        return 0x80000000 + 8 * src.draw(max(1, nccws))
    if how == "beyond":
        return GUEST_TOP - at + 8 * src.draw(1 << 20)
    if how == "zero":
        return -at & 0xFFFFFFFF
    return src.draw(1 << 32) if how == "any" else 0


# ---- CCWs -----------------------------------------------------------------------------
_INPUTS = (ccw.Kind.READ, ccw.Kind.READ_BACKWARD, ccw.Kind.SENSE)
_COMMANDS_VALID = ((12, ccw.CMD_NOP), (16, ccw.CMD_READ), (16, ccw.CMD_WRITE),
                   (4, ccw.CMD_SENSE), (4, ccw.CMD_SENSE_ID), (4, ccw.CMD_CONTROL),
                   (4, ccw.CMD_READ_BACKWARD), (1, _SINGLE), (1, 0x0B))  # fmt: skip
_COMMANDS_ANYTHING = ((2, ccw.CMD_NOP), (2, ccw.CMD_READ), (2, ccw.CMD_WRITE),
                      (1, ccw.CMD_SENSE), (1, ccw.CMD_SENSE_ID), (1, ccw.CMD_CONTROL),
                      (1, ccw.CMD_READ_BACKWARD), (1, _SINGLE), (1, 0x0B),
                      (6, _BYTE))  # fmt: skip
_ADDRESSES_VALID = ((6, "aligned"), (3, "crossing"), (1, "offset"))
_ADDRESSES_ANYTHING = ((3, "aligned"), (2, "crossing"), (1, "offset"), (1, "zero"),
                       (1, "odd"), (1, "end"), (1, "beyond"), (1, "bit0"), (1, "any"))  # fmt: skip
_COUNTS_VALID = ((8, "small"), (3, "boundary"), (2, "medium"), (1, "large"), (1, "zero"))
_COUNTS_ANYTHING = ((2, "small"), (2, "boundary"), (1, "medium"), (1, "large"), (1, "zero"),
                    (3, "any"))  # fmt: skip
_SHAPES_VALID = ((40, "plain"), (3, "skip"), (3, "detour"), (1, "loop"), (1, "tic_tic"))
_SHAPES_ANYTHING = ((2, "plain"), (1, "skip"), (1, "detour"), (1, "loop"), (1, "tic_tic"))
_TRANSFERS = (ccw.Kind.READ, ccw.Kind.WRITE, ccw.Kind.READ_BACKWARD)
_BAD_IDALS = ("later_misaligned", "bit0", "beyond", "width", "list_misaligned", "outside")


class _Chain:
    """Draws one start's CCWs. IDAL references stay offsets into the op's ``idal`` until
    the chain's length, and so the IDAL's guest address, is known."""

    def __init__(self, src: ChoiceSource, valid: bool, at: int, sch: int, fmt1: bool,
                 h: bool, t: bool) -> None:  # fmt: skip
        self.src, self.valid, self.at, self.fmt1 = src, valid, at, fmt1
        self.window = data_window(sch)
        self.width = 8 if h else 4  # spec A.6: format-2 IDAWs with ORB H
        self.block = (0x800 if t else 0x1000) if h else 0x800
        self.idal = bytearray()

    def command(self) -> int:
        cmd = pick(self.src, _COMMANDS_VALID if self.valid else _COMMANDS_ANYTHING)
        if cmd == _SINGLE:
            return self.src.draw(16) << 4  # low nibble 0: invalid
        return self.src.draw(256) if cmd == _BYTE else cmd

    def count(self, cmd: int) -> int:
        src = self.src
        fixed = {ccw.CMD_SENSE: 32, ccw.CMD_SENSE_ID: 7, ccw.CMD_CONTROL: 4, ccw.CMD_NOP: 1}
        if cmd in fixed and not chance(src, 1, 6 if self.valid else 2):
            return fixed[cmd]
        how = pick(src, _COUNTS_VALID if self.valid else _COUNTS_ANYTHING)
        if how == "small":
            return 1 + src.draw(64)
        if how == "boundary":
            return _BOUNDARY_COUNTS[src.draw(len(_BOUNDARY_COUNTS))]
        if how == "medium":
            return 1 + src.draw(0x1000)
        if how == "large":
            return 0x1000 + src.draw(0xF000)
        return src.draw(0x10000) if how == "any" else 0

    def address(self) -> tuple[int, int]:
        """A data address and, when it lies just before a 2K/4K boundary, the bytes to it."""
        src, w = self.src, self.window
        how = pick(src, _ADDRESSES_VALID if self.valid else _ADDRESSES_ANYTHING)
        if how == "crossing":
            boundary = w + 0x800 * (1 + src.draw(DATA_WINDOW // 0x800 - 1))
            gap = 1 + src.draw(16)
            return boundary - gap, gap
        if how == "aligned" or how == "bit0":
            addr = w + 0x100 * src.draw(DATA_WINDOW // 0x100)
            return addr | (0x80000000 if how == "bit0" else 0), 0
        if how == "offset" or how == "odd":
            return w + src.draw(DATA_WINDOW) | (1 if how == "odd" else 0), 0
        if how == "end":  # straddles the end of guest memory with most counts
            return GUEST_TOP - 16 + src.draw(32), 0
        if how == "beyond":
            return GUEST_TOP + src.draw(0x7FFF0000 - GUEST_TOP), 0
        return (src.draw(1 << 32) if how == "any" else 0), 0

    def flags(self, cmd: int) -> int:
        """Flags but CC, which the chain's shape sets (spec A.6 flag bits)."""
        src = self.src
        if not self.valid and chance(src, 1, 2):
            return src.draw(256) & ~ccw.CC
        flags = ccw.SLI if chance(src, 1, 2) or cmd in (ccw.CMD_SENSE_ID, ccw.CMD_NOP) else 0
        flags |= ccw.CD if chance(src, 1, 8) else 0
        flags |= ccw.IDA if cmd in _DATA_COMMANDS and chance(src, 1, 3) else 0
        flags |= ccw.PCI if chance(src, 1, 6) else 0
        flags |= ccw.SKP if chance(src, 1, 24) else 0
        flags |= ccw.S if chance(src, 1, 100 if self.valid else 8) else 0
        return flags | (0 if self.valid or not chance(src, 1, 8) else ccw.MIDA)

    def data(self) -> Entry:
        """One CCW that is not a TIC (in anything mode its code may still say TIC)."""
        src = self.src
        cmd = self.command()
        flags, count = self.flags(cmd), self.count(cmd)
        addr, gap = self.address()
        if gap and ccw.kind(cmd) in _TRANSFERS:  # starts before a boundary: crosses it
            count = max(count, gap + 1 + src.draw(64))
        if self.valid:
            count = count or (0 if self.fmt1 else 1)  # spec A.6: format-0 count 0
            if count != 32 and cmd == ccw.CMD_SENSE:
                flags |= ccw.SLI  # spec A.6: SENSE count other than 32 needs SLI
        if flags & ccw.IDA:
            entry = self.indirect(Ccw(cmd, flags, count, addr))
            if entry is not None:
                return entry
            flags &= ~ccw.IDA  # no room left in the op's idal
        if self.valid:
            count = min(count, self.window + DATA_WINDOW - addr)
            moves_nothing = cmd == ccw.CMD_NOP or (
                flags & ccw.SKP and ccw.kind(cmd) in _INPUTS and not flags & ccw.CD
            )
            if moves_nothing and chance(src, 1, 6):
                # Guests leave junk in the address of a CCW that moves no data: the
                # channel never looks at it (spec A.6; vfio-ccw must not pin it).
                addr = GUEST_TOP + src.draw(0x7FFF0000 - GUEST_TOP)
        return Ccw(cmd, flags, count, addr & self.mask), None

    @property
    def mask(self) -> int:
        return 0xFFFFFFFF if self.fmt1 else 0xFFFFFF  # format-0 addresses are 24 bits

    def indirect(self, c: Ccw) -> Entry | None:
        """IDAWs for ``c`` appended to the idal (spec A.6: the first may start mid-block,
        the others on block boundaries); in anything mode often made bad on purpose."""
        src, block, addr, count = self.src, self.block, c.addr, c.count
        room = (MAX_IDAL - len(self.idal)) // 8 - 2  # 8: a wrong width may double them
        first = block - addr % block
        need = 1 + max(0, -(-(count - first) // block))
        if room < 1:
            return None
        if need > room:
            need, count = room, first + (room - 1) * block
        idaws, nxt, scatter = [addr], addr - addr % block, chance(src, 1, 3)
        for _ in range(need - 1):
            nxt = self.window + block * src.draw(DATA_WINDOW // block) if scatter else nxt + block
            if self.valid and nxt >= self.window + DATA_WINDOW:
                nxt = self.window
            idaws.append(nxt)
        self.idal += bytes(-len(self.idal) % 8)
        offset, width = len(self.idal), self.width
        bad = None if self.valid or chance(src, 1, 2) else _BAD_IDALS[src.draw(len(_BAD_IDALS))]
        k = src.draw(len(idaws)) if bad in ("bit0", "beyond") else 0
        if bad == "later_misaligned":
            if len(idaws) == 1:
                count = min(0xFFFF, first + 1 + src.draw(block))
                idaws.append(nxt + block)
            k = 1 + src.draw(len(idaws) - 1)
            idaws[k] += 1 + src.draw(block - 1)
        elif bad == "bit0":
            idaws[k] |= 1 << (8 * width - 1)
        elif bad == "beyond":
            idaws[k] = GUEST_TOP + src.draw(1 << 24)
        elif bad == "width":
            width = 12 - width
        elif bad == "list_misaligned":
            offset += 1 + src.draw(self.width - 1)
        self.idal += b"".join((v & (1 << 8 * width) - 1).to_bytes(width, "big") for v in idaws)
        if bad == "outside":
            return replace(c, count=count, addr=_wild(src, self.at) & self.mask), None
        return replace(c, count=count, addr=0), offset

    def tic(self, target: int) -> Entry:
        """A TIC to the chain's ``target``-th CCW; in anything mode often a bad one."""
        src, addr = self.src, self.at + 8 * target
        if self.valid or chance(src, 1, 2):
            return Ccw(ccw.CMD_TIC, 0, 0, addr & self.mask), None
        how = src.draw(4)  # spec A.6: format-1 TIC with high nibble, flags, count; bad CPA
        cmd = ccw.CMD_TIC | (1 + src.draw(15)) << 4 if how == 0 else ccw.CMD_TIC
        flags = 1 + src.draw(255) if how == 1 else 0
        count = 1 + src.draw(0xFFFF) if how == 2 else 0
        if how == 3:
            addr = _wild(src, addr)
        return Ccw(cmd, flags, count, addr & self.mask), None


def _wild(src: ChoiceSource, near: int) -> int:
    """A bad CCW or IDAL address: ``near`` + 4 (misaligned), 0, beyond guest memory, or
    ``near`` with bit 0 set (spec A.6)."""
    how = src.draw(4)
    if how == 0:
        return near + 4
    if how == 2:
        return GUEST_TOP + 8 * src.draw(1 << 16)
    return near | 0x80000000 if how == 3 else 0


def _chained(chain: _Chain, entries: list[Entry], ends: set[int]) -> list[Entry]:
    """Set CC on every CCW but TICs and segment ends (which also lose CD in valid mode:
    a data chain must not run into the next segment or the IDAL)."""
    out = []
    for i, (c, ref) in enumerate(entries):
        if c.cmd & 0x0F != ccw.CMD_TIC:
            flags = c.flags & ~ccw.CD if i in ends and chain.valid else c.flags
            flags |= 0 if i in ends else ccw.CC
            if not chain.valid and chance(chain.src, 1, 8):
                flags ^= ccw.CC
            c = replace(c, flags=flags)
        out.append((c, ref))
    return out


def _long_chain(chain: _Chain) -> list[Ccw]:
    """NOPs past vfio-ccw's 256 CCWs per segment and the channel's 255 CCWs without data
    (spec A.6)."""
    lo, hi = LONG_CHAIN
    n = lo + chain.src.draw(hi - lo + 1)
    nop = Ccw(ccw.CMD_NOP, ccw.CC | ccw.SLI, 1, chain.window)
    return [nop] * (n - 1) + [replace(nop, flags=ccw.SLI)]


def ccw_chain(src: ChoiceSource, mode: str, at: int, sch: int, fmt1: bool, h: bool = False,
              t: bool = False) -> tuple[tuple[Ccw, ...], bytes]:  # fmt: skip
    """The CCWs and IDAL bytes of one start whose chain is written at guest ``at`` (the
    IDAL right after it), for ORB F = ``fmt1``, H = ``h``, T = ``t`` (spec A.6).

    Shapes: a plain chain (CC between CCWs); a TIC skipping ahead; a TIC to a second
    segment behind the first, which may TIC back (a detour); a TIC backwards (a loop,
    ended by the channel's TIC limit); a TIC to a TIC; rarely a chain of 250-300 NOPs.

    Example:
        >>> from ccwfuzz.choices import ReplaySource
        >>> ccw_chain(ReplaySource([]), "valid", 0x1000, 0, fmt1=True)
        ((Ccw(cmd=3, flags=32, count=1, addr=32768),), b'')
    """
    chain = _Chain(src, resolve_mode(src, mode) == "valid", at, sch, fmt1, h, t)
    if chance(src, 1, 200 if chain.valid else 50):
        return tuple(_long_chain(chain)), b""
    n = 1 + src.draw(4) + (src.draw(8) if chance(src, 1, 4) else 0)
    main = [chain.data() for _ in range(n)]
    shape = pick(src, _SHAPES_VALID if chain.valid else _SHAPES_ANYTHING)
    entries, ends = main, {n - 1}
    if shape == "skip":
        main += [chain.data()] if n < 2 else []
        p = src.draw(len(main) - 1)
        entries = [*main[:p], chain.tic(p + 2 + src.draw(len(main) - p - 1)), *main[p:]]
        ends = {len(main)}
    elif shape == "loop":
        p = 1 + src.draw(n)
        entries = [*main[:p], chain.tic(src.draw(p)), *main[p:]]
        ends = {n} if p < n else set()
    elif shape == "tic_tic":
        p = src.draw(n + 1)
        entries = [*main[:p], chain.tic(p + 1), chain.tic(p + 2), *main[p:]]
        ends = {n + 1} if p < n else set()
    elif shape == "detour":
        p = src.draw(n + 1)
        tail = [chain.data() for _ in range(1 + src.draw(3))]
        entries = [*main[:p], chain.tic(n + 1), *main[p:], *tail]
        ends = {n} if p < n else set()
        if p < n and chance(src, 2, 3):
            entries.append(chain.tic(p + 1))  # back behind the detour's TIC
        else:
            ends.add(len(entries) - 1)
    entries = _chained(chain, entries, ends)
    base = at + 8 * len(entries)
    ccws = tuple(c if ref is None else replace(c, addr=(base + ref) & chain.mask)
                 for c, ref in entries)  # fmt: skip
    return ccws, bytes(chain.idal)
