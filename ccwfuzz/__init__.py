"""ccwfuzz: stress and fuzz testing for vfio-ccw-like channel-I/O pass-through designs."""

from __future__ import annotations

__version__ = "0.1.0"
