"""The campaign's settings resolution and its findings store (no processes but the
concurrent-writer check)."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from ccwfuzz.campaign.settings import SETTINGS, resolve
from ccwfuzz.campaign.store import Store

KEY = ("driver.retcode", "ssch in IDLE", "zoo:x")


def test_command_line_over_environment_over_profile() -> None:
    env = {"CCWFUZZ_TIME": "10m", "CCWFUZZ_JOBS": "2", "CCWFUZZ_PROFILE": "ci"}
    s = resolve(None, {"jobs": 1, "seed": None}, env)
    assert s.profile == "ci"
    assert (s.time, s.sources["time"]) == (600.0, "env CCWFUZZ_TIME")
    assert (s.jobs, s.sources["jobs"]) == (1, "command line")
    assert s.sources["seed"] == "profile ci" and s.minimize_time == 60.0
    assert set(s.values) == {x.name for x in SETTINGS}
    assert resolve("nightly", {}, env).profile == "nightly"  # the flag over CCWFUZZ_PROFILE
    assert resolve(None, {}, {}).sources["time"] == "profile dev"


@pytest.mark.parametrize(
    ("env", "says"),
    [({"CCWFUZZ_TIME": "soon"}, "CCWFUZZ_TIME='soon': not a duration"),
     ({"CCWFUZZ_JOBS": "0"}, "CCWFUZZ_JOBS='0': 0 is not in 1..256"),
     ({"CCWFUZZ_STRESS_SHARE": "1.5"}, "CCWFUZZ_STRESS_SHARE='1.5'"),
     ({"CCWFUZZ_PROFILE": "weekly"}, "profile 'weekly' (from env CCWFUZZ_PROFILE)")],
)  # fmt: skip
def test_a_bad_environment_value_is_named(env: dict[str, str], says: str) -> None:
    with pytest.raises(ValueError, match="^" + says.replace("(", r"\(").replace(")", r"\)")):
        resolve(None, {}, env)


def test_new_again_known_across_campaigns(tmp_path: Path) -> None:
    with Store(tmp_path / "f.db") as st:
        one = st.begin("night", {})
        assert st.sighting(one, KEY, "controlled", "a.json") == "new"
        assert st.sighting(one, KEY, "free", "b.json") == "again"
        st.end(one, 1)
    with Store(tmp_path / "f.db") as st:  # the next night, a new process
        two = st.begin("night", {})
        assert st.sighting(two, KEY, "free") == "known"
        (row,) = st.findings()
        assert row.count == 3 and row.program == "a.json" and row.mode == "controlled"
        assert row.new_in(one) and not row.new_in(two) and row.last_campaign == two
        assert st.campaign(one)["exit_code"] == 1 and st.campaign(two)["ended"] is None


def test_a_failed_write_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    with Store(tmp_path / "f.db") as st:
        c = st.begin("n", {})
        st.sighting(c, KEY, "controlled")
        with pytest.raises(RuntimeError), st.tx() as db:
            db.execute("UPDATE findings SET count=99")
            raise RuntimeError("killed mid-write")
        assert st.findings()[0].count == 1
        assert st.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_store_of_another_schema_is_refused(tmp_path: Path) -> None:
    Store(tmp_path / "f.db").close()
    db = sqlite3.connect(tmp_path / "f.db")
    db.execute("UPDATE meta SET value='99' WHERE name='schema'")
    db.commit()
    db.close()
    with pytest.raises(ValueError, match="has schema 99"):
        Store(tmp_path / "f.db")


def _writer(path: str, n: int, k: int) -> None:
    with Store(Path(path)) as st:
        c = st.begin(f"w{k}", {})
        for i in range(n):
            st.sighting(c, (KEY[0], f"where {i % 5}", KEY[2]), "free")


def test_concurrent_writers_lose_no_sighting(tmp_path: Path) -> None:
    path = str(tmp_path / "f.db")
    Store(Path(path)).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, 40, k)) for k in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    with Store(Path(path)) as st:
        rows = st.findings()
        assert len(rows) == 5 and sum(r.count for r in rows) == 120
