"""Start-up stays cheap: commands that do not train or evaluate with Keras never import
TensorFlow (about 3 s and 0.6 GB on its own). Checked in a fresh process per command."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("tensorflow", "keras", "torch", "tf2onnx")

# Runs the command in-process, then reports its exit code and the heavy modules loaded
# (the exit code too: a command that printed its result and then failed is no success).
PROBE = """
import json, sys
from rnncls.cli import app
code = 0
try:
    app(sys.argv[1:], prog_name="rnncls")
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
heavy = sorted(m for m in {heavy} if m in sys.modules)
sys.stderr.write(json.dumps({{"exit": code, "heavy": heavy}}) + "\\n")
"""


@pytest.mark.parametrize(
    "arguments",
    [["--help"], ["--version"], ["train", "--help"], ["config", "show"], ["config", "--help"]],
    ids=" ".join,
)
def test_command_does_not_import_heavy_libraries(arguments, tmp_path):
    code = PROBE.format(heavy=repr(HEAVY))
    result = subprocess.run(
        [sys.executable, "-c", code, *arguments],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip(), "the command printed nothing"
    assert json.loads(result.stderr.strip().splitlines()[-1]) == {"exit": 0, "heavy": []}
