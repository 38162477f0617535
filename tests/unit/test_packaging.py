"""Every package of the source tree is installed: ``pyproject.toml`` lists packages
explicitly, and a package missing there works from a checkout but not from a wheel."""

from __future__ import annotations

import pathlib
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_every_package_is_listed_in_pyproject() -> None:
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(cfg["tool"]["setuptools"]["packages"])
    found = {
        ".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "ccwfuzz").rglob("__init__.py")
    }
    assert found - listed == set(), "add to [tool.setuptools] packages in pyproject.toml"
