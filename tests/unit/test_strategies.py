"""The Hypothesis strategies draw what their docstrings say, and their simplest values
(what Hypothesis shrinks toward) are the plain ones."""

from __future__ import annotations

from ccwfuzz.strategies import hardware_events, idals, ops, programs, schedules
from hypothesis import find, given, settings

from ccwfuzz.program import Policy
from ccwfuzz.program.generate import DATA_BASE, DATA_WINDOW, DATA_WINDOWS, GUEST_TOP

TOP = DATA_BASE + DATA_WINDOWS * DATA_WINDOW


def _words(idal: bytes, width: int) -> list[int]:
    return [int.from_bytes(idal[i : i + width], "big") for i in range(0, len(idal), width)]


def valid_idal(idal: bytes, width: int, block: int) -> bool:
    """Spec A.6: a whole number of IDAWs, each inside guest memory, format-1 ones with
    bit 0 clear, every one after the first on a block boundary."""
    if not idal or len(idal) % width:
        return False
    words = _words(idal, width)
    if width == 4 and any(w >> 31 for w in words):
        return False
    return all(w < GUEST_TOP for w in words) and all(w % block == 0 for w in words[1:])


@settings(max_examples=200, database=None)
@given(idals("valid", width=4, block=2048))
def test_valid_idals_keep_every_rule_format_1(idal):
    assert valid_idal(idal, 4, 2048)
    assert DATA_BASE <= _words(idal, 4)[0] < TOP


@settings(max_examples=200, database=None)
@given(idals("valid", width=8, block=4096))
def test_valid_idals_keep_every_rule_format_2(idal):
    assert valid_idal(idal, 8, 4096)


def test_anything_goes_idals_break_each_rule():
    s = idals("anything", width=4, block=2048)
    cfg = settings(max_examples=2000, database=None)
    assert len(find(s, lambda b: len(b) % 4 != 0, settings=cfg)) % 4
    off = find(s, lambda b: len(b) >= 8 and any(w % 2048 for w in _words(b, 4)[1:]), settings=cfg)
    assert not valid_idal(off, 4, 2048)
    assert any(w >> 31 for w in _words(find(s, lambda b: any(w >> 31 for w in _words(b, 4)),
                                            settings=cfg), 4))  # fmt: skip
    assert any(w >= GUEST_TOP for w in _words(find(s, lambda b: any(
        GUEST_TOP <= w < 2**31 for w in _words(b, 4)), settings=cfg), 4))  # fmt: skip


def test_ops_reach_every_kind_and_shrink_to_a_plain_start():
    kinds = set()

    @settings(max_examples=400, database=None)
    @given(ops("anything", subchannels=2))
    def collect(op):
        kinds.add(op.kind)

    collect()
    assert {"ssch", "write", "hsch", "csch", "wait_irq", "read_io", "remove"} <= kinds
    plain = find(ops("valid"), lambda op: True)
    assert plain.kind == "ssch" and plain.sch == 0 and len(plain.ccws) == 1


def test_the_simplest_schedule_is_pct_of_depth_one():
    s = find(schedules(actors=5), lambda s: True)
    assert s.policy == Policy.PCT and s.changes == () and sorted(s.priorities) == [0, 1, 2, 3, 4]
    walk = find(schedules(actors=5), lambda s: s.policy == Policy.WALK)
    assert len(walk.choices) == 54


def test_hardware_events_stay_on_their_subchannels_and_in_time():
    @settings(max_examples=200, database=None)
    @given(hardware_events(subchannels=2, events=3, steps=100))
    def check(events):
        assert len(events) <= 6  # each drawn one may bring its operational half
        assert all(0 <= e.sch < 2 for e in events)
        timed = [e.at for e in events if e.at]
        # each a step or more after the one before, by at most 100 // 2 (+ 24 for a flap)
        assert timed == sorted(set(timed)) and all(t <= 3 * (1 + 50 + 1 + 24) for t in timed)

    check()


def test_the_simplest_program_is_every_worker_doing_nothing():
    p = find(programs(workers=3, ops=8), lambda p: True)
    assert p.workers == ((), (), ()) and p.channel == () and p.schedule.policy == Policy.PCT
    big = find(programs(workers=2, ops=4), lambda p: all(len(w) >= 4 for w in p.workers))
    assert all(len(w) <= 4 + 2 for w in big.workers)  # ops plus the opens, never more


def test_a_one_idaw_list_can_still_be_hostile():
    one = idals("anything", width=8, block=4096, max_idaws=1)
    bad = find(one, lambda b: len(b) != 8 or _words(b, 8)[0] >= GUEST_TOP,
               settings=settings(max_examples=500, database=None))  # fmt: skip
    assert len(bad) <= 8
