"""Nightly campaigns (DESIGN sections 7-8): phases per target under one parent, the
findings store across nights, the report. See :mod:`ccwfuzz.campaign.run`."""

from __future__ import annotations

from ccwfuzz.campaign.run import EXIT_FAILED, EXIT_NEW, EXIT_OK, Campaign
from ccwfuzz.campaign.settings import PROFILES, SETTINGS, Settings, resolve
from ccwfuzz.campaign.store import Store

__all__ = ["EXIT_FAILED", "EXIT_NEW", "EXIT_OK", "PROFILES", "SETTINGS", "Campaign",
           "Settings", "Store", "resolve"]  # fmt: skip
