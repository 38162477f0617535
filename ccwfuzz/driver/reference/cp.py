"""Channel-program handling (upstream ``vfio_ccw_cp.c``): fetch the guest chain,
translate it into a host program in the cp arena, free it, and translate the CCW
address of a status back to the guest's."""

from __future__ import annotations

import struct

from ccwfuzz.arch import ccw as C
from ccwfuzz.arch import orb as O
from ccwfuzz.driver import contract as K
from ccwfuzz.driver.kernel import CP_SLOT
from ccwfuzz.driver.reference.base import Base
from ccwfuzz.sync import Context

MAX_CCWS = 256  # vfio-ccw fetches at most 256 CCWs per chain (spec A.6)


class ChannelPrograms(Base):
    def cp_init(self, ctx: Context, sch: int, guest_orb: bytes) -> int:
        """``cp_init`` + ``cp_prefetch``: -EBUSY over a live cp (c6c82e0c, E11); copy the
        guest chain (format 0 converted to 1) into a fresh arena slot."""
        if self.k.cp_live(sch):
            return -K.EBUSY
        _, ctrl, cpa = struct.unpack(">III", guest_orb)
        ret, chain = self.fetch_chain(cpa, bool(ctrl & O.F))
        if ret:
            return ret
        ctx.point()
        translated = self.translate(chain, cpa, self.k.next_cp_slot(sch))
        if translated is None:
            return -K.EINVAL
        self.k.cp_alloc(ctx, sch, cpa, translated)
        return 0

    def fetch_chain(self, cpa: int, fmt1: bool) -> tuple[int, list[C.Ccw1]]:
        mem = self.css.memory
        chain: list[C.Ccw1] = []
        addr = cpa
        while True:
            if len(chain) >= MAX_CCWS:
                return -K.EINVAL, []
            if addr & 7 or not mem.valid(addr, 8):
                return -K.EFAULT, []
            raw = mem.read(addr, 8)
            ccw1 = C.Ccw1.from_bytes(raw) if fmt1 else C.Ccw0.from_bytes(raw).to_format1()
            chain.append(ccw1)
            if ccw1.cmd & 0x0F == C.CMD_TIC:
                if ccw1.cda != addr + 8:  # a TIC back into the chain ends the fetch
                    return 0, chain
            elif not ccw1.flags & (C.CC | C.CD):
                return 0, chain
            addr += 8

    def translate(self, chain: list[C.Ccw1], guest: int, host: int) -> bytes | None:
        """Host copy of the chain: TIC targets moved into the arena (a TIC out of the
        fetched chain is not supported here: -EINVAL). Data addresses are identity
        mapped ("pinned")."""
        out = []
        end = guest + 8 * len(chain)
        for c in chain:
            if c.cmd & 0x0F == C.CMD_TIC:
                if not guest <= c.cda < end:
                    return None
                c = C.Ccw1(c.cmd, c.flags, c.count, host + (c.cda - guest))
            out.append(c.to_bytes())
        data = b"".join(out)
        return data if len(data) <= CP_SLOT else None

    def cp_free(self, ctx: Context, sch: int) -> None:
        """``cp_free``: idempotent on an empty cp (E7); the slot is poisoned."""
        self.k.cp_free(ctx, sch)

    def cp_update_scsw(self, sch: int, irb: bytearray) -> None:
        """``cp_update_scsw``: translate the SCSW CPA from the host program back to the
        guest's (spec D.1 ``io_todo`` step 2)."""
        k = self.k
        cpa = struct.unpack_from(">I", irb, 4)[0]
        host, n = k.cp_host(sch), k.cp_len(sch)
        if k.cp_live(sch) and host <= cpa <= host + n:
            struct.pack_into(">I", irb, 4, k.cp_guest(sch) + (cpa - host))
