"""The README's shell-pipeline examples run as written, against a tiny trained run."""

from __future__ import annotations

import csv
import io
import json
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

README = Path(__file__).resolve().parents[2] / "README.md"


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


DIGITS, DIGIT_LABELS = make_digits(6, seed=7)


@pytest.fixture(scope="module")
def workspace(band_run: TinyRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder like a user's: runs/latest (the band model, whose answers are known),
    digits/*.png and batch.npy."""
    folder = tmp_path_factory.mktemp("readme")
    (folder / "runs").mkdir()
    os.symlink(band_run.run, folder / "runs" / "latest")
    (folder / "digits").mkdir()
    for index, image in enumerate(DIGITS):
        Image.fromarray(image).save(folder / "digits" / f"{index}.png")
    np.save(folder / "batch.npy", DIGITS)
    return folder


PNGS = [f"digits/{index}.png" for index in range(len(DIGITS))]
LABELS = DIGIT_LABELS.tolist()


def check_accuracy(out: str) -> None:
    assert out == "1.0\n"  # the band model gets every test image right


def check_jsonl_of_pngs(out: str) -> None:
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["source"] for r in records] == PNGS
    assert [r["prediction"] for r in records] == LABELS
    assert all("label" not in r for r in records)


def check_csv_top_2(out: str) -> None:
    rows = list(csv.reader(io.StringIO(out)))
    # files have no label column (their labels are not known)
    assert rows[0] == ["source", "prediction", "probability"] + [
        "class_1", "probability_1", "class_2", "probability_2"
    ]  # fmt: skip
    assert [row[0] for row in rows[1:]] == PNGS  # `find | sort` order
    assert [int(row[1]) for row in rows[1:]] == [int(row[3]) for row in rows[1:]] == LABELS
    assert all(float(row[4]) >= float(row[6]) for row in rows[1:])


def check_jsonl_of_arrays(out: str) -> None:
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["source"] for r in records] == [f"<stdin>[{i}]" for i in range(len(DIGITS))]
    assert [r["prediction"] for r in records] == LABELS


def check_wrong_ones(out: str) -> None:
    assert out == "[]\n"


def check_least_confident(out: str) -> None:
    rows = list(csv.reader(io.StringIO(out)))
    assert len(rows) == 5 and {row[0] for row in rows} < set(PNGS)
    probabilities = [float(row[2]) for row in rows]
    assert probabilities == sorted(probabilities)


# What each README line must print, recognised by a piece of the command.
CHECKS = {
    "rnncls eval --json |": check_accuracy,
    "rnncls predict digits/*.png --format jsonl": check_jsonl_of_pngs,
    "--format csv --top-k 2": check_csv_top_2,
    "cat batch.npy |": check_jsonl_of_arrays,
    'r["prediction"] != r["label"]': check_wrong_ones,
    "sort -t, -k3,3 -g | head -n 5": check_least_confident,
}


def check_for(command: str):
    found = [check for piece, check in CHECKS.items() if piece in command]
    assert len(found) == 1, f"give this README line one check in CHECKS: {command}"
    return found[0]


def test_every_pipeline_example_has_a_check() -> None:
    for command in pipeline_commands():
        check_for(command)


@pytest.mark.parametrize("command", pipeline_commands())
def test_pipeline_example_prints_what_it_says(
    command: str, workspace: Path, band_run: TinyRun
) -> None:
    bin_dir = str(Path(sys.executable).parent)
    if shutil.which("rnncls", path=bin_dir) is None:
        pytest.skip(f"no rnncls console script beside {sys.executable}")
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", "")])
    env["RNNCLS_DATA_DIR"] = str(band_run.data)
    result = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "error:" not in result.stderr
    check_for(command)(result.stdout)


def test_the_key_table_names_every_config_key_in_its_sections_row() -> None:
    """The README's table of config keys cannot fall behind the config: each section
    has one row, and it names each of the section's keys in backticks. (A cell's own
    options are its section, which `rnncls config keys` lists: the README's cells table
    names the cells.)"""
    from rnncls.config_keys import CELL_SECTIONS, keys

    rows = {
        match.group(1): match.group(2)
        for match in re.finditer(r"^\| `\[(\w+)\]` \| (.*) \|$", README.read_text(), re.M)
    }
    expected: dict[str, list[str]] = {}
    for section, key in keys():
        if section not in CELL_SECTIONS:
            expected.setdefault(section, []).append(key)
    assert sorted(rows) == sorted(expected)
    for section, names in expected.items():
        missing = [key for key in names if f"`{key}`" not in rows[section]]
        assert missing == [], f"[{section}] row lacks {missing}"


def test_the_cells_table_names_every_cell() -> None:
    """Each cell of rnncls/cells has a row of the README's cells table, and no row names
    a cell that is not there."""
    from rnncls.cells import CELLS

    text = README.read_text(encoding="utf-8")
    table = text[text.index("### Cells for long sequences") :]
    table = table[: table.index("\n\n", table.index("| `model.cell` |"))]
    rows = re.findall(r"^\| `(\w+)` \|", table, re.M)
    assert sorted(rows) == sorted(CELLS)


def test_the_architecture_page_names_every_module() -> None:
    """docs/ARCHITECTURE.md's tree has a line for each module: a new one must be placed
    there too."""
    package = README.parent / "rnncls"
    page = (README.parent / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    modules = [*package.glob("*.py"), *package.glob("cli/*.py")]
    assert len(modules) > 30
    assert [m.name for m in modules if not re.search(rf"\b{re.escape(m.name)}\b", page)] == []
