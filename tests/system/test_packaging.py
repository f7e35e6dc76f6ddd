"""The wheel is what users install: it must carry the default config, the drawing page and
the entry point."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheel_ships_default_config_and_console_script(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("rnncls-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        packaged = archive.read("rnncls/default.toml")
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        assert "rnncls = rnncls.cli:run" in archive.read(entry_points).decode()
        assert "rnncls/cli/__init__.py" in names  # the console script's package, not only rnncls
        for page_file in ("index.html", "draw.js", "draw.css", "openapi.json"):  # rnncls serve
            assert (
                archive.read(f"rnncls/web/{page_file}")
                == (REPO / "rnncls/web" / page_file).read_bytes()
            )
    assert packaged == (REPO / "configs" / "default.toml").read_bytes()
    assert not [n for n in names if n.startswith(("tests/", "configs/", "runs/"))]
