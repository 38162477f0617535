"""The coverage bridge: the actors' features, replayed as coverage libFuzzer can see.

libFuzzer only counts coverage of the process it runs in, and atheris keeps those
counters private (DESIGN section 6). The bridge makes one tiny function per feature id
and has atheris instrument each (public :func:`atheris.instrument_func`), so each has
its own counter; after a run the parent calls the function of every feature the
actors recorded. libFuzzer then sees "new coverage" exactly when the actors did
something new, and keeps the input. Measured here: ~0.15 us per feature (a run of the
standard program records ~450), and ~1.5 s to build the 16,384 functions at start-up.

Nothing else of the parent is instrumented: parsing, judging and saving would only add
noise coverage (and cost) unrelated to what the driver did.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ccwfuzz.coverage import FEATURES


def _leaf() -> Callable[[], None]:
    def feature() -> None:
        return None

    return feature


class Bridge:
    """Feeds feature ids to libFuzzer; build it before ``atheris.Setup``."""

    def __init__(self, size: int = FEATURES) -> None:
        import atheris

        funcs = []
        for _ in range(size):
            f = _leaf()
            atheris.instrument_func(f)  # a fresh counter per function object
            funcs.append(f)
        self._funcs = funcs

    def __call__(self, ids: Sequence[int]) -> None:
        funcs = self._funcs
        for i in ids:
            funcs[i]()
