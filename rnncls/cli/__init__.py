"""The ``rnncls`` command line: each command resolves its config, calls one core function
and shows the result. Results go to stdout, progress and logs to stderr.

One module a command (or group of commands); they are registered here, on the one app, in
the order `rnncls --help` lists them. Nothing in this package imports TensorFlow, numpy
or rich at module level: ``rnncls --help`` stays fast.
"""

from __future__ import annotations

# The submodules themselves, not their functions: a function named like its module (train,
# tune, predict, export) would hide the module behind it (`rnncls.cli.train`).
from rnncls.cli import config, eval, export, predict, runs, sample, serve, train, tune
from rnncls.cli.main import app, run

app.command()(train.train)
app.command()(tune.tune)
app.command("eval")(eval.eval_command)
app.command()(predict.predict)
app.command("show-sample")(sample.show_sample)
app.command()(export.export)
app.command()(serve.serve)
app.add_typer(config.config_app, name="config")
app.add_typer(runs.runs_app, name="runs")

__all__ = ["app", "run"]
