"""spec B.5 STORE SUBCHANNEL and B.6 MODIFY SUBCHANNEL (A.3 validity, G.1 mask)."""

from __future__ import annotations

import dataclasses

import pytest
from conftest import Rig

from ccwfuzz.arch import AccessException, Ccw1, OperandException, Schib, ccw
from ccwfuzz.device import ChannelSubsystem, CssConfig, DeviceSpec


def _modified(rig: Rig, **pmcw: int) -> bytes:
    s = Schib.from_bytes(rig.css.stsch(rig.sid())[1])
    return dataclasses.replace(s, pmcw=dataclasses.replace(s.pmcw, **pmcw)).to_bytes()


def test_B5_stsch_cc0_and_cc3(rig: Rig) -> None:
    """spec B.5 #3 and #6; STSCH never changes state and never gives cc 1 or 2."""
    cc, raw = rig.css.stsch(rig.sid())
    assert cc == 0 and len(raw) == 52
    s = Schib.from_bytes(raw)
    assert s.pmcw.v == 1 and s.pmcw.e == 1 and s.pmcw.devno == 0
    assert rig.css.stsch(rig.sid(4)) == (3, b"")
    rig.start([Ccw1(ccw.CMD_NOP)])
    rig.run()
    assert rig.css.stsch(rig.sid())[0] == 0


def test_B5_stsch_reports_not_operational_subchannel() -> None:
    """spec B.5: a subchannel without a device is stored with V=0, cc 0."""
    with ChannelSubsystem.create(2, devices=[DeviceSpec(), DeviceSpec("none")]) as css:
        cc, raw = css.stsch(0x10001)
        assert cc == 0 and Schib.from_bytes(raw).pmcw.v == 0
        assert css.msch(0x10001, raw) == 0  # spec B.6 #5: V=0 -> cc 0, no change


def test_B6_msch_updates_modifiable_fields_only(rig: Rig) -> None:
    """spec B.6 #8 and A.3 column 'MSCH-modifiable'."""
    raw = _modified(
        rig, intparm=0x1234, isc=5, lpm=0xC0, mbi=7, pom=0x7F, mbfc=0,
        csense=1, devno=0x4444, pim=0x01, pam=0x02, t=1, chpid0_3=0x11223344,
    )  # fmt: skip
    assert rig.css.msch(rig.sid(), raw) == 0
    p = rig.css.pmcw(0)
    assert (p.intparm, p.isc, p.lpm, p.mbi, p.pom, p.csense) == (0x1234, 5, 0xC0, 7, 0x7F, 1)
    assert (p.devno, p.pim, p.pam, p.t, p.chpid0_3) == (0, 0x80, 0x80, 0, 0)


def test_B6_msch_enables_and_disables(rig: Rig) -> None:
    assert rig.css.msch(rig.sid(), _modified(rig, e=0)) == 0
    assert rig.start([Ccw1(ccw.CMD_NOP)]) == 3
    assert rig.css.msch(rig.sid(), _modified(rig, e=1)) == 0
    assert rig.start([Ccw1(ccw.CMD_NOP)]) == 0


def test_B6_cc1_pending_cc2_busy_cc3_unknown(rig: Rig) -> None:
    """spec B.6 #4, #6, #7."""
    raw = rig.css.stsch(rig.sid())[1]
    rig.start([Ccw1(ccw.CMD_NOP)])
    assert rig.css.msch(rig.sid(), raw) == 2
    rig.run()
    assert rig.css.msch(rig.sid(), raw) == 1
    assert rig.css.msch(rig.sid(9), raw) == 3


@pytest.mark.parametrize(
    "field",
    [{"q": 1}, {"w": 1}, {"reserved_6_7": 1}, {"reserved_6_7": 2}, {"reserved_high": 1},
     {"reserved_mid": 1}, {"xmwme": 1}],
)  # fmt: skip
def test_B6_operand_exception_for_reserved_bits(rig: Rig, field: dict[str, int]) -> None:
    """spec A.3 / B.6 #3 / G.1 (mask 0xC300): reserved bits -> operand exception."""
    with pytest.raises(OperandException):
        rig.css.msch(rig.sid(), _modified(rig, **field))


def test_B6_bit5_ignored_and_stored_as_zero(rig: Rig) -> None:
    """spec A.3 w1 b5 (KUT test_pmcw_bit5): ignored by MSCH, stored as 0 by STSCH."""
    assert rig.css.msch(rig.sid(), _modified(rig, bit5=1)) == 0
    assert Schib.from_bytes(rig.css.stsch(rig.sid())[1]).pmcw.bit5 == 0


def test_B6_mbfc_needs_aligned_mba(rig: Rig) -> None:
    """spec A.3: w6.F set with MBA not 64-byte aligned -> operand exception."""
    s = Schib.from_bytes(_modified(rig, mbfc=1))
    with pytest.raises(OperandException):
        rig.css.msch(rig.sid(), dataclasses.replace(s, mba=0x1010).to_bytes())
    assert rig.css.msch(rig.sid(), dataclasses.replace(s, mba=0x1040).to_bytes()) == 0
    assert Schib.from_bytes(rig.css.stsch(rig.sid())[1]).mba == 0x1040


def test_G1_old_qemu_mask_is_configurable() -> None:
    """spec G.1: with the pre-2021 mask 0x0700, bit 5 is an error and Q is accepted."""
    with ChannelSubsystem.create(1, config=CssConfig(pmcw_reserved_mask=0x0700)) as css:
        s = Schib.from_bytes(css.stsch(0x10000)[1])
        with pytest.raises(OperandException):
            css.msch(
                0x10000, dataclasses.replace(s, pmcw=dataclasses.replace(s.pmcw, bit5=1)).to_bytes()
            )
        q = dataclasses.replace(s, pmcw=dataclasses.replace(s.pmcw, q=1)).to_bytes()
        assert css.msch(0x10000, q) == 0


def test_B6_operand_fetch_rules(rig: Rig) -> None:
    """spec B.6 #1-#2: SCHIB address alignment and accessibility."""
    with pytest.raises(AccessException):
        rig.css.msch(rig.sid(), bytes(51))
    from ccwfuzz.arch import SpecificationException

    with pytest.raises(SpecificationException):
        rig.css.msch(rig.sid(), 0x2001)
    rig.css.memory.write(0x2000, rig.css.stsch(rig.sid())[1])
    assert rig.css.msch(rig.sid(), 0x2000) == 0


def test_C1_disabled_subchannel_never_becomes_status_pending(rig: Rig) -> None:
    """spec C.1: only an enabled subchannel becomes status pending. Disabling it while
    a device end is still owed (FC already 0 after TSCH of primary status) drops the
    device end instead of leaving a pending, unclearable subchannel."""
    rig.css.events.late_device_end(0)
    rig.start([Ccw1(ccw.CMD_NOP)])
    rig.css.channel.step()
    rig.css.channel.step()
    rig.tsch()
    assert rig.css.msch(rig.sid(), _modified(rig, e=0)) == 0
    assert rig.scsw().ac == 0 and rig.css.channel.busy() == []  # device end forgotten
    rig.run()
    assert rig.scsw().sc == 0 and rig.css.pending_interruptions() == []
    assert rig.css.msch(rig.sid(), _modified(rig, e=1)) == 0
    assert rig.start([Ccw1(ccw.CMD_NOP)]) == 0
