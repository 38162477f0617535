"""spec B.7 RESUME SUBCHANNEL and B.8 CANCEL SUBCHANNEL; suspension (C.3)."""

from __future__ import annotations

from conftest import Rig

from ccwfuzz.arch import Ccw1, ccw
from ccwfuzz.arch import scsw as S

SUSPENDING = [Ccw1(ccw.CMD_NOP, ccw.CC), Ccw1(ccw.CMD_NOP, ccw.CC | ccw.S), Ccw1(ccw.CMD_NOP)]


def _suspend(rig: Rig, **orb: int) -> None:
    rig.start(SUSPENDING, s=1, **orb)
    rig.run()


def test_C3_suspension_gives_intermediate_status(rig: Rig) -> None:
    """spec C.3: AC suspended, SC intermediate|pending (no alert, G.7), activity off."""
    _suspend(rig)
    s = rig.scsw()
    assert s.ac == S.AC_SUSPENDED >> 5
    assert s.sc == S.SC_INTERMEDIATE | S.SC_PENDING
    assert s.cpa == 0x1000 + 8 + 8


def test_C3_suppress_suspended_interruption(rig: Rig) -> None:
    """spec C.3: ORB U=1 suppresses the suspended interruption."""
    _suspend(rig, u=1)
    assert rig.scsw().ac == S.AC_SUSPENDED >> 5
    assert rig.scsw().sc == 0 and rig.css.pending_interruptions() == []


def test_B7_resume_continues_the_program(rig: Rig) -> None:
    """spec B.7 #5: cc 0, resume pending; the suspended CCW is refetched."""
    _suspend(rig)
    assert rig.css.rsch(rig.sid()) == 1  # status pending
    rig.tsch()
    rig.css.memory.write(0x1008, Ccw1(ccw.CMD_NOP, ccw.CC).to_bytes())  # guest resets S
    assert rig.css.rsch(rig.sid()) == 0
    assert rig.scsw().ac == (S.AC_RESUME_PENDING | S.AC_SUSPENDED) >> 5
    assert rig.css.rsch(rig.sid()) == 2  # resume already pending
    rig.run()
    s = rig.scsw()
    assert s.sc == S.SC_PRIMARY | S.SC_SECONDARY | S.SC_PENDING and s.cpa == 0x1000 + 24


def test_B7_resume_with_s_still_set_suspends_again(rig: Rig) -> None:
    """spec B.7 (QEMU resumption): the S flag still set -> suspended again."""
    _suspend(rig)
    rig.tsch()
    assert rig.css.rsch(rig.sid()) == 0
    rig.run()
    assert rig.scsw().ac == S.AC_SUSPENDED >> 5


def test_B7_cc2_when_not_suspended(rig: Rig) -> None:
    """spec B.7 #4 and cc 3 (#2)."""
    assert rig.css.rsch(rig.sid()) == 2
    rig.start([Ccw1(ccw.CMD_NOP, ccw.CC), Ccw1(ccw.CMD_NOP)])
    assert rig.css.rsch(rig.sid()) == 2
    assert rig.css.rsch(rig.sid(8)) == 3


def test_B8_cancel_start_pending(rig: Rig) -> None:
    """spec B.8 #5: cc 0, start function cancelled, no interruption, idle."""
    rig.start([Ccw1(ccw.CMD_NOP)])
    assert rig.css.xsch(rig.sid()) == 0
    s = rig.scsw()
    assert (s.fc, s.ac, s.sc) == (0, 0, 0)
    assert rig.run() == 0
    assert rig.css.pending_interruptions() == []
    assert rig.start([Ccw1(ccw.CMD_NOP)]) == 0


def test_B8_cancel_suspended(rig: Rig) -> None:
    _suspend(rig)
    rig.tsch()
    assert rig.css.xsch(rig.sid()) == 0
    assert rig.scsw().fc == 0 and rig.scsw().ac == 0


def test_B8_cc1_cc2_cc3(rig: Rig) -> None:
    """spec B.8 #2-#4: pending -> 1; not applicable (idle, active) -> 2; unknown -> 3."""
    assert rig.css.xsch(rig.sid()) == 2
    rig.start([Ccw1(ccw.CMD_NOP, ccw.CC), Ccw1(ccw.CMD_NOP)])
    rig.css.channel.step()
    assert rig.css.xsch(rig.sid()) == 2  # subchannel active
    rig.run()
    assert rig.css.xsch(rig.sid()) == 1
    assert rig.css.xsch(rig.sid(6)) == 3


def test_C3_pci_on_suspending_ccw_is_pci_status(rig: Rig) -> None:
    """spec C.3: suspension with the CCW PCI flag presents subchannel status PCI (even
    with ORB U=1)."""
    rig.start([Ccw1(ccw.CMD_NOP, ccw.CC | ccw.S | ccw.PCI), Ccw1(ccw.CMD_NOP)], s=1, u=1)
    rig.run()
    s = rig.scsw()
    assert s.ac == S.AC_SUSPENDED >> 5
    assert s.sc == S.SC_INTERMEDIATE | S.SC_PENDING and s.cstat == S.SCH_PCI
