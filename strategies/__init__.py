"""Hypothesis strategies for ccwfuzz control blocks (installed as ``ccwfuzz.strategies``)."""
