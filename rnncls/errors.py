"""Every failure a user can act on, and every stop a user asked for, in one module; the
command line's one table (rnncls/cli/errors.py) maps them to a line and an exit code.

Defined here, importing nothing of the package, so that the command line can name them
without loading numpy: `rnncls --help` starts before any of the modules that raise them.
"""

from __future__ import annotations

from os import PathLike


class ConfigError(ValueError):
    """A configuration problem the user can fix; the CLI exits 2 on it."""


class DataError(RuntimeError):
    """A data set that is missing or damaged; the CLI exits 1 on it."""


class InputError(DataError):
    """An input file or array that cannot be read as digits; the CLI exits 1 on it."""


class RunError(RuntimeError):
    """A run directory that is missing, damaged or must not be touched; exit 1."""


class ClusterError(RunError):
    """A worker of the cluster stopped or cannot be reached; training cannot go on."""


class Diverged(RunError):
    """The training loss turned NaN or infinite: the weights from then on are lost, so
    training stops before it writes them (exit 1); the run keeps its last checkpoint."""

    def __init__(self, first_step: int, last_step: int, loss: float, detail: str = "") -> None:
        steps = (
            f"steps {first_step} to {last_step}" if first_step < last_step else f"step {last_step}"
        )
        super().__init__(f"training diverged: the loss became {loss} in {steps}{detail}")
        self.first_step, self.last_step, self.loss = first_step, last_step, loss


class Stopped(RunError):
    """A run or search the user stopped (Ctrl-C, SIGTERM): no error, so the CLI shows the
    message alone, without ``error:``, but not finished either (exit 1)."""


class TrainingInterrupted(Stopped):
    """SIGINT or SIGTERM stopped training after a checkpoint was saved (the CLI exits 1:
    the run is not finished; ``--resume`` continues it to the same weights)."""

    def __init__(
        self,
        run_dir: str | PathLike[str] | None,
        step: int | None,
        signal_name: str,
        at_once: bool = False,
    ) -> None:
        resume = f"continue with `rnncls train --run-dir {run_dir} --resume`"
        if at_once:
            kept = f"the last checkpoint is step {step}" if step else "no checkpoint yet"
            message = f"stopped at once ({signal_name}); {kept}; {resume}"
        else:
            message = f"stopped at step {step} ({signal_name}) with a checkpoint saved; {resume}"
        super().__init__(message)
        self.step = step
        self.signal_name = signal_name


class TuneStopped(Stopped):
    """Ctrl-C or SIGTERM stopped a worker; its trial is recorded as failed (exit 1)."""
