"""Fixed word offsets of the channel-subsystem segment.

The segment is an array of native 32-bit words (header, then one record per subchannel),
followed by the guest-memory arena and the device-storage arena as plain bytes. Control
blocks are kept as their architectural *words* (PMCW words 0-6, SCSW words 0-2, ...), so
STSCH/TSCH are a big-endian pack of a slice and every process attached to the segment
sees the same subchannel state. Offsets never move within a layout version.

Spare words in each record (``SCH_DRIVER``) are reserved for the driver layer.
"""

from __future__ import annotations

MAGIC = 0x46574343  # "CCWF"
VERSION = 1
NIL = 0xFFFFFFFF

# ---- header words ----------------------------------------------------------------
H_MAGIC = 0
H_VERSION = 1
H_NSCH = 2
H_MEM_OFFSET = 3
H_MEM_SIZE = 4
H_DEV_OFFSET = 5
H_DEV_BLOCK = 6
H_OWNER_PID = 7
H_FLAGS = 8
H_PMCW_MASK = 9
H_STAMP = 10  # interruption sequence counter
H_IRQ_HEAD = 11
H_IRQ_TAIL = 12
H_IRQ_COUNT = 13
H_WORK_HEAD = 14
H_WORK_TAIL = 15
H_WORK_COUNT = 16
H_FRAMES_BASE = 17  # address of the first host page frame (IOMMU window)
H_FRAMES = 18  # number of host page frames
H_FRAME_TABLE = 19  # byte offset of the frame table (one word per frame)
HEADER_WORDS = 32

FRAME = 4096  # a host page frame

# Header flag bits (configuration, spec G choices).
F_NO_PATH_IMMEDIATE_CC3 = 0x1  # spec G.5: HERC immediate cc 3 instead of deferred cc 3

# ---- per-subchannel record ---------------------------------------------------------
PMCW = 0  # 7 words
SCSW = 7  # 3 words
MBA = 10  # 2 words (high, low)
MDA = 12
ESW = 13  # 5 words
ECW = 18  # 8 words, bytes in architectural order (byte access only)
ORB = 26  # 8 words: the ORB saved at SSCH
CH_CCW = 34  # address of the CCW being (or to be) executed
CH_FLAGS = 35
CH_CMD = 36  # command code carried through data chaining
CH_TICS = 37  # TICs executed in this channel program
CH_NODATA = 38  # CCWs without data transfer in this channel program
CH_RECORD = 39  # offset within the device record (data chaining)
IRQ_PREV = 40
IRQ_NEXT = 41
IRQ_QUEUED = 42
WORK_PREV = 43
WORK_NEXT = 44
WORK_QUEUED = 45
IRQ_STAMP = 46
DEV_TYPE = 47
DEV_CURSOR = 48
DEV_FLAGS = 49
DEV_BUSY = 50  # pending device-busy answers (deferred cc 1) to give
DEV_SENSE = 51  # 8 words = 32 sense bytes, architectural order (byte access only)
DEV_ID0 = 59  # control-unit type << 16 | control-unit model << 8
DEV_ID1 = 60  # device type << 16 | device model << 8
CH_LAST_END = 61  # address after the last CCW fetched (the CPA a halt reports)
SCH_DRIVER = 64  # words 64..127 belong to the driver layer
SCH_WORDS = 128

# Channel flags (CH_FLAGS).
CHF_DATA_CHAIN = 0x01  # the previous CCW had CD: the next CCW continues its command
CHF_AFTER_TIC = 0x02  # the previous CCW was a TIC
CHF_STARTED = 0x04  # the device accepted the first command (for ORB I, spec C.3)
CHF_LATE_DE = 0x08  # present device end separately, after channel end (armed)
CHF_DE_OWED = 0x10  # channel end presented, device end still to come
CHF_PCI_SEEN = 0x20  # a PCI was raised and must be ORed into later status (spec G.8)

# Device types.
DEV_NONE = 0
DEV_STORAGE = 1

SENSE_BYTES = 32


def sch_base(index: int) -> int:
    """Word index of subchannel ``index``'s record."""
    return HEADER_WORDS + index * SCH_WORDS


def words_size(nsch: int) -> int:
    """Bytes taken by the header and the subchannel records."""
    return 4 * (HEADER_WORDS + nsch * SCH_WORDS)
