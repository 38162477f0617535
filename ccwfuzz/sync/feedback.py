"""Domain signal for the fuzzer, written by the actors as they record history.

Every history record an actor appends in a controlled run also sets features in the
run's feature map (:mod:`ccwfuzz.coverage`):

* the record's *meaning*: its kind and the arguments that say what happened (an FSM
  transition's states and event, an instruction's condition code and the SCSW state
  bits before and after, a region op's return code and FSM states, an interruption's
  SCSW state bits), never addresses, hashes or sequence numbers, which would make
  every run look new;
* an *interleaving pair* when a shared object (a subchannel's FSM, its SCSW, its IRB
  area, its channel program, a lock) is touched by another actor than the one that
  touched it last: the two record kinds and the two actors' roles, as KRACE's alias
  coverage pairs the accesses of two threads to one memory location.

The pairs are what lets the fuzzer climb toward narrow interleavings: a schedule that
gets the bottom half between a region write and its FSM update shows up as a pair
never seen before, so libFuzzer keeps that input and mutates around it.
"""

from __future__ import annotations

from ccwfuzz.arch import scsw
from ccwfuzz.coverage import FEATURES, mix
from ccwfuzz.sync.history import Ev

#: The SCSW word-0 bits that make its state: function, activity and status control.
STATE = scsw.FC | scsw.AC | scsw.SC
_ALL = 0xFFFFFFFF

#: Per record kind, a mask per argument (see :data:`ccwfuzz.sync.history.ARGS`): the
#: masked arguments and the kind make the record's feature. Kinds not listed count by
#: kind alone.
MASKS: dict[int, tuple[int, int, int, int, int]] = {
    Ev.OP_BEGIN: (0xFF, 0, 0, 0, 0),
    Ev.OP_END: (0xFF, 0, 0, _ALL, 0),
    Ev.INSTR: (0x1FF, 0, 0xFF, STATE, STATE),
    Ev.INTERRUPT: (0, STATE, 0, 0, 0xFF),
    Ev.FSM: (0, 0xFF, 0xFF, 0xFF, 0),
    Ev.LOCK_ACQUIRE: (_ALL, 0, 0, 0, 0),
    Ev.LOCK_WAIT: (_ALL, 0, 0, 0, 0),
    Ev.CP_FREE: (0, 0, 0, 0xFF, 1),
    Ev.IRB_STORE: (0, 0, STATE, 0, 0),
    Ev.IRB_READ: (0, 0, STATE, 0, 0),
    Ev.HW_EVENT: (0xFF, 0, _ALL, 0, 0),
    Ev.RET: (0xFF, 0, _ALL, 0xFF, 0xFF),
    Ev.GUEST_CC: (0x1FF, 0, 0xFF, _ALL, 0),
    Ev.TODO: (0, STATE, 0xFF, 0xFF, 1),
    Ev.SCHIB_READ: (0, 0, STATE, _ALL, 0),
    Ev.DMA: (0, 0, 0, 0xFF, 0xFF),
    Ev.EXPECT_MEM: (0, 0, 0, 0, 0xFF),
}

#: Record kinds that touch a shared object: kind -> (object class, argument holding it).
#: Classes: 1 the subchannel's FSM state, 2 its SCSW, 3 its IRB area, 4 its channel
#: program, 5 a lock.
OBJECTS: dict[int, tuple[int, int]] = {
    Ev.FSM: (1, 0),
    Ev.RET: (1, 1),
    Ev.TODO: (1, 0),
    Ev.INSTR: (2, 1),
    Ev.INTERRUPT: (2, 0),
    Ev.SCHIB_READ: (2, 0),
    Ev.IRB_STORE: (3, 0),
    Ev.IRB_READ: (3, 0),
    Ev.CP_ALLOC: (4, 0),
    Ev.CP_FREE: (4, 0),
    Ev.LOCK_ACQUIRE: (5, 0),
}

#: Slots of the last-accessor table that follows the map in the segment.
LAST_SLOTS = 256
#: Bytes of the feature area: the map, then the last-accessor table (u32 per slot).
AREA_BYTES = FEATURES + 4 * LAST_SLOTS
_PAIR = 0xA11A5


class Feedback:
    """One actor's writer into the feature area of the run segment."""

    def __init__(self, area: memoryview, actor: int) -> None:
        self.map = area[:FEATURES]
        self.last = area[FEATURES:AREA_BYTES].cast("I")
        self.me = actor
        self.roles: list[int] = []

    def begin_run(self, workers_mask: int, nactors: int) -> None:
        """Roles for interleaving pairs: every worker is alike (0); the channel and the
        work queue are themselves (1, 2)."""
        nworkers = workers_mask.bit_count()
        self.roles = [0 if a < nworkers else 1 + a - nworkers for a in range(nactors)]

    def record(self, kind: int, a0: int, a1: int, a2: int, a3: int, a4: int) -> None:
        m = MASKS.get(kind)
        fm = self.map
        if m is None:
            fm[mix(kind)] = 1
        else:
            fm[mix(kind, a0 & m[0], a1 & m[1], a2 & m[2], a3 & m[3], a4 & m[4])] = 1
        obj = OBJECTS.get(kind)
        if obj is None:
            return
        cls, arg = obj
        o = a0 if arg == 0 else a1
        slot = (cls * 37 + o) % LAST_SLOTS
        me = self.me
        prev = self.last[slot]
        self.last[slot] = (me + 1) | kind << 8
        if prev and (prev & 0xFF) != me + 1:
            roles = self.roles
            pa = (prev & 0xFF) - 1
            fm[mix(_PAIR, cls, prev >> 8, kind, roles[pa] if pa < len(roles) else 3,
                   roles[me] if me < len(roles) else 3)] = 1  # fmt: skip
