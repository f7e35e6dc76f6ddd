"""Mutation testing of the modules that import no TensorFlow; `make mutate` runs it.

mutmut (configured in pyproject.toml, ``[tool.mutmut]``) changes one thing at a time in
config, config_keys, the data sets, images, evaluate, predict, runs, runlist, plots and space, and
runs the fast tests of those modules against each change. A change that no test notices
survives. This script runs mutmut with TensorFlow switched off (a test that needs it
fails at once), then lists each survivor that ``tests/MUTANTS.md`` does not explain (and
each line there that no survivor needs any more), and ends with one line:

    mutation score P% (K killed of N)

K counts the mutants the tests caught (failed or timed out); N all the mutants made.
The exit status is 1 when a survivor is left unexplained, 0 otherwise.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"
EXPLAINED = ROOT / "tests" / "MUTANTS.md"
NO_TENSORFLOW = ROOT / "tools" / "no_tensorflow"

# mutmut's exit codes of a mutant's test run (mutmut/stats.py)
KILLED = {1, 3}
TIMEOUT = {36, -24, 24, 152, 255}


def run_mutmut(workers: int) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(NO_TENSORFLOW), env.get("PYTHONPATH")]))
    env.setdefault("MPLBACKEND", "Agg")
    mutmut = Path(sys.executable).with_name("mutmut")
    command = [str(mutmut), "run", "--max-children", str(workers)]
    finished = subprocess.run(command, cwd=ROOT, env=env)
    if finished.returncode != 0:
        sys.exit(f"error: mutmut run failed (exit {finished.returncode}); see its output above")


def results() -> dict[str, int | None]:
    """Mutant name -> the exit code of its test run (None: not run)."""
    found: dict[str, int | None] = {}
    for meta in sorted(MUTANTS.rglob("*.py.meta")):
        found.update(json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"])
    return found


def explained_names() -> set[str]:
    """The mutant names that tests/MUTANTS.md explains (written in backquotes)."""
    if not EXPLAINED.is_file():
        return set()
    return set(re.findall(r"`(rnncls\.[\w.]+__mutmut_\d+)`", EXPLAINED.read_text()))


def main() -> int:
    workers = int(os.environ.get("MUTATE_WORKERS", os.cpu_count() or 2))
    if "--keep" not in sys.argv:
        shutil.rmtree(MUTANTS, ignore_errors=True)  # results of older code mislead
    run_mutmut(workers)
    found = results()
    caught = [name for name, code in found.items() if code in KILLED | TIMEOUT]
    survivors = sorted(set(found) - set(caught))
    explained = explained_names()
    unexplained = [name for name in survivors if name not in explained]
    for name in unexplained:
        print(f"survived, not in tests/MUTANTS.md: {name} (mutmut show {name})")
    # A function changed since its mutants were explained renumbers them, and a mutant a
    # new test kills needs no reason: either way its line in MUTANTS.md is out of date.
    for name in sorted(explained - set(survivors)):
        print(f"note: tests/MUTANTS.md explains {name}, which is no survivor now")
    if not found:
        print("error: mutmut made no mutants", file=sys.stderr)
        return 1
    score = 100 * len(caught) / len(found)
    print(f"mutation score {score:.1f}% ({len(caught)} killed of {len(found)})")
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
