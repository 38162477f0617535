"""The layout of a driver's words and primitives in the run segment: per-subchannel
word offsets (``D_*``), global words (``G_*``), primitive slots (``P_*``) and the cp
arena geometry. Drivers that keep their own state declare ``private_words`` instead of
using these; the reference and the zoo use them directly."""

from __future__ import annotations

from ccwfuzz.sync.history import Instr

POISON = 0x6B
POISON_WORD = 0x6B6B6B6B  # a driver word of freed private state
CP_SLOT = 8192  # host CCWs, host IDALs and the segment table of one channel program
SLOTS_PER_SCH = 2
#: Host page frames a channel program can pin (one window per cp slot).
FRAMES_PER_CP = 256
PAGE = 4096
CHUNK = 32  # bytes copied between scheduling points
IRB_SIZE = 96

# Global driver words.
G_WQ_HEAD, G_WQ_TAIL, G_WQ_COUNT, G_WQ_RUNNING = 0, 1, 2, 3
G_WQ_RING = 8
WQ_RING = 64
GLOBAL_WORDS = G_WQ_RING + WQ_RING

# Per-subchannel driver words.
D_STATE = 0
D_CP_INIT = 1  # a channel program is initialized (cp->initialized)
D_CP_SLOT = 2
D_CP_GUEST = 3  # guest address of the channel program
D_CP_HOST = 4  # host (arena) address of the translated program
D_CP_LEN = 5
D_CP_GEN = 6
D_WORK_QUEUED = 7
D_REMOVED = 8
D_QUIESCING = 9
D_OPEN_COUNT = 10  # vfio core: open file references
D_HALT_GEN = 11  # cp generation live when the last HSCH/CSCH was accepted (0: none)
D_IRB_VALID = 12  # the private IRB slot holds an IRB not yet taken by the bottom half
D_INFLIGHT = 13  # vfio core: region accesses in progress
D_NOTOPER_WORK = 14  # a deferred cp free after NOT_OPER (E18 notoper_work) is queued
D_IRB_AIM = 15  # D_HALT_GEN when the top half stored the private IRB
D_IO_REGION = 16  # 31 words: 124 bytes
D_CMD_REGION = 48  # 2 words
D_IRB = 52  # 24 words: the private IRB slot (spec D.4 H1)
D_PINNED = 76  # 2 words: frames pinned in each cp slot's frame window
D_CRW_HEAD, D_CRW_TAIL = 80, 81
D_CRW_RING = 82  # 8 CRWs
D_IRBQ_HEAD, D_IRBQ_TAIL = 90, 91  # the reference's queue of IRBs from the top half
D_IRBQ = 96  # IRBQ_LEN entries of IRBQ_ENTRY words: the IRB, then its D_HALT_GEN
IRBQ_LEN, IRBQ_ENTRY = 8, 25
DRV_WORDS = D_IRBQ + IRBQ_LEN * IRBQ_ENTRY

# Primitive slots.
P_WQ, P_WQ_IDLE, P_CHANNEL, P_CRW_LOCK, P_GLOBAL_WRITE = 0, 1, 2, 3, 4
P_GLOBAL = 8
P_PER_SCH = 6
P_IO_MUTEX, P_SCH_LOCK, P_IO_EVENT, P_CRW_EVENT, P_QUIESCE, P_OPEN_LOCK = 0, 1, 2, 3, 4, 5
#: Instructions that start a function the channel then performs (it is kicked).
STARTS = frozenset({Instr.SSCH, Instr.HSCH, Instr.CSCH, Instr.RSCH})


def words_needed(nsch: int, private_words: int = 0) -> int:
    return GLOBAL_WORDS + nsch * (DRV_WORDS + private_words)


def slots_needed(nsch: int, private_locks: int = 0) -> int:
    return P_GLOBAL + nsch * (P_PER_SCH + private_locks)


def arena_size(nsch: int) -> int:
    return nsch * SLOTS_PER_SCH * CP_SLOT


def frames_needed(nsch: int) -> int:
    """Host page frames of a run with ``nsch`` subchannels (a window per cp slot)."""
    return nsch * SLOTS_PER_SCH * FRAMES_PER_CP
