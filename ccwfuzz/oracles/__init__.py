"""Oracles: pure functions of a run history (DESIGN section 5)."""
