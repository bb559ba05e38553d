"""A non-editable install: the wheel alone carries the code location, its SQL models and its settings."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHIPPED = ["pyproject.toml", "README.md", "shipchips_core", "shipchips_dagster", "shipchips_twin", "dbt_like_sql"]
PROBE = """
import json, shipchips_core, shipchips_dagster
from shipchips_dagster.definitions import defs
graph = defs.resolve_asset_graph()
print(json.dumps({"files": [shipchips_core.__file__, shipchips_dagster.__file__],
                  "sql_assets": sorted(k.to_user_string() for k in graph.get_all_asset_keys()
                                       if graph.get(k).group_name == "sql_models")}))
"""


def _build_wheel(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    for name in SHIPPED:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(REPO / name, src / name)
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(src)],
                   check=True, capture_output=True)
    return next(dist.glob("shipchips-*.whl"))


@pytest.mark.slow
def test_the_installed_wheel_loads_the_definitions_with_every_sql_model(tmp_path):
    wheel = _build_wheel(tmp_path)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    # the dependencies come from this environment's site-packages as a plain path: its editable
    # install of the project is a .pth hook there, which a path entry does not run
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True, capture_output=True)
    run_dir = tmp_path / "elsewhere"
    run_dir.mkdir()
    out = subprocess.run([str(py), "-c", PROBE], cwd=run_dir, capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert out.returncode == 0, out.stderr[-3000:]
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert all(str(site) in f for f in found["files"]), found["files"]  # the wheel's copy, not the repo
    shipped_models = sorted(p.stem for p in (REPO / "dbt_like_sql").glob("*.sql"))
    assert found["sql_assets"] == shipped_models and len(shipped_models) == 3
