"""What each actor process does in a run: workers (userspace, like QEMU), the channel
(hardware and the interrupt top half) and the work queue (the bottom half)."""

from __future__ import annotations

import dataclasses
import struct

from ccwfuzz.arch import ccw as C
from ccwfuzz.arch import orb as O
from ccwfuzz.arch import scsw as S
from ccwfuzz.device import ChannelSubsystem
from ccwfuzz.driver import contract as K
from ccwfuzz.driver.contract import Driver
from ccwfuzz.driver.kernel import Kernel
from ccwfuzz.exec.passthrough import GUEST_TOP, DmaCheck, Expectations, expect, page_mask
from ccwfuzz.program.ops import Csch, Hsch, HwEvent, Op, Read, Ssch, WaitIrq, Write, Yield
from ccwfuzz.sync import Context
from ccwfuzz.sync.history import Ev, Instr, irb_hash

GUEST_PROGRAMS = 0x1000
GUEST_SLOT = 0x100
GUEST_SLOTS = 240


@dataclasses.dataclass
class Env:
    css: ChannelSubsystem
    kernel: Kernel
    driver: Driver
    slots: Expectations


def guest_cc(ret: int, size: int) -> int:
    """QEMU's mapping of a region write's result to a guest condition code (spec B.1
    "Passthrough"): success 0, -EBUSY 2, -ENODEV/-EACCES 3, anything else cc 0 with an
    emulated unit-exception status."""
    if ret == size:
        return 0
    if ret == -K.EBUSY:
        return 2
    if ret in (-K.ENODEV, -K.EACCES):
        return 3
    return 0


def _write_retrying(ctx: Context, env: Env, sch: int, retry: bool, offset: int,
                    data: bytes) -> int:  # fmt: skip
    ret = env.driver.region_write(ctx, sch, offset, data)
    tries = 0
    while ret == -K.EAGAIN and retry and tries < 64:
        backoff(ctx)
        tries += 1
        ret = env.driver.region_write(ctx, sch, offset, data)
    return ret


def backoff(ctx: Context) -> None:
    """Let others run before retrying (QEMU's retry loop on -EAGAIN)."""
    ctx.backoff(lambda: True)


def do_op(ctx: Context, env: Env, me: int, index: int, op: Op) -> int:
    """Run one worker op; returns its result (a return code or a length)."""
    drv, sch = env.driver, op.sch
    name = op.kind
    if isinstance(op, Ssch):
        fmt1 = bool(op.ctrl & O.F)
        addr = op.at or GUEST_PROGRAMS + ((me * 20 + index) % GUEST_SLOTS) * GUEST_SLOT
        raw = b"".join(
            C.Ccw1(c.cmd, c.flags, c.count, c.addr).to_bytes() if fmt1
            else C.Ccw0(c.cmd, c.addr & 0xFFFFFF, c.flags, 0, c.count).to_bytes()
            for c in op.ccws
        ) + op.idal  # fmt: skip
        raw = raw[: max(0, GUEST_TOP - addr)]  # the guest cannot store past its memory
        if raw:
            env.css.memory.write(addr, raw)
        orb = struct.pack(">III", op.intparm, op.ctrl, (addr + op.cpa) & 0xFFFFFFFF)
        tag = me << 16 | index & 0xFFFF
        expect(ctx, env.kernel, env.slots, me, sch, tag, op.ctrl, orb)
        region = orb + struct.pack(">III", S.FC_START, 0, 0) + bytes(96) + bytes(4)
        ret = _write_retrying(ctx, env, sch, op.retry, 0, region)
        if ret != len(region):
            env.slots.disarm(me, sch)
        ctx.record(Ev.GUEST_CC, Instr.SSCH, sch, guest_cc(ret, len(region)), ret,
                   page_mask(addr, len(raw)))  # fmt: skip
        return ret
    if isinstance(op, (Hsch, Csch)):
        cmd = K.ASYNC_CMD_CSCH if isinstance(op, Csch) else K.ASYNC_CMD_HSCH
        ret = _write_retrying(ctx, env, sch, op.retry, K.ASYNC_REGION << K.REGION_SHIFT,
                              struct.pack(">II", cmd, 0))  # fmt: skip
        instr = Instr.CSCH if isinstance(op, Csch) else Instr.HSCH
        ctx.record(Ev.GUEST_CC, instr, sch, guest_cc(ret, 8), ret)
        return ret
    if isinstance(op, WaitIrq):
        ev = env.kernel.io_event[sch]
        if not ev.wait(ctx):
            return 0
        ev.read(ctx)
        return observed(ctx, sch, 0, drv.region_read(ctx, sch, 0, K.IO_REGION_SIZE))
    reads = {"read_io": (K.IO_REGION, K.IO_REGION_SIZE),
             "read_async": (K.ASYNC_REGION, K.ASYNC_REGION_SIZE),
             "read_schib": (K.SCHIB_REGION, K.SCHIB_REGION_SIZE),
             "read_crw": (K.CRW_REGION, K.CRW_REGION_SIZE)}  # fmt: skip
    if name in reads:
        index_, size = reads[name]
        offset = index_ << K.REGION_SHIFT
        return observed(ctx, sch, offset, drv.region_read(ctx, sch, offset, size))
    if isinstance(op, Read):
        return observed(ctx, sch, op.offset, drv.region_read(ctx, sch, op.offset, op.n))
    if isinstance(op, Write):
        return drv.region_write(ctx, sch, op.offset, op.data)
    if isinstance(op, Yield):
        for _ in range(op.n):
            ctx.point()
        return op.n
    return int(getattr(drv, name)(ctx, sch))


def observed(ctx: Context, sch: int, offset: int, got: bytes | int) -> int:
    """Record what userspace received from a region read (the whole ``irb_area`` of
    the I/O region, or the SCHIB), so the oracles judge what crossed the boundary
    rather than what the driver says it did; returns the op's result."""
    if isinstance(got, int):
        if offset == K.SCHIB_REGION << K.REGION_SHIFT:
            ctx.record(Ev.SCHIB_READ, sch, 0, 0, got)
        return got
    start = K.IRB_AREA - offset
    if offset <= K.IRB_AREA and start + 96 <= len(got):
        irb = got[start : start + 96]
        w0, cpa = struct.unpack_from(">II", irb)
        ctx.record(Ev.IRB_READ, sch, irb_hash(irb), w0, cpa)
    elif offset == K.SCHIB_REGION << K.REGION_SHIFT and len(got) >= 40:
        ctx.record(Ev.SCHIB_READ, sch, struct.unpack_from(">I", got, 4)[0],
                   struct.unpack_from(">I", got, 28)[0], len(got))  # fmt: skip
    return len(got)


def worker_body(ctx: Context, env: Env, ops: tuple[Op, ...]) -> None:
    me = ctx.id
    for index, op in enumerate(ops):
        code = op.code
        ctx.set_op(code, op.sch)
        ctx.record(Ev.OP_BEGIN, code, op.sch, index)
        result = do_op(ctx, env, me, index, op)
        ctx.record(Ev.OP_END, code, op.sch, index, result)
        ctx.set_op(0, 0)


def fire(ctx: Context, env: Env, ev: HwEvent) -> None:
    with ctx.atomic():
        _fire(ctx, env, ev)
    if ev.event in ("not_operational", "operational"):
        env.driver.sch_event(ctx, ev.sch)  # the machine check that reports it


def _fire(ctx: Context, env: Env, ev: HwEvent) -> None:
    e = env.css.events
    result = 1
    if ev.event == "attention":
        result = int(e.attention(ev.sch))
    elif ev.event == "busy":
        e.device_busy(ev.sch)
    elif ev.event == "paths_offline":
        e.paths_offline(ev.sch, ev.mask)
    elif ev.event == "paths_online":
        e.paths_online(ev.sch, ev.mask)
    elif ev.event == "late_de":
        e.late_device_end(ev.sch)
    elif ev.event == "not_operational":
        e.not_operational(ev.sch)
    elif ev.event == "operational":
        e.operational(ev.sch)
    ctx.record(Ev.HW_EVENT, ev.code, ev.sch, result)


def channel_body(ctx: Context, env: Env, events: tuple[HwEvent, ...]) -> None:
    """The hardware: fire due events, deliver interruptions through the driver's top
    half, step the channel; idle when there is nothing to do."""
    css, drv, k = env.css, env.driver, env.kernel
    css.channel.on_poison = lambda sch, addr: ctx.record(Ev.POISON_READ, sch, addr)
    css.channel.on_access = DmaCheck(ctx, k)
    ei = iters = 0
    while True:
        ctx.point()
        iters += 1
        if ei < len(events) and _due(ctx, events[ei], iters):
            fire(ctx, env, events[ei])
            ei, iters = ei + 1, 0
            continue
        with ctx.atomic():
            hit = css.tpi()
        if hit is not None:
            drv.irq(ctx, hit[0] & 0xFFFF)
            continue
        with ctx.atomic():
            stepped = css.channel.step()
        if stepped is not None:
            continue
        if ei < len(events) and not events[ei].at:  # nothing else to do: fire it now
            fire(ctx, env, events[ei])
            ei, iters = ei + 1, 0
            continue
        if ctx.stopping():
            return
        if ei < len(events):
            ctx.due_at(events[ei].at)  # idle, but be back at the event's step
        k.channel_waitq.idle(ctx)
        ctx.due_at(0)


def _due(ctx: Context, ev: HwEvent, iters: int) -> bool:
    """An event is due after its channel iterations, or at its scheduling step."""
    return ctx.steps() >= ev.at if ev.at else iters > ev.after


def workqueue_body(ctx: Context, env: Env, part: object) -> None:
    """The single-threaded work queue running the driver's bottom halves."""
    k, drv = env.kernel, env.driver
    while True:
        ctx.point()
        sch = k.next_work(ctx)
        if sch is None:
            # Free mode: wind down only once the channel (the actor before this one)
            # has, so the last interruption's work is done: the run ends quiet. Look
            # once more after seeing it done: it may have queued work just before.
            if ctx.stopping() and ctx.done(ctx.id - 1):
                sch = k.next_work(ctx)
                if sch is None:
                    return
            else:
                k.wq_waitq.idle(ctx)
                continue
        drv.todo(ctx, sch)
        k.work_done(ctx)
