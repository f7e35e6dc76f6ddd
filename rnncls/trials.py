"""The trials of a search: one trial's run (:class:`Objective`, as Optuna calls it), its
record (:class:`TrialRecord`, written as ``trial.json`` in its run directory, here and
only here), and the trials of workers that died before they could record theirs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rnncls import rundir
from rnncls.datasets import DataSource
from rnncls.errors import ConfigError, Diverged, RunError
from rnncls.reporters import Reporter, SearchReporter
from rnncls.space import Space

TRIAL_PREFIX = "trial-"
SURPLUS_ATTR = "rnncls_surplus"


class SurplusTrial(Exception):
    """A trial started when the study already had its trials running or done."""


@dataclass(frozen=True)
class TrialRecord:
    """A finished trial as the worker that ran it reports it (a JSON line, a table row,
    and ``trial.json`` in its run directory)."""

    number: int
    state: str  # "complete", "pruned" or "failed"
    value: float | None
    step: int | None  # the last evaluated step
    params: dict[str, Any]
    seconds: float
    run_dir: str
    retry_of: int | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"event": "trial", **asdict(self)}


def _is_surplus(study: Any, number: int, trials: int) -> bool:
    """Whether ``number`` comes after the first ``trials`` trials that did not fail."""
    from optuna.trial import TrialState

    live = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)
    ahead = [t for t in study.get_trials(deepcopy=False, states=live) if t.number < number]
    return len(ahead) >= trials


class TrialReporter(Reporter):
    """One trial's training, told through the search's reporter with the trial's number;
    each evaluation goes to ``on_evaluation`` (which reports it to Optuna and may prune)."""

    def __init__(
        self, search: SearchReporter, number: int, on_evaluation: Callable[[Any], None]
    ) -> None:
        self.search, self.number, self.on_evaluation = search, number, on_evaluation

    def status(self, message: str) -> None:
        self.search.status(f"trial {self.number}: {message}")

    def progress(self, done: Any) -> None:
        self.search.progress(self.number, done)

    def evaluation(self, event: Any) -> None:
        self.on_evaluation(event)


@dataclass
class Objective:
    """One trial of the study, as Optuna calls it: the trial's config trained into
    ``runs/<study>/trial-N``, reported at each evaluation (where the pruner may stop it),
    recorded in ``trial.json``; the worker's failures in a row are counted here."""

    space: Space
    source: DataSource
    study: Any
    study_name: str
    study_dir: Path
    trials: int
    reporter: SearchReporter
    failures_in_a_row: int = 0
    last_failure: str = ""
    ran_trials: int = 0

    def __call__(self, trial: Any) -> float:
        import optuna
        from optuna.storages import RetryHeartbeatStaleTrialCallback

        from rnncls.errors import TrainingInterrupted
        from rnncls.train import train

        if _is_surplus(self.study, trial.number, self.trials):
            trial.set_user_attr(SURPLUS_ATTR, True)
            raise SurplusTrial
        run_dir = self.study_dir / f"{TRIAL_PREFIX}{trial.number}"
        trial.set_user_attr("run_dir", str(run_dir))
        retry_of = _retried(self.study, trial.number, RetryHeartbeatStaleTrialCallback)
        params = self.space.suggest(trial)
        started = time.monotonic()
        last_step: list[int] = []

        evaluations: list[int] = []  # their steps, a dead trial's taken over included

        def report(event: Any) -> None:
            last_step[:] = [event.step]
            evaluations.append(event.step)
            trial.report(event.eval_accuracy, event.step)
            self.reporter.evaluation(trial.number, event)
            # The warm-up: the first evaluations of a trial are never pruned.
            if len(evaluations) > self.space.warmup and trial.should_prune():
                raise optuna.TrialPruned(
                    f"pruned at step {event.step} (validation accuracy {event.eval_accuracy:.4f})"
                )

        def finished(state: str, value: float | None, error: str | None = None) -> None:
            record = TrialRecord(
                number=trial.number,
                state=state,
                value=value,
                step=last_step[0] if last_step else None,
                params=params,
                seconds=round(time.monotonic() - started, 3),
                run_dir=str(run_dir),
                retry_of=retry_of,
                error=error,
            )
            self.record(record, run_dir)

        earlier = take_over(self.study, retry_of, run_dir) if retry_of is not None else None
        if retry_of is not None:
            where = f"from its checkpoint at step {earlier.step}" if earlier else "from step 0"
            self.reporter.status(
                f"trial {trial.number}: trial {retry_of} again {where} (its worker stopped beating)"
            )
        for record in earlier.evaluations if earlier else []:  # the curve the pruner saw
            trial.report(record["eval_accuracy"], record["step"])
            last_step[:] = [record["step"]]
            evaluations.append(record["step"])
        self.ran_trials += 1
        try:
            config = self.space.config_for(params)
            trial_reporter = TrialReporter(self.reporter, trial.number, report)
            result = train(
                config, self.source, run_dir, resume=earlier is not None, reporter=trial_reporter
            )
        except optuna.TrialPruned:
            self.failures_in_a_row = 0
            finished("pruned", None)
            raise
        except Diverged as exc:
            # A setting that diverges is a result of the search, not a broken one: pruned
            # (done, and the sampler learns to avoid it), with the reason recorded.
            self.failures_in_a_row = 0
            finished("pruned", None, error=str(exc))
            raise optuna.TrialPruned(str(exc)) from None
        except (ConfigError, TrainingInterrupted, KeyboardInterrupt) as exc:
            self.last_failure = str(exc) or type(exc).__name__
            self.failures_in_a_row += 1
            finished("failed", None, error=self.last_failure)
            raise
        finally:
            _clear_keras()
        self.failures_in_a_row = 0
        finished("complete", result.validation_accuracy)
        return result.validation_accuracy

    def record(self, record: TrialRecord, run_dir: Path) -> None:
        """``trial.json`` in the trial's run directory (where training made one), and
        the record to the reporter."""
        if run_dir.is_dir():
            write_trial(run_dir, self.study_name, record)
        self.reporter.trial(record)


def write_trial(run_dir: Path, study_name: str, record: TrialRecord) -> None:
    """``trial.json``: the one place it is written (``rnncls runs`` reads it)."""
    written = {k: v for k, v in record.to_json().items() if k != "event"}
    rundir.write_json(run_dir / rundir.TRIAL_FILE, {"study": study_name, **written})


def _retried(study: Any, number: int, callback: Any) -> int | None:
    """The trial that trial ``number`` runs again (its worker died), or None."""
    frozen = [t for t in study.get_trials(deepcopy=False) if t.number == number]
    return callback.retried_trial_number(frozen[0]) if frozen else None


@dataclass(frozen=True)
class TakenOver:
    """A dead trial's work, copied into the trial that runs it again."""

    step: int  # of its checkpoint, where the new trial goes on
    evaluations: list[dict[str, Any]]  # its metrics.jsonl records up to that step


# What a trial that runs a dead one again takes from its run directory.
TAKEN_FILES = (rundir.CONFIG_FILE, rundir.CHECKPOINT_FILE, rundir.METRICS_FILE)


def take_over(study: Any, number: int, run_dir: Path) -> TakenOver | None:
    """Trial ``number`` died with its worker; where its run directory is reachable from
    here, has a checkpoint and no training holds it, copy its config, checkpoint and
    metrics into ``run_dir`` (each file atomically) so that the trial running it again
    resumes there, exactly, instead of starting over. Its own folder is left as it was,
    the record of the dead trial. None: nothing to take over (start from step 0)."""
    import shutil

    dead = [t for t in study.get_trials(deepcopy=False) if t.number == number]
    path = dead[0].user_attrs.get("run_dir") if dead else None
    if not path:
        return None
    source = Path(path)
    step = rundir.checkpoint_step(source)
    if step is None or not rundir.is_run_dir(source) or rundir.is_locked(source):
        return None
    run_dir.mkdir(parents=True, exist_ok=True)
    for name in TAKEN_FILES:
        if (source / name).is_file():
            rundir.write_with(
                run_dir / name,
                lambda temporary, name=name: shutil.copyfile(source / name, temporary),
            )
    evaluations = [
        record
        for record in rundir.truncate_metrics(run_dir, step)
        if record.get("event", "eval") == "eval" and "eval_accuracy" in record
    ]
    return TakenOver(step, evaluations)


def _clear_keras() -> None:
    """Drop the finished trial's graphs, so memory stays flat over many trials."""
    import sys

    keras = sys.modules.get("keras")
    if keras is not None:
        keras.backend.clear_session()


def record_dead_trials(all_trials: list[Any], study_name: str) -> None:
    """``trial.json`` for each failed trial whose worker died before writing one, where
    its run directory is on this machine and no training holds it, so that ``rnncls
    runs`` lists it as failed rather than as an interrupted run of its own."""
    from optuna.trial import TrialState

    for trial in all_trials:
        run_dir = trial.user_attrs.get("run_dir")
        if trial.state != TrialState.FAIL or not run_dir:
            continue
        run_dir = Path(run_dir)
        if (run_dir / rundir.TRIAL_FILE).exists() or not rundir.is_run_dir(run_dir):
            continue
        if rundir.is_locked(run_dir):
            continue
        record = TrialRecord(
            number=trial.number,
            state="failed",
            value=None,
            step=rundir.checkpoint_step(run_dir),
            params=dict(trial.params),
            seconds=round((trial.datetime_complete - trial.datetime_start).total_seconds(), 3)
            if trial.datetime_complete and trial.datetime_start
            else 0.0,
            run_dir=str(run_dir),
            error="its worker ended without recording it (killed, or a crash)",
        )
        try:
            write_trial(run_dir, study_name, record)
        except RunError:
            continue  # another user's folder, say: the listing is only less precise


def value_text(value: float | None) -> str:
    return "" if value is None or math.isnan(value) else f"{value:.4f}"
