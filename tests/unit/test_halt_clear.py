"""spec B.2 HALT SUBCHANNEL and B.3 CLEAR SUBCHANNEL."""

from __future__ import annotations

from conftest import Rig

from ccwfuzz.arch import Ccw1, ccw
from ccwfuzz.arch import scsw as S

LONG = [Ccw1(ccw.CMD_NOP, ccw.CC)] * 5 + [Ccw1(ccw.CMD_NOP)]
ACTIVE = (S.AC_SUBCHANNEL_ACTIVE | S.AC_DEVICE_ACTIVE) >> 5


def test_B2_cc0_on_idle_subchannel_gives_device_end(rig: Rig) -> None:
    """spec B.2 #5 and halt function: neither start pending nor suspended -> DE."""
    assert rig.css.hsch(rig.sid()) == 0
    s = rig.scsw()
    assert s.fc == S.FC_HALT >> 12 and s.ac == S.AC_HALT_PENDING >> 5
    rig.run()
    s = rig.scsw()
    assert s.sc == S.SC_PENDING and s.dstat == S.DEV_DEVICE_END and s.ac == 0


def test_B2_halts_active_program(rig: Rig) -> None:
    """spec B.2: active program abandoned, DE, CPA := current CCW + 8, FC start kept
    (spec G.3, PoP)."""
    rig.start(LONG)
    rig.css.channel.step()
    rig.css.channel.step()
    rig.css.channel.step()
    assert rig.scsw().ac == ACTIVE
    assert rig.css.hsch(rig.sid()) == 0
    assert rig.scsw().fc == (S.FC_START | S.FC_HALT) >> 12
    rig.run()
    s = rig.scsw()
    assert s.sc == S.SC_PENDING and s.dstat == S.DEV_DEVICE_END and s.ac == 0
    assert s.cpa == 0x1000 + 8 + 8  # two CCWs fetched: the last at 0x1008
    cc, _irb = rig.tsch()
    assert cc == 0 and rig.scsw().fc == 0


def test_B2_halt_of_start_pending_has_no_device_end(rig: Rig) -> None:
    """spec B.2: a start still pending is dequeued without device end."""
    rig.start(LONG)
    assert rig.css.hsch(rig.sid()) == 0
    rig.run()
    assert rig.scsw().dstat == 0 and rig.scsw().sc == S.SC_PENDING


def test_B2_cc1_for_status_pending_alone_or_final_status(rig: Rig) -> None:
    """spec B.2 #3: pending alone, or primary/secondary/alert -> cc 1."""
    rig.start([Ccw1(ccw.CMD_NOP)])
    rig.run()
    assert rig.css.hsch(rig.sid()) == 1
    rig.tsch()
    rig.css.hsch(rig.sid())
    rig.run()
    assert rig.scsw().sc == S.SC_PENDING
    assert rig.css.hsch(rig.sid()) == 1
    rig.tsch()
    assert rig.css.events.attention(0)
    assert rig.css.hsch(rig.sid()) == 1


def test_B2_intermediate_status_does_not_give_cc1(rig: Rig) -> None:
    """spec B.2 note and G.4 (PoP form): intermediate-only pending -> cc 0, and the
    pending status of an active subchannel is reset."""
    rig.start([Ccw1(ccw.CMD_NOP, ccw.CC | ccw.PCI), *LONG])
    rig.css.channel.step()
    rig.css.channel.step()
    assert rig.scsw().sc == S.SC_INTERMEDIATE | S.SC_PENDING
    assert rig.css.pending_interruptions() == [0]
    assert rig.css.hsch(rig.sid()) == 0
    assert rig.scsw().sc == 0
    assert rig.css.pending_interruptions() == []
    rig.run()
    assert rig.scsw().sc == S.SC_PENDING


def test_B2_cc2_when_halt_or_clear_in_progress(rig: Rig) -> None:
    """spec B.2 #4."""
    rig.start(LONG)
    assert rig.css.hsch(rig.sid()) == 0
    assert rig.css.hsch(rig.sid()) == 2
    rig.css.csch(rig.sid())
    assert rig.css.hsch(rig.sid()) == 2


def test_B2_B3_cc3_not_operational(rig: Rig) -> None:
    """spec B.2 #2, B.3 #2."""
    rig.css.events.not_operational(0)
    assert rig.css.hsch(rig.sid()) == 3
    assert rig.css.csch(rig.sid()) == 3
    assert rig.css.hsch(rig.sid(42)) == 3


def test_B3_clear_always_cc0_and_replaces_everything(rig: Rig) -> None:
    """spec B.3: cc 0 even when status pending or busy; FC := clear, AC := clear
    pending; clear function: SC := pending alone, CPA/status/count zero (G.6)."""
    rig.start(LONG)
    rig.css.channel.step()
    rig.css.channel.step()
    assert rig.css.csch(rig.sid()) == 0
    s = rig.scsw()
    assert s.fc == S.FC_CLEAR >> 12 and s.ac == S.AC_CLEAR_PENDING >> 5 and s.sc == 0
    rig.run()
    s = rig.scsw()
    assert s.fc == S.FC_CLEAR >> 12 and s.ac == 0 and s.sc == S.SC_PENDING
    assert (s.cpa, s.dstat, s.cstat, s.count) == (0, 0, 0, 0)
    p = rig.css.pmcw(0)
    assert p.pom == 0xFF and p.pnom == 0
    # status pending: a second CSCH still gets cc 0 and dequeues the interruption
    assert rig.css.pending_interruptions() == [0]
    assert rig.css.csch(rig.sid()) == 0
    assert rig.css.pending_interruptions() == []
    rig.run()
    assert rig.tsch()[0] == 0
    assert rig.scsw().fc == 0


def test_B3_clear_ends_suspended_program(rig: Rig) -> None:
    rig.start([Ccw1(ccw.CMD_NOP, ccw.CC | ccw.S), Ccw1(ccw.CMD_NOP)], s=1)
    rig.run()
    rig.tsch()
    assert rig.scsw().ac == S.AC_SUSPENDED >> 5
    assert rig.css.csch(rig.sid()) == 0
    rig.run()
    assert rig.scsw().ac == 0 and rig.scsw().sc == S.SC_PENDING


def test_B2_halt_cpa_is_last_fetched_ccw_plus_8(rig: Rig) -> None:
    """spec B.2 / C.2: the halt reports the CPA of the last CCW fetched + 8, the same
    position a PCI status at that point reports."""
    rig.start([Ccw1(ccw.CMD_NOP, ccw.CC | ccw.PCI), *LONG])
    rig.css.channel.step()
    rig.css.channel.step()
    pci_cpa = rig.scsw().cpa
    rig.tsch()
    assert rig.css.hsch(rig.sid()) == 0
    rig.run()
    assert rig.scsw().cpa == pci_cpa == 0x1008


def test_B2_halt_before_first_fetch_reports_orb_cpa(rig: Rig) -> None:
    rig.start(LONG)
    rig.css.channel.step()  # start accepted, no CCW fetched yet
    rig.css.hsch(rig.sid())
    rig.run()
    assert rig.scsw().cpa == 0x1000
