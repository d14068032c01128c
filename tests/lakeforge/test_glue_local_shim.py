"""The awsglue runtime is on sys.path only where the real awsglue is not importable, and the
wheel installs no top-level awsglue package. No Spark."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from lakeforge.glue_local.shim_path import (
    SHIM_DIR,
    activate_shim,
    deactivate_shim,
    real_awsglue_importable,
    shim_activated,
    shim_is_active,
)

REPO = Path(__file__).resolve().parents[2]


def test_shim_activates_and_is_removed_after_the_block() -> None:
    assert not shim_is_active()
    with shim_activated() as activated:
        assert activated
        import awsglue

        assert str(awsglue.__file__).startswith(SHIM_DIR)
    assert SHIM_DIR not in sys.path
    assert "awsglue" not in sys.modules


def test_real_awsglue_is_never_shadowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = tmp_path / "awsglue"
    real.mkdir()
    (real / "__init__.py").write_text("REAL = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert real_awsglue_importable()
        assert activate_shim() is False
        assert SHIM_DIR not in sys.path
        import awsglue

        assert awsglue.REAL is True
    finally:
        sys.modules.pop("awsglue", None)
        deactivate_shim()


def test_the_wheel_has_no_top_level_awsglue_package() -> None:
    """The packages setup.py installs: awsglue only inside lakeforge.glue_local.shim."""
    import ast

    from setuptools import find_packages

    tree = ast.parse((REPO / "setup.py").read_text())
    call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call)
                and getattr(n.func, "id", "") == "find_packages")
    include = ast.literal_eval(next(k.value for k in call.keywords if k.arg == "include"))
    packages = find_packages(where=str(REPO), include=include)
    assert "lakeforge.glue_local.shim.awsglue" in packages
    assert not [p for p in packages if p.split(".")[0] == "awsglue"]


def test_plugin_entry_point_is_declared() -> None:
    text = (REPO / "setup.py").read_text()
    assert '"pytest11": ["lakeforge_glue = lakeforge.glue_local.pytest_plugin"]' in text
