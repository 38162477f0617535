"""Channel-program translation (upstream ``vfio_ccw_cp.c``): fetch the guest chain in
segments, convert format-0 CCWs to format 1, rewrite every CCW to use an IDAL built from
pinned host pages, translate TIC targets into the host copy, free and unpin, and
translate the CCW address of a status back to the guest's (spec A.6 "vfio-ccw
translation limits", D.1 ``cp_init``/``cp_prefetch``).

Layout of a translated program in its cp slot: the host CCWs of every segment in fetch
order, an empty doubleword after each (so the address just past one segment is never
the first of the next: ``cp_update_scsw`` stays unambiguous), then the host IDALs
(format-2 IDAWs), then the segment table ``(guest, host, count)`` at the end of the slot.

Where the reference refuses what upstream passes on, it is because the architecture
makes it a channel-program check and the host copy would hide that from the guest:
a CPA of 0 or not doubleword aligned, a format-0 CCW with count 0, and an IDAL address
not aligned to its IDAW size (README "reference", deviation 6).
"""

from __future__ import annotations

import dataclasses
import struct

from ccwfuzz.arch import ccw as C
from ccwfuzz.arch import orb as O
from ccwfuzz.arch import schib as P
from ccwfuzz.driver import contract as K
from ccwfuzz.driver.kernel import CP_SLOT
from ccwfuzz.driver.reference.base import Base
from ccwfuzz.sync import Context

MAX_CCWS = 255  # CCWCHAIN_LEN_MAX: a longer segment is -EINVAL (2092366790f3, 2026)
MAX_SEGMENTS = 16  # CCWCHAIN_COUNT_MAX: more TIC segments is -ENOMEM (620475623e91, 2026)
FETCH_WINDOW = 256 * 8  # ccwchain_handle_ccw copies 2 KiB of guest CCWs at once
_SEG = struct.Struct(">III")
_TABLE = CP_SLOT - MAX_SEGMENTS * _SEG.size - 4  # segment count, then the entries
_IDAW = struct.Struct(">Q")
_IDAW1 = struct.Struct(">I")
_CCW1 = struct.Struct(">BBHI")  # spec A.6 format 1: command, flags, count, address
_CCW0 = struct.Struct(">BBHBBH")  # format 0: command, address (8+16 bits), flags, -, count


@dataclasses.dataclass
class Segment:
    """One fetched chain segment (upstream ``struct ccwchain``)."""

    guest: int
    ccws: list[C.Ccw1]
    host: int = 0

    def holds(self, addr: int) -> bool:
        """``tic_target_chain_exists``: ``addr`` is one of this segment's CCWs."""
        return self.guest <= addr <= self.guest + 8 * (len(self.ccws) - 1)


def is_tic(c: C.Ccw1) -> bool:
    """``ccw_is_tic``: the format-1 TIC command code, exactly."""
    return c.cmd == C.CMD_TIC


def does_data_transfer(c: C.Ccw1, command: int) -> bool:
    """``ccw_does_data_transfer``: count 0, NOP and skip on an input command move no
    data, so nothing is pinned for them ("Don't pin vfio pages for empty transfers").

    ``command`` is the command the CCW performs: its own, or the one it continues by
    data chaining (the channel ignores a continuation's command code). Upstream judges
    a continuation by its own code (README "reference", deviation 6)."""
    if c.count == 0:
        return False
    if command == C.CMD_NOP:
        return False
    kind = C.kind(command)
    return not (c.flags & C.SKP and kind in (C.Kind.READ, C.Kind.READ_BACKWARD, C.Kind.SENSE))


def executed_commands(segments: list[Segment]) -> dict[int, set[int]]:
    """The commands each CCW performs when the channel runs the program: a channel
    program is one path (CCWs in order, TICs jump, data chaining carries the command
    across a TIC), followed here as the channel follows it, 255 TICs at most (spec
    A.6). A CCW reached twice may perform two commands."""
    at = {seg.guest + 8 * k: c for seg in segments for k, c in enumerate(seg.ccws)}
    out: dict[int, set[int]] = {}
    addr, command, chained, tics = segments[0].guest, 0, False, 0
    for _ in range(len(at) + 256):
        c = at.get(addr)
        if c is None:
            break
        if is_tic(c):
            tics += 1
            if tics > 255:
                break
            addr = c.cda
            continue
        command = command if chained else c.cmd
        out.setdefault(addr, set()).add(command)
        chained = bool(c.flags & C.CD)
        if not c.flags & (C.CC | C.CD):
            break
        addr += 8
    return out


def idaw_block(guest_ctrl: int) -> int:
    """Bytes an IDAW addresses (spec A.1 H/T): 2K for format-1 IDAWs or with T."""
    return 2048 if not guest_ctrl & O.H or guest_ctrl & O.T else 4096


class ChannelPrograms(Base):
    # ---- cp_init: fetch ----------------------------------------------------------------
    def cp_init(self, ctx: Context, sch: int, guest_orb: bytes) -> int:
        """``cp_init`` + ``cp_prefetch``: -EBUSY over a live cp (c6c82e0c, E11); fetch
        the segments, translate them into a fresh arena slot, pinning guest pages. On
        any error everything pinned so far is released (8b515be5, E9)."""
        if self.k.cp_live(sch):
            return -K.EBUSY
        _, ctrl, cpa = struct.unpack(">III", guest_orb)
        ret, segments = self.fetch_chains(cpa, bool(ctrl & O.F))
        if ret:
            return ret
        ctx.point()
        ret, blob = self.cp_prefetch(ctx, sch, ctrl, segments)
        if ret:
            self.prefetch_failed(ctx, sch)
            return ret
        self.k.cp_alloc(ctx, sch, cpa, blob)
        return 0

    def prefetch_failed(self, ctx: Context, sch: int) -> None:
        """The error path of ``cp_init``: unpin what the failed translation pinned."""
        self.k.unpin(ctx, sch)

    def fetch_chains(self, cpa: int, fmt1: bool) -> tuple[int, list[Segment]]:
        """``ccwchain_handle_ccw`` and ``ccwchain_loop_tic``: the segment at ``cpa``,
        then one for every TIC target outside the segments fetched so far."""
        if cpa == 0 or cpa & 7:
            return -K.EINVAL, []
        segments: list[Segment] = []
        todo = [cpa]
        while todo:
            start = todo.pop(0)
            if any(s.holds(start) for s in segments):
                continue
            if len(segments) == MAX_SEGMENTS:
                return -K.ENOMEM, []
            ret, seg = self.fetch_segment(start, fmt1)
            if ret:
                return ret, []
            segments.append(seg)
            todo += [c.cda for c in seg.ccws if is_tic(c)]
        return 0, segments

    def fetch_segment(self, start: int, fmt1: bool) -> tuple[int, Segment]:
        """Copy the guest CCWs at ``start``, convert them, and count the segment
        (``ccwchain_calc_length``): CCWs continue while chained, or while a TIC loops
        back into the segment. Upstream copies a whole 2-KiB window and so refuses a
        short chain that ends near the top of guest memory; the reference copies what
        is there and is -EFAULT only for a chain that runs past it (deviation 6)."""
        size = max(0, min(FETCH_WINDOW, self.k.arena - start)) & ~7
        raw = self.css.memory.read(start, size) if size else b""
        ccws: list[C.Ccw1] = []  # converted as counted: the window is 256 CCWs
        while True:
            if 8 * len(ccws) == size:
                return -K.EFAULT, Segment(start, [])
            n = len(ccws)
            c = self.convert(raw[8 * n : 8 * n + 8], fmt1)
            ccws.append(c)
            if n + 1 > MAX_CCWS:
                return -K.EINVAL, Segment(start, [])
            back = is_tic(c) and start <= c.cda <= start + 8 * n
            if not c.flags & (C.CC | C.CD) and not back:
                break
        n = len(ccws)
        if not fmt1 and any(c.count == 0 and not is_tic(c) for c in ccws[:n]):
            return -K.EINVAL, Segment(start, [])  # a channel-program check (deviation 6)
        return 0, Segment(start, ccws[:n])

    @staticmethod
    def convert(raw: bytes, fmt1: bool) -> C.Ccw1:
        """``convert_ccw0_to_ccw1``: a format-0 TIC keeps only its address (spec A.6:
        its high nibble, flags and count are ignored)."""
        if fmt1:
            return C.Ccw1(*_CCW1.unpack(raw))
        cmd, cda_hi, cda_lo, flags, _, count = _CCW0.unpack(raw)
        cda = cda_hi << 16 | cda_lo
        if cmd & 0x0F == C.CMD_TIC:
            return C.Ccw1(C.CMD_TIC, 0, 0, cda)
        return C.Ccw1(cmd, flags, count, cda)

    # ---- cp_prefetch: translate ----------------------------------------------------------
    def cp_prefetch(
        self, ctx: Context, sch: int, ctrl: int, segments: list[Segment]
    ) -> tuple[int, bytes]:
        """Lay the segments out in the slot and translate every CCW (``ccwchain_fetch_one``):
        TICs to the host copy of their target, everything else to an IDAL."""
        slot = self.k.next_cp_slot(sch)
        at = slot
        for seg in segments:
            seg.host = at
            at += 8 * (len(seg.ccws) + 1)
        idal_at = at
        host_ccws: list[bytes] = []
        idals: list[bytes] = []
        commands = executed_commands(segments)
        for seg in segments:
            for k, c in enumerate(seg.ccws):
                if is_tic(c):
                    target = next(s for s in segments if s.holds(c.cda))
                    c = C.Ccw1(c.cmd, c.flags, c.count, target.host + c.cda - target.guest)
                else:
                    performs = commands.get(seg.guest + 8 * k, {c.cmd})
                    ret, idal = self.fetch_ccw(ctx, sch, ctrl, c, performs)
                    if ret:
                        return ret, b""
                    c = C.Ccw1(c.cmd, c.flags | C.IDA, c.count, idal_at)
                    idal_at += len(idal)
                    idals.append(idal)
                host_ccws.append(c.to_bytes())
            host_ccws.append(bytes(8))
        if idal_at > slot + _TABLE:
            return -K.ENOMEM, b""
        blob = bytearray(CP_SLOT)
        body = b"".join(host_ccws) + b"".join(idals)
        blob[: len(body)] = body
        struct.pack_into(">I", blob, _TABLE, len(segments))
        for k, seg in enumerate(segments):
            _SEG.pack_into(blob, _TABLE + 4 + k * _SEG.size, seg.guest, seg.host, len(seg.ccws))
        return 0, bytes(blob)

    def fetch_ccw(
        self, ctx: Context, sch: int, ctrl: int, c: C.Ccw1, performs: set[int]
    ) -> tuple[int, bytes]:
        """``ccwchain_fetch_ccw``: the guest IDAL (read, or built for a direct CCW with
        ``get_guest_idal``), its pages pinned if the CCW moves data, rewritten to host
        addresses (``page_array_idal_create_words``). Returns the host IDAL bytes."""
        moves = self.moves_data(c, performs)
        ret, guest_idaws = self.guest_idal(ctrl, c, whole=moves)
        if ret:
            return ret, b""
        if not moves:
            return 0, b"".join(_IDAW.pack(a) for a in guest_idaws)
        ret, host = self.pin_idal(ctx, sch, guest_idaws, idaw_block(ctrl))
        return ret, b"".join(_IDAW.pack(a) for a in host)

    def moves_data(self, c: C.Ccw1, performs: set[int]) -> bool:
        """Whether ``c`` moves data in any of the commands it performs."""
        return any(does_data_transfer(c, command) for command in performs)

    def pin_idal(
        self, ctx: Context, sch: int, idaws: list[int], block: int
    ) -> tuple[int, list[int]]:
        """``page_array_pin`` + ``page_array_idal_create_words``: pin the page of each
        guest IDAW, one at a time (b5a73e8e: no grouping of 2K IDAWs), and give the
        host address of each."""
        out = []
        for a in idaws:
            host = self.k.pin(ctx, sch, a)
            if host < 0:
                return host, []
            out.append(host)
        return 0, out

    def idaw_count(self, first: int, count: int, block: int) -> int:
        """``ccw_count_idaws``: IDAWs for ``count`` bytes from ``first`` in ``block``
        steps (6a6dc14a: by the IDAWs' own block size)."""
        return (first % block + count + block - 1) // block

    def guest_idal(self, ctrl: int, c: C.Ccw1, whole: bool = True) -> tuple[int, list[int]]:
        """The guest data addresses of ``c``, one per IDAW (``ccw_count_idaws`` and
        ``get_guest_idal``): the guest's own IDAL for an IDA CCW, else one built at
        block steps from the data address. ``whole=False`` for a CCW that moves no
        data: the channel fetches none of its IDAWs, so an IDAL that runs past guest
        memory is read as far as it is there (README "reference", deviation 6d)."""
        block = idaw_block(ctrl)
        count = max(c.count, 1)
        mem = self.css.memory
        if not c.flags & C.IDA:
            first = c.cda
        else:
            fmt2 = bool(ctrl & O.H)
            size = 8 if fmt2 else 4
            if c.cda & (size - 1):
                return -K.EINVAL, []  # a channel-program check (deviation 6)
            if not 0 <= c.cda <= self.k.arena - size:
                return (-K.EFAULT, []) if whole else (0, [0])
            first = (_IDAW if fmt2 else _IDAW1).unpack(mem.read(c.cda, size))[0]
        n = self.idaw_count(first, count, block)
        if not c.flags & C.IDA:
            return 0, [first] + [(first // block + k) * block for k in range(1, n)]
        if c.cda + n * size > self.k.arena:
            if whole:
                return -K.EFAULT, []
            n = (self.k.arena - c.cda) // size
        raw = mem.read(c.cda, n * size)
        unpack = _IDAW if fmt2 else _IDAW1
        return 0, [unpack.unpack_from(raw, k * size)[0] for k in range(n)]

    # ---- the host ORB, free, back-translation ------------------------------------------
    def cp_get_orb(self, sch: int, guest_ctrl: int) -> int:
        """``cp_get_orb``: the host ORB's word 1. Format-1 CCWs, format-2 IDAWs, 2K ones
        when the guest used 2K (``i2k``); LPM from the subchannel when the guest gave 0;
        key, prefetch and the rest as the guest set them; a 12-byte ORB."""
        ctrl = guest_ctrl
        if not ctrl & O.LPM:
            ctrl |= (self.css.pmcw_word(sch, 2) & P.LPM) >> 16
        if idaw_block(guest_ctrl) == 2048:
            ctrl |= O.T
        return (ctrl & ~(O.RESERVED | O.D | O.X)) | O.F | O.H

    def cp_free(self, ctx: Context, sch: int) -> None:
        """``cp_free``: idempotent on an empty cp (E7); unpins, and poisons the slot."""
        self.k.cp_free(ctx, sch)

    def segments(self, sch: int) -> list[tuple[int, int, int]]:
        """The live program's segment table: ``(guest, host, count)`` each."""
        host = self.k.cp_host(sch)
        raw = self.css.memory.read(host + _TABLE, 4 + MAX_SEGMENTS * _SEG.size)
        n = min(struct.unpack_from(">I", raw)[0], MAX_SEGMENTS)
        return [_SEG.unpack_from(raw, 4 + k * _SEG.size) for k in range(n)]

    def cp_update_scsw(self, sch: int, irb: bytearray) -> None:
        """``cp_update_scsw``: translate the SCSW CPA from the host program back to the
        guest's, the address just past a segment included (spec D.1 ``io_todo`` step 2)."""
        if not self.k.cp_live(sch):
            return
        cpa = struct.unpack_from(">I", irb, 4)[0]
        for guest, host, count in self.segments(sch):
            if host <= cpa <= host + 8 * count:
                struct.pack_into(">I", irb, 4, guest + (cpa - host))
                return
