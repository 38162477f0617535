"""Hardware-side events: what the device and the paths do on their own.

A test, or a later channel actor, fires these at any time between instructions and
channel steps. Each names the spec rule it exercises.
"""

from __future__ import annotations

from ccwfuzz.arch import schib as P
from ccwfuzz.arch import scsw as S
from ccwfuzz.device import layout as L
from ccwfuzz.device.core import Core


class Events:
    """Event injector over one :class:`~ccwfuzz.device.core.Core`.

    Example:
        >>> from ccwfuzz.device import ChannelSubsystem, CssConfig
        >>> with ChannelSubsystem.create(config=CssConfig(enabled=True)) as css:
        ...     css.events.attention(0)
        ...     css.pending_interruptions()
        True
        [0]
    """

    def __init__(self, core: Core) -> None:
        self._c = core
        self._w = core.w

    def attention(self, index: int, dstat: int = S.DEV_ATTENTION) -> bool:
        """Unsolicited status from the device (spec C.4): SC := alert + pending, FC and
        AC unchanged, an interruption queued. Not presented (returns False) when the
        subchannel is disabled or not operational, already status pending (QEMU drops
        it), or busy with a function (Hercules: the device does not present attention
        while busy; this also keeps TSCH of unsolicited status from ending a function)."""
        w, b = self._w, L.sch_base(index)
        w1 = w[b + L.PMCW + 1]
        if w1 & (P.V | P.ENABLED) != P.V | P.ENABLED:
            return False
        w0 = w[b + L.SCSW]
        if w0 & (S.SC_PENDING | S.FC) or w0 & S.AC:
            return False
        w[b + L.SCSW] = (w0 & ~(S.SC | S.CC | S.Z | S.E | S.N)) | S.SC_ALERT | S.SC_PENDING
        w[b + L.SCSW + 1] = 0
        w[b + L.SCSW + 2] = (dstat & 0xFF) << S.DSTAT_SHIFT
        self._c.make_pending(index)
        return True

    def device_busy(self, index: int, times: int = 1) -> None:
        """The device answers the next ``times`` start functions busy: deferred cc 1
        with alert status (spec C.5)."""
        self._w[L.sch_base(index) + L.DEV_BUSY] += times

    def paths_offline(self, index: int, mask: int = 0xFF) -> None:
        """Channel paths in ``mask`` become unavailable (PAM bits off): a start with no
        usable path ends with deferred cc 3, or cc 3 at SSCH (spec B.1, G.5)."""
        self._w[L.sch_base(index) + L.PMCW + 3] &= ~(mask & 0xFF)

    def paths_online(self, index: int, mask: int = 0xFF) -> None:
        b = L.sch_base(index)
        installed = self._w[b + L.PMCW + 2] & P.PIM
        self._w[b + L.PMCW + 3] |= mask & installed

    def late_device_end(self, index: int) -> None:
        """The next channel program on ``index`` presents channel end (primary status)
        first and device end (secondary status) on a later channel step (spec C.1)."""
        b = L.sch_base(index)
        self._w[b + L.CH_FLAGS] |= L.CHF_LATE_DE
        self._c.schedule(index) if self._c.has_work(index) else None

    def not_operational(self, index: int) -> None:
        """The device is gone (PMCW V := 0): every instruction but STSCH answers cc 3.
        A function in progress is dropped with its status and queued interruption, as no
        status can be presented through a not-operational subchannel."""
        w, b = self._w, L.sch_base(index)
        w[b + L.PMCW + 1] &= ~P.V
        self._drop(index)

    def operational(self, index: int) -> None:
        """The device is back (PMCW V := 1), idle."""
        w, b = self._w, L.sch_base(index)
        if w[b + L.DEV_TYPE] != L.DEV_NONE:
            w[b + L.PMCW + 1] |= P.V

    def disabled(self, index: int) -> None:
        """The subchannel loses its enable (PMCW E := 0), as when a host disables it
        under the guest; like :meth:`not_operational` it drops any function."""
        self._w[L.sch_base(index) + L.PMCW + 1] &= ~P.ENABLED
        self._drop(index)

    def _drop(self, index: int) -> None:
        w, b = self._w, L.sch_base(index)
        w[b + L.SCSW] = 0
        w[b + L.CH_FLAGS] = 0
        self._c.withdraw(index)
        self._c.work.remove(index)
