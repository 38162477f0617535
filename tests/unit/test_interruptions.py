"""spec C: intermediate status (PCI, initial status), primary before secondary,
deferred condition codes, alert status, the interruption queue."""

from __future__ import annotations

from conftest import Rig

from ccwfuzz.arch import Ccw1, ccw, sid
from ccwfuzz.arch import scsw as S
from ccwfuzz.device import ChannelSubsystem, CssConfig

FINAL = S.SC_PRIMARY | S.SC_SECONDARY | S.SC_PENDING


def test_C3_pci_intermediate_then_final_with_pci(rig: Rig) -> None:
    """spec C.3 PCI and G.8: separate intermediate interruption; not TSCHed, it is
    superseded by the final status, which keeps the PCI indication."""
    rig.start([Ccw1(ccw.CMD_NOP, ccw.CC | ccw.PCI), Ccw1(ccw.CMD_NOP, ccw.CC), Ccw1(ccw.CMD_NOP)])
    rig.css.channel.step()
    rig.css.channel.step()
    s = rig.scsw()
    assert s.sc == S.SC_INTERMEDIATE | S.SC_PENDING and s.cstat == S.SCH_PCI
    assert s.ac == (S.AC_SUBCHANNEL_ACTIVE | S.AC_DEVICE_ACTIVE) >> 5
    assert not S.is_final(s.word0)
    rig.run()
    s = rig.scsw()
    assert s.sc == FINAL and s.cstat == S.SCH_PCI and S.is_final(s.word0)
    assert rig.css.pending_interruptions() == [0]  # still one interruption (C.9)


def test_C3_initial_status_interruption_sets_z(rig: Rig) -> None:
    """spec C.3 zero condition code: ORB I=1 -> intermediate status with Z after the
    first command; final status clears Z."""
    rig.start([Ccw1(ccw.CMD_NOP, ccw.CC), Ccw1(ccw.CMD_NOP)], i=1)
    rig.css.channel.step()
    rig.css.channel.step()
    s = rig.scsw()
    assert s.z == 1 and s.sc == S.SC_INTERMEDIATE | S.SC_PENDING
    _cc, irb = rig.tsch()
    assert irb.scsw.z == 1 and rig.scsw().z == 0  # spec G.10: TSCH clears Z
    rig.run()
    assert rig.scsw().sc == FINAL and rig.scsw().z == 0


def test_C3_no_initial_status_when_program_ends_at_first_ccw(rig: Rig) -> None:
    rig.start([Ccw1(ccw.CMD_NOP)], i=1)
    rig.run()
    assert rig.scsw().sc == FINAL and rig.scsw().z == 0


def test_C1_primary_before_secondary(rig: Rig) -> None:
    """spec C.1: with a late device end, primary status (CE) comes first and the
    device stays active; secondary status (DE) follows on a later step."""
    rig.css.events.late_device_end(0)
    rig.start([Ccw1(ccw.CMD_NOP)])
    rig.css.channel.step()
    rig.css.channel.step()
    s = rig.scsw()
    assert s.sc == S.SC_PRIMARY | S.SC_PENDING and s.dstat == S.DEV_CHANNEL_END
    assert s.ac == S.AC_DEVICE_ACTIVE >> 5 and not S.is_final(s.word0)
    _cc, _irb = rig.tsch()
    rig.run()
    s = rig.scsw()
    assert s.sc == S.SC_SECONDARY | S.SC_PENDING and s.dstat == S.DEV_DEVICE_END
    assert s.ac == 0 and S.is_final(s.word0)


def test_C1_late_device_end_merges_into_pending_primary(rig: Rig) -> None:
    rig.css.events.late_device_end(0)
    rig.start([Ccw1(ccw.CMD_NOP)])
    rig.run()
    s = rig.scsw()
    assert s.sc == FINAL and s.dstat == S.DEV_CHANNEL_END | S.DEV_DEVICE_END


def test_C4_unsolicited_attention(rig: Rig) -> None:
    """spec C.4: alert|pending, FC/AC unchanged, unsolicited per A.2; dropped while
    status pending or disabled."""
    assert rig.css.events.attention(0)
    s = rig.scsw()
    assert s.sc == S.SC_ALERT | S.SC_PENDING and s.fc == 0 and s.dstat == S.DEV_ATTENTION
    assert not S.is_solicited(s.word0)
    assert not rig.css.events.attention(0)  # already pending
    rig.tsch()
    rig.css.events.disabled(1)
    assert not rig.css.events.attention(1)


def test_C4_attention_not_presented_while_busy(rig: Rig) -> None:
    rig.start([Ccw1(ccw.CMD_NOP, ccw.CC), Ccw1(ccw.CMD_NOP)])
    assert not rig.css.events.attention(0)
    assert rig.scsw().sc == 0


def test_C5_deferred_cc_is_solicited(rig: Rig) -> None:
    """spec A.2 / C.5: deferred cc 1 with alert|pending is solicited status."""
    rig.css.events.device_busy(0)
    rig.start([Ccw1(ccw.CMD_NOP)])
    rig.run()
    assert S.is_solicited(rig.scsw().word0)


def test_C2_unit_check_is_alert_with_concurrent_sense() -> None:
    """spec C.2 / A.5: rejected command -> unit check, alert; with PMCW concurrent
    sense, ERW.S, sense count and the ECW hold the sense bytes, SCSW E set."""
    import dataclasses

    from ccwfuzz.arch import Schib

    with ChannelSubsystem.create(1, config=CssConfig(enabled=True)) as css:
        s = Schib.from_bytes(css.stsch(sid.make(0))[1])
        css.msch(
            sid.make(0),
            dataclasses.replace(s, pmcw=dataclasses.replace(s.pmcw, csense=1)).to_bytes(),
        )
        css.memory.write(0x1000, Ccw1(0x0B).to_bytes())  # unknown control command
        css.ssch(sid.make(0), __import__("ccwfuzz").arch.Orb(cpa=0x1000).to_bytes())
        css.channel.run_until_idle()
        irb = css.irb(0)
        assert irb.scsw.sc == S.SC_ALERT | FINAL
        assert irb.scsw.dstat == S.DEV_CHANNEL_END | S.DEV_DEVICE_END | S.DEV_UNIT_CHECK
        assert irb.scsw.e == 1 and irb.erw.s == 1 and irb.erw.scnt == 32
        assert irb.ecw[0] == 0x80  # command reject


def test_C9_tpi_oldest_first_and_intparm_at_presentation(rig: Rig) -> None:
    """spec C.9: one pending interruption per subchannel, oldest first; the
    interruption parameter is the PMCW's when presented."""
    rig.start([Ccw1(ccw.CMD_NOP)], index=2, intparm=0x22)
    rig.start([Ccw1(ccw.CMD_NOP)], index=1, intparm=0x11)
    rig.css.channel.step(2)
    rig.css.channel.step(2)
    rig.run()
    assert rig.css.pending_interruptions() == [2, 1]
    assert rig.css.tpi() == (sid.make(2), 0x22)
    assert rig.css.tpi() == (sid.make(1), 0x11)
    assert rig.css.tpi() is None
    assert rig.scsw(2).sc & S.SC_PENDING  # status stays pending until TSCH


def test_C9_tsch_dequeues_interruption(rig: Rig) -> None:
    rig.start([Ccw1(ccw.CMD_NOP)], index=0)
    rig.start([Ccw1(ccw.CMD_NOP)], index=3)
    rig.run()
    rig.tsch(0)
    assert rig.css.pending_interruptions() == [3]


def test_round_robin_cost_is_per_step(rig: Rig) -> None:
    """Design: each step does one unit of work on one subchannel, round robin."""
    for i in range(3):
        rig.start([Ccw1(ccw.CMD_NOP, ccw.CC), Ccw1(ccw.CMD_NOP)], index=i)
    order = [rig.css.channel.step() for _ in range(6)]
    assert order == [0, 1, 2, 0, 1, 2]
