"""spec B.1 START SUBCHANNEL: check order, condition codes, SCSW changes."""

from __future__ import annotations

import pytest
from conftest import DATA, Rig

from ccwfuzz.arch import (
    AccessException,
    Ccw1,
    OperandException,
    Orb,
    SpecificationException,
    ccw,
    orb,
)
from ccwfuzz.arch import scsw as S
from ccwfuzz.device import ChannelSubsystem, CssConfig

NOP = [Ccw1(ccw.CMD_NOP)]


def test_B1_cc0_sets_start_function_and_start_pending(rig: Rig) -> None:
    """spec B.1 #8: cc 0, FC start + AC start pending, PMCW intparm := ORB intparm."""
    assert rig.start(NOP, intparm=0xCAFE) == 0
    s = rig.scsw()
    assert s.fc == S.FC_START >> 12 and s.ac == S.AC_START_PENDING >> 5 and s.sc == 0
    assert rig.css.pmcw(0).intparm == 0xCAFE


def test_B1_scsw_copies_orb_flags(rig: Rig) -> None:
    """spec B.1 HERC: SCSW key/S/F/P/I/A/U reflect the ORB."""
    rig.start(NOP, key=5, s=1, p=1, i=1, a=1, u=1)
    s = rig.scsw()
    assert (s.key, s.s, s.f, s.p, s.i, s.a, s.u) == (5, 1, 1, 1, 1, 1, 1)


def test_B1_cc1_when_status_pending(rig: Rig) -> None:
    """spec B.1 #6: status pending -> cc 1, nothing changed."""
    rig.start(NOP)
    rig.run()
    before = rig.css.schib_bytes(0)
    assert rig.start(NOP) == 1
    assert rig.css.schib_bytes(0) == before


def test_B1_cc2_when_function_in_progress(rig: Rig) -> None:
    """spec B.1 #7: any FC bit -> cc 2."""
    rig.start(NOP)
    assert rig.start(NOP) == 2
    rig.css.csch(rig.sid())
    assert rig.start(NOP) == 2


def test_B1_cc3_not_provided_or_not_operational(rig: Rig) -> None:
    """spec B.1 #4, #5: unknown subchannel, V=0 or E=0 -> cc 3."""
    raw = Orb(cpa=0x1000).to_bytes()
    assert rig.css.ssch(rig.sid(99), raw) == 3
    assert rig.css.ssch(0x00030000 | 0x10000, raw) == 3  # subchannel set 1 not present
    rig.css.events.not_operational(1)
    assert rig.css.ssch(rig.sid(1), raw) == 3
    rig.css.events.disabled(2)
    assert rig.css.ssch(rig.sid(2), raw) == 3


def test_B1_cc3_when_disabled_by_default() -> None:
    """spec B / D.1: subchannels start disabled; SSCH cc 3 until MSCH enables."""
    with ChannelSubsystem.create(subchannels=1) as css:
        assert css.ssch(0x10000, Orb(cpa=0x1000).to_bytes()) == 3


@pytest.mark.parametrize(
    "ctrl",
    [orb.B, orb.D, 0x00000002, 0x00000020, orb.RESERVED],
    ids=["B-transport", "D-midaw", "bit30", "bit26", "all-reserved"],
)
def test_B1_operand_exception_for_invalid_orb(rig: Rig, ctrl: int) -> None:
    """spec A.1 / B.1 #3: bit 13, bit 25, bits 26-30 -> operand exception."""
    raw = bytearray(Orb(cpa=0x1000).to_bytes())
    raw[4:8] = (int.from_bytes(raw[4:8], "big") | ctrl).to_bytes(4, "big")
    with pytest.raises(OperandException):
        rig.css.ssch(rig.sid(), bytes(raw))
    assert rig.scsw().fc == 0


def test_B1_operand_exception_for_cpa_bit0(rig: Rig) -> None:
    """spec A.1 word 2: CPA bit 0 must be zero."""
    with pytest.raises(OperandException):
        rig.css.ssch(rig.sid(), Orb(cpa=0x80001000).to_bytes())


def test_B1_operand_exception_for_invalid_sid(rig: Rig) -> None:
    """spec B SID validity: missing one-bit -> operand exception (before cc 3)."""
    with pytest.raises(OperandException):
        rig.css.ssch(0x5, Orb(cpa=0x1000).to_bytes())


def test_B1_operand_checked_before_cc3(rig: Rig) -> None:
    """spec B.1 order: #3 (invalid ORB) precedes #4 (not found)."""
    with pytest.raises(OperandException):
        rig.css.ssch(rig.sid(99), Orb(cpa=0x1000, b=1).to_bytes())


def test_B1_accepted_orb_flags_do_not_raise(rig: Rig) -> None:
    """spec A.1: key, S, C, M, Y, P, I, A, U, H, T, L, X are accepted."""
    raw = Orb(cpa=0x1000, key=15, s=1, c=1, m=1, y=1, p=1, i=1, a=1, u=1, h=1, t=1, l=1, x=1)
    rig.program(NOP)
    assert rig.css.ssch(rig.sid(), raw.to_bytes()) == 0


def test_B1_access_and_specification_exceptions(rig: Rig) -> None:
    """spec B.1 #1 (ORB address alignment) and #2 (ORB accessible)."""
    with pytest.raises(AccessException):
        rig.css.ssch(rig.sid(), bytes(11))
    with pytest.raises(AccessException):  # X=1 needs 32 bytes
        rig.css.ssch(rig.sid(), Orb(cpa=0x1000, x=1).to_bytes()[:12])
    rig.css.memory.write(0x2000, Orb(cpa=0x1000).to_bytes())
    with pytest.raises(SpecificationException):
        rig.css.ssch(rig.sid(), 0x2002)
    with pytest.raises(AccessException):
        rig.css.ssch(rig.sid(), rig.css.memory.size - 4)
    rig.program(NOP)
    assert rig.css.ssch(rig.sid(), 0x2000) == 0


def test_B1_success_status(rig: Rig) -> None:
    """spec B.1 / C.2: primary|secondary|pending, CE|DE, CPA = last CCW + 8."""
    rig.start([Ccw1(ccw.CMD_NOP, ccw.CC), Ccw1(ccw.CMD_NOP)])
    rig.run()
    s = rig.scsw()
    assert s.sc == (S.SC_PRIMARY | S.SC_SECONDARY | S.SC_PENDING)
    assert s.dstat == S.DEV_CHANNEL_END | S.DEV_DEVICE_END
    assert s.cpa == 0x1000 + 16
    assert s.ac == 0 and s.fc == S.FC_START >> 12


def test_B1_deferred_cc3_without_usable_path(rig: Rig) -> None:
    """spec B.1 / C.5 / G.5 (default): cc 0, then deferred cc 3 with alert status."""
    rig.css.events.paths_offline(0)
    assert rig.start(NOP) == 0
    rig.run()
    s = rig.scsw()
    assert s.cc == 3 and s.sc == S.SC_ALERT | S.SC_PENDING and s.n == 1
    assert rig.css.pmcw(0).pnom == 0x80


def test_B1_orb_lpm_selects_paths(rig: Rig) -> None:
    """spec B.1: ORB LPM excluding the only path -> deferred cc 3."""
    assert rig.start(NOP, lpm=0x40) == 0
    rig.run()
    assert rig.scsw().cc == 3


def test_G5_immediate_cc3_when_configured() -> None:
    """spec G.5 (Hercules, configurable): no usable path -> SSCH cc 3."""
    with ChannelSubsystem.create(2, config=CssConfig(enabled=True, no_path="immediate")) as css:
        css.memory.write(0x1000, Ccw1(ccw.CMD_NOP).to_bytes())
        css.events.paths_offline(0)
        assert css.ssch(0x10000, Orb(cpa=0x1000).to_bytes()) == 3
        assert css.scsw(0).fc == 0


def test_B1_deferred_cc1_when_device_busy(rig: Rig) -> None:
    """spec B.1 / C.5: device busy -> deferred cc 1, alert|pending."""
    rig.css.events.device_busy(0)
    rig.start(NOP)
    rig.run()
    s = rig.scsw()
    assert s.cc == 1 and s.sc == S.SC_ALERT | S.SC_PENDING
    assert rig.tsch()[0] == 0
    assert rig.start(NOP) == 0  # busy answered once only
    rig.run()
    assert rig.scsw().cc == 0 and rig.scsw().sc & S.SC_PRIMARY


def test_B1_start_runs_asynchronously(rig: Rig) -> None:
    """Design: SSCH only starts the function; the channel performs it step by step."""
    rig.start([Ccw1(ccw.CMD_NOP, ccw.CC)] * 3 + [Ccw1(ccw.CMD_NOP)])
    assert rig.scsw().ac & S.AC_START_PENDING >> 5
    assert rig.css.channel.step() == 0  # start: path selection, activity
    assert rig.scsw().ac == (S.AC_SUBCHANNEL_ACTIVE | S.AC_DEVICE_ACTIVE) >> 5
    steps = rig.run()
    assert steps == 4
    assert rig.scsw().sc & S.SC_PENDING


def test_B1_read_write_data(rig: Rig) -> None:
    """A WRITE then a READ move bytes through the device and guest memory."""
    rig.css.memory.write(DATA, b"hello, channel!!")
    rig.start(
        [
            Ccw1(ccw.CMD_WRITE, ccw.CC, 16, DATA),
            Ccw1(ccw.CMD_CONTROL, ccw.CC, 4, DATA + 0x100),
            Ccw1(ccw.CMD_READ, 0, 16, DATA + 0x200),
        ]
    )
    rig.css.memory.write(DATA + 0x100, (0).to_bytes(4, "big"))
    rig.run()
    assert rig.scsw().cstat == 0
    assert rig.css.memory.read(DATA + 0x200, 16) == b"hello, channel!!"
    assert bytes(rig.css.device_storage(0)[:16]) == b"hello, channel!!"
