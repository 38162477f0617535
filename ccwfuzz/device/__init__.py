"""The simulated channel subsystem in shared memory (the "hardware")."""

from __future__ import annotations

from ccwfuzz.device.channel import Channel
from ccwfuzz.device.core import CssConfig, LayoutError
from ccwfuzz.device.css import ChannelSubsystem, segment_size
from ccwfuzz.device.devices import DeviceSpec
from ccwfuzz.device.events import Events
from ccwfuzz.device.memory import GuestAddressError, GuestMemory
from ccwfuzz.device.segment import Segment, list_segments, sweep_stale

__all__ = [
    "Channel",
    "ChannelSubsystem",
    "CssConfig",
    "DeviceSpec",
    "Events",
    "GuestAddressError",
    "GuestMemory",
    "LayoutError",
    "Segment",
    "list_segments",
    "segment_size",
    "sweep_stale",
]
