"""The README's shell-pipeline examples run as written, against a tiny trained run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import TinyRun, make_digits
from PIL import Image

README = Path(__file__).resolve().parent.parent / "README.md"


def pipeline_commands() -> list[str]:
    """The commands in the bash blocks between the pipelines markers."""
    text = README.read_text(encoding="utf-8")
    section = text.split("<!-- pipelines:start -->")[1].split("<!-- pipelines:end -->")[0]
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL):
        joined = block.replace("\\\n", " ")
        commands += [
            line.strip()
            for line in joined.splitlines()
            if line.strip() and not line.strip().startswith("#")
        ]
    return commands


def test_the_readme_has_pipeline_examples() -> None:
    commands = pipeline_commands()
    assert len(commands) >= 5
    assert any(c.startswith("rnncls eval --json |") for c in commands)
    assert any("digits/*.png" in c and "jsonl" in c for c in commands)


@pytest.fixture(scope="module")
def workspace(tiny_run: TinyRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder like a user's: runs/latest, digits/*.png and batch.npy."""
    folder = tmp_path_factory.mktemp("readme")
    (folder / "runs").mkdir()
    os.symlink(tiny_run.run, folder / "runs" / "latest")
    images, _ = make_digits(6, seed=7)
    (folder / "digits").mkdir()
    for index, image in enumerate(images):
        Image.fromarray(image).save(folder / "digits" / f"{index}.png")
    np.save(folder / "batch.npy", images)
    return folder


@pytest.mark.parametrize("command", pipeline_commands())
def test_pipeline_example_runs(command: str, workspace: Path, tiny_run: TinyRun) -> None:
    bin_dir = str(Path(sys.executable).parent)
    if shutil.which("rnncls", path=bin_dir) is None:
        pytest.skip(f"no rnncls console script beside {sys.executable}")
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", "")])
    env["RNNCLS_DATA_DIR"] = str(tiny_run.data)
    result = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip(), f"no output from: {command}"
    assert "error:" not in result.stderr
