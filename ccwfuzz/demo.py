"""``ccwfuzz demo``: one guest's view of the simulated channel subsystem.

Enables a subchannel, starts a channel program with an initial-status request, a PCI,
data transfer and a suspension, resumes it, then halts and clears a second program, and
prints every instruction, channel step and interruption as it happens.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from ccwfuzz.arch import Ccw1, Irb, Orb, Schib, ccw, sid
from ccwfuzz.device import ChannelSubsystem, CssConfig, segment_size

PROGRAM, SECOND, DATA = 0x1000, 0x2000, 0x8000


def run(subchannels: int = 4, out: Callable[[str], None] = print) -> int:
    """Run the demo; returns the number of interruptions handled (for tests)."""
    config = CssConfig()
    with ChannelSubsystem.create(subchannels, config=config) as css:
        size = segment_size(subchannels, config)
        out(f"channel subsystem: {subchannels} subchannels, segment {css.name} "
            f"({size / 2**20:.1f} MiB)")  # fmt: skip
        s0 = sid.make(0)
        handled = 0

        def show(what: str, result: object = "") -> None:
            out(f"  {what:<44} {result!s:<6} {css.scsw(0).describe()}")

        def drain() -> None:
            nonlocal handled
            while (hit := css.tpi()) is not None:
                cc, raw = css.tsch(hit[0])
                irb = Irb.from_bytes(raw)
                handled += 1
                out(f"  -> interruption sch {hit[0] & 0xFFFF:#06x} intparm {hit[1]:#x}: "
                    f"tsch cc {cc}, {irb.scsw.describe()}")  # fmt: skip

        out("enable subchannel 0 (MSCH with PMCW E=1, ISC 3)")
        schib = Schib.from_bytes(css.stsch(s0)[1])
        pmcw = dataclasses.replace(schib.pmcw, e=1, isc=3)
        show("msch", f"cc {css.msch(s0, dataclasses.replace(schib, pmcw=pmcw).to_bytes())}")

        out("\nstart: SENSE ID, WRITE (PCI), seek, READ, suspend, NOP; ORB I=1 S=1")
        css.memory.write(DATA, b"ccwfuzz says hi!")
        css.memory.write(DATA + 0x40, bytes(4))
        program = [
            Ccw1(ccw.CMD_SENSE_ID, ccw.CC | ccw.SLI, 32, DATA + 0x80),
            Ccw1(ccw.CMD_WRITE, ccw.CC | ccw.PCI, 16, DATA),
            Ccw1(ccw.CMD_CONTROL, ccw.CC, 4, DATA + 0x40),
            Ccw1(ccw.CMD_READ, ccw.CC, 16, DATA + 0x100),
            Ccw1(ccw.CMD_NOP, ccw.CC | ccw.S),
            Ccw1(ccw.CMD_NOP, ccw.SLI, 1),
        ]
        css.memory.write(PROGRAM, ccw.chain(program))
        show("ssch", f"cc {css.ssch(s0, Orb(intparm=0xD00D, cpa=PROGRAM, i=1, s=1).to_bytes())}")
        while (stepped := css.channel.step()) is not None:
            show(f"channel step (subchannel {stepped})")
            drain()
        out(f"  data read back: {css.memory.read(DATA + 0x100, 16)!r}")
        out(f"  sense id: {css.memory.read(DATA + 0x80, 7).hex()}")
        css.memory.write(PROGRAM + 4 * 8, Ccw1(ccw.CMD_NOP, ccw.CC).to_bytes())
        show("guest clears the S flag; rsch", f"cc {css.rsch(s0)}")
        css.channel.run_until_idle()
        show("channel runs to the end")
        drain()

        out("\nhalt a running program, then clear")
        css.memory.write(SECOND, ccw.chain([Ccw1(ccw.CMD_NOP, ccw.CC)] * 7 + [Ccw1(ccw.CMD_NOP)]))
        show("ssch", f"cc {css.ssch(s0, Orb(intparm=0xBEEF, cpa=SECOND).to_bytes())}")
        css.channel.step()
        css.channel.step()
        show("two channel steps")
        show("hsch", f"cc {css.hsch(s0)}")
        css.channel.run_until_idle()
        show("channel performs the halt")
        drain()
        show("csch", f"cc {css.csch(s0)}")
        css.channel.run_until_idle()
        show("channel performs the clear")
        drain()
        show("tsch with nothing pending", f"cc {css.tsch(s0)[0]}")
        out(f"\n{handled} interruptions handled; segment unlinked on exit.")
        return handled
