"""The API's jobs refuse bad input with one-line ValueErrors before they start or
write anything."""

from __future__ import annotations

import pytest

import ccwfuzz


@pytest.mark.parametrize(
    ("call", "says"),
    [
        (lambda d: ccwfuzz.run_campaign(out=d, bogus=1), "unknown setting 'bogus'"),
        (lambda d: ccwfuzz.run_campaign(out=d, jobs=0), "jobs=0"),
        (lambda d: ccwfuzz.run_campaign(out=d, time="soon"), "time='soon'"),
        (lambda d: ccwfuzz.run_campaign("nowhere:Nothing", out=d), "nowhere"),
        (lambda d: ccwfuzz.fuzz("nowhere:Nothing", out=d), "nowhere"),
    ],
)
def test_bad_input_is_one_line_and_leaves_nothing(tmp_path, call, says):
    out = tmp_path / "out"
    with pytest.raises(ValueError) as e:
        call(out)
    assert says in str(e.value) and "\n" not in str(e.value)
    assert not out.exists()
