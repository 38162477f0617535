"""Host page frames (``GuestMemory``): a mapped frame is its guest page, an unmapped one
reads poison and drops writes; the channel reaches data through them."""

from __future__ import annotations

from ccwfuzz.device import ChannelSubsystem, CssConfig
from ccwfuzz.device.memory import UNMAPPED_BYTE


def test_a_mapped_frame_is_its_guest_page_and_an_unmapped_one_is_poison() -> None:
    with ChannelSubsystem.create(1, config=CssConfig(memory_size=0x10000, host_frames=4)) as css:
        mem = css.memory
        f1 = mem.frame_address(1)
        assert mem.frame_of(f1 + 5) == 1 and mem.frame_of(0x100) is None
        mem.write(0x3000, b"guest")
        assert mem.read(f1, 5) == bytes([UNMAPPED_BYTE]) * 5
        mem.write(f1, b"lost")  # goes nowhere
        mem.map_frame(1, 3)
        assert mem.read(f1, 5) == b"guest" and mem.mapped(1) == 3
        page4 = mem.read(0x4000, 1)
        mem.write(f1 + 0xFFF, b"ab")  # straddles into frame 2, still unmapped
        assert mem.read(0x3FFF, 1) == b"a" and mem.read(0x4000, 1) == page4
        assert mem.read(f1 + 0xFFF, 2) == b"a" + bytes([UNMAPPED_BYTE])
        mem.unmap_frame(1)
        assert mem.mapped(1) is None and mem.read(f1, 1) == bytes([UNMAPPED_BYTE])
        assert not mem.valid(mem.frame_address(4), 1)  # past the last frame
