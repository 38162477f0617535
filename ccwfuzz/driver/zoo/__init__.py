"""The zoo: the reference driver with one historical vfio-ccw bug brought back each.

Each member is the smallest faithful change to :class:`~ccwfuzz.driver.Reference` that
reintroduces the bug; its module docstring says the bug, the interleaving that triggers
it, the upstream fix or the seed thread, and the rule that must catch it
(``expected_rule``). Select one as ``--target zoo:<name>``. :func:`override_points`
lists, in one place, which steps of the reference each member overrides (``ccwfuzz
targets`` prints it).
"""

from __future__ import annotations

from ccwfuzz.driver.reference import Reference
from ccwfuzz.driver.zoo.boxed_busy import BoxedBusy
from ccwfuzz.driver.zoo.chain_own_command import ChainOwnCommand
from ccwfuzz.driver.zoo.close_races_todo import CloseRacesTodo
from ccwfuzz.driver.zoo.cp_init_over_live import CpInitOverLive
from ccwfuzz.driver.zoo.empty_transfer_pinned import EmptyTransferPinned
from ccwfuzz.driver.zoo.flush_under_spinlock import FlushUnderSpinlock
from ccwfuzz.driver.zoo.fmt0_unconverted import Fmt0Unconverted
from ccwfuzz.driver.zoo.free_in_processing import FreeInProcessing
from ccwfuzz.driver.zoo.free_unrelated import FreeUnrelated
from ccwfuzz.driver.zoo.global_serialize import GlobalSerialize
from ccwfuzz.driver.zoo.idal_2k_grouped import Idal2kGrouped
from ccwfuzz.driver.zoo.idaw_count_4k import IdawCount4k
from ccwfuzz.driver.zoo.idle_on_clear import IdleOnClear
from ccwfuzz.driver.zoo.idle_on_intermediate import IdleOnIntermediate
from ccwfuzz.driver.zoo.idle_outside_fsm import IdleOutsideFsm
from ccwfuzz.driver.zoo.irq_config_read import IrqConfigRead
from ccwfuzz.driver.zoo.lock_order_inversion import LockOrderInversion
from ccwfuzz.driver.zoo.notoper_free_running import NotoperFreeRunning
from ccwfuzz.driver.zoo.notoper_resurrect import NotoperResurrect
from ccwfuzz.driver.zoo.prefetch_error_leak import PrefetchErrorLeak
from ccwfuzz.driver.zoo.quiesce_loop import QuiesceLoop
from ccwfuzz.driver.zoo.remove_uaf import RemoveUaf
from ccwfuzz.driver.zoo.scsw_end_of_chain import ScswEndOfChain
from ccwfuzz.driver.zoo.single_irb_slot import SingleIrbSlot
from ccwfuzz.driver.zoo.ssch_before_pending import SschBeforePending
from ccwfuzz.driver.zoo.todo_outside_mutex import TodoOutsideMutex
from ccwfuzz.driver.zoo.unlocked_region import UnlockedRegion

MEMBERS: dict[str, type[Reference]] = {
    cls.name: cls
    for cls in (
        GlobalSerialize, UnlockedRegion, IdleOnIntermediate, BoxedBusy, FreeInProcessing,
        FreeUnrelated, CpInitOverLive, IdleOutsideFsm, IdleOnClear, FlushUnderSpinlock,
        QuiesceLoop, NotoperResurrect, RemoveUaf, IrqConfigRead, LockOrderInversion,
        SschBeforePending, SingleIrbSlot,
        # channel-program translation (vfio_ccw_cp.c)
        Fmt0Unconverted, EmptyTransferPinned, ScswEndOfChain, Idal2kGrouped, IdawCount4k,
        PrefetchErrorLeak, ChainOwnCommand,
        # narrow windows: a lagging actor, hardware events inside a request (E18)
        CloseRacesTodo, TodoOutsideMutex, NotoperFreeRunning,
    )
}  # fmt: skip


def override_points() -> dict[str, list[str]]:
    """Member name -> the reference methods it overrides (its change, in one line)."""
    return {
        name: sorted(k for k, v in vars(cls).items() if callable(v) and hasattr(Reference, k))
        for name, cls in MEMBERS.items()
    }
