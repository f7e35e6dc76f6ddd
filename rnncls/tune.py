"""``rnncls tune``: a hyperparameter search on Optuna, on one machine or many.

Each trial is an ordinary run directory, ``runs/<study>/trial-<number>``, trained by
:func:`rnncls.train.train` in this process. Its objective is the validation accuracy of
the step it keeps (never the test split); every periodic evaluation is reported to the
pruner, which may stop it early. The study lives in an Optuna storage: an SQLite file in
``runs/<study>/`` by default, or a database URL that workers on many machines share.

Several workers on one study finish exactly ``trials`` completed or pruned trials:
- a worker that dies (SIGKILL) stops beating; Optuna's heartbeat marks its trial failed
  and enqueues it again, and a live worker runs it;
- a worker leaves only when the study has its trials: while others still run the last
  ones it waits, in case one of them dies;
- two workers that start trials at the same moment can overshoot; the trial numbered
  past ``trials`` among the live ones ends at once, recorded as failed ("surplus") and
  never shown.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rnncls import rundir
from rnncls.config import to_toml
from rnncls.datasets import DataSource
from rnncls.errors import ConfigError, RunError, TuneStopped
from rnncls.reporters import SearchReporter
from rnncls.space import Space
from rnncls.trials import (
    SURPLUS_ATTR,
    TRIAL_PREFIX,
    Objective,
    SurplusTrial,
    record_dead_trials,
)

DATABASE_FILE = "study.db"
BEST_CONFIG_FILE = "best.toml"
HISTORY_PLOT = "history.png"
IMPORTANCES_PLOT = "importances.png"
# A worker beats this often; a trial silent for GRACE_BEATS beats is taken for dead.
HEARTBEAT_SECONDS = 10
GRACE_BEATS = 3
# A trial whose worker died is run again this many times at most.
RETRIES = 3
# Attempts to open a storage whose tables another worker is creating at that moment.
STORAGE_ATTEMPTS = 5
# A worker that sees this many of its own trials fail in a row stops: the space is bad.
FAILURES_IN_A_ROW = 3
# What to install for a database URL's default SQLAlchemy driver (the `postgres` and
# `mysql` extras of pyproject.toml).
DRIVERS = {
    "postgresql": "'psycopg[binary]'",
    "postgresql+psycopg": "'psycopg[binary]'",
    "postgresql+psycopg2": "psycopg2-binary",
    "mysql": "mysqlclient; or use mysql+pymysql:// with pip install 'rnncls[mysql]'",
    "mysql+pymysql": "PyMySQL",
}
SPACE_ATTR = "rnncls_space"


@dataclass
class TuneSummary:
    study: str
    storage: str
    complete: int
    pruned: int
    failed: int
    best_trial: int | None = None
    best_value: float | None = None
    best_params: dict[str, Any] = field(default_factory=dict)
    best_run_dir: str | None = None
    best_config: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"event": "summary", **asdict(self)}


def check_study_name(name: str) -> str:
    if not name or name in (".", "..") or "/" in name or "\\" in name or name == rundir.LATEST:
        raise ConfigError(f"--study {name!r}: a study name is one folder name, like mnist-lr")
    return name


def default_storage(study_dir: Path) -> str:
    return f"sqlite:///{study_dir.resolve() / DATABASE_FILE}"


def shown_storage(url: str) -> str:
    """The storage URL without its password, for messages and the summary."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL at all: say it as given
        return url


def _quiet_optuna() -> Any:
    import optuna

    # Failed and pruned trials are reported here, in one line each, not as Optuna's
    # warnings with tracebacks.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


def open_storage(url: str, heartbeat: int) -> Any:
    """An Optuna RDB storage with heartbeats, whose dead workers' trials are retried."""
    optuna = _quiet_optuna()
    _check_url(url)
    engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    try:
        return _retrying_a_table_race(
            lambda: optuna.storages.RDBStorage(
                url,
                engine_kwargs=engine_kwargs,
                heartbeat_interval=heartbeat,
                grace_period=GRACE_BEATS * heartbeat,
                heartbeat_stale_trial_callback=(
                    optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=RETRIES)
                ),
            )
        )
    except ImportError:
        scheme = url.split(":", 1)[0]
        install = DRIVERS.get(scheme, "the driver SQLAlchemy needs for it")
        raise ConfigError(
            f"--storage {shown_storage(url)}: no database driver for {scheme} is installed "
            f"(pip install {install})"
        ) from None
    except Exception as exc:  # noqa: BLE001 - SQLAlchemy's many errors: one line
        reason = " ".join(str(exc).split("\n")[0].split())
        raise RunError(f"cannot open storage {shown_storage(url)}: {reason}") from None


def _check_url(url: str) -> None:
    """A usage error (exit 2) for a URL that names no database SQLAlchemy knows, before
    any connection is tried."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        make_url(url).get_dialect()
    except ImportError:
        return  # a known database without its driver: open_storage says what to install
    except (ArgumentError, NoSuchModuleError, ValueError):
        raise ConfigError(
            f"--storage {shown_storage(url)}: not a database URL (sqlite:///FILE, "
            "postgresql://USER:PASSWORD@HOST/DATABASE or mysql+pymysql://...)"
        ) from None


def _retrying_a_table_race(make: Callable[[], Any]) -> Any:
    """``make()``, again after a pause when it loses a race: workers started together
    race to create a new database's tables, and the loser's error (a unique constraint,
    a locked file) is gone a moment later, when the tables are there."""
    for attempt in range(STORAGE_ATTEMPTS - 1):
        try:
            return make()
        except Exception as exc:  # noqa: BLE001 - only the two errors of the race
            if type(exc).__name__ not in ("IntegrityError", "OperationalError"):
                raise
            time.sleep(0.5 * (attempt + 1))
    return make()


def _pruner(name: str, space: Space) -> Any:
    optuna = _quiet_optuna()
    if name == "median":
        # the first two trials run in full, so there is a median to compare with
        return optuna.pruners.MedianPruner(n_startup_trials=2)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=space.base.train.eval_every)
    return optuna.pruners.NopPruner()


def _sampler(seed: int, trials_so_far: int, budget: int) -> Any:
    """A TPE sampler seeded by the study's seed and how many trials it has: one worker's
    search is reproducible, and workers that start trials one after another do not
    repeat each other's random draws."""
    optuna = _quiet_optuna()
    derived = int(np.random.SeedSequence([seed, trials_so_far]).generate_state(1)[0])
    startup = min(10, max(3, budget // 3))
    return optuna.samplers.TPESampler(seed=derived, n_startup_trials=startup)


def open_study(space: Space, name: str, storage: Any, pruner: str, study_dir: Path) -> Any:
    """Create the study or load it; a study made from another space is refused."""
    optuna = _quiet_optuna()
    try:
        study = optuna.create_study(
            study_name=name,
            storage=storage,
            direction="maximize",
            pruner=_pruner(pruner, space),
            load_if_exists=True,
        )
    except Exception as exc:  # noqa: BLE001 - a database that refuses: one line
        reason = " ".join(str(exc).split("\n")[0].split())
        raise RunError(f"cannot open study {name}: {reason}") from None
    recorded = study.user_attrs.get(SPACE_ATTR)
    if recorded is None:
        if study.trials and any(study_dir.glob(f"{TRIAL_PREFIX}*")):
            raise RunError(f"study {name} has trials but no record of its space")
        if not study.trials and any(study_dir.glob(f"{TRIAL_PREFIX}*")):
            raise RunError(
                f"{study_dir} holds trials of another study of that name; "
                "choose another --study or move them away"
            )
        study.set_user_attr(SPACE_ATTR, space.fingerprint())
    elif recorded != space.fingerprint():
        raise ConfigError(
            f"study {name} was started with another space or base config than "
            f"{space.source} (with any --set values) gives now; give a new --study name "
            "to search this one"
        )
    return study


def _counts(all_trials: list[Any]) -> dict[str, int]:
    from optuna.trial import TrialState

    counts = {state: 0 for state in ("done", "active", "waiting", "failed")}
    for trial in all_trials:
        if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
            counts["done"] += 1
        elif trial.state == TrialState.RUNNING:
            counts["active"] += 1
        elif trial.state == TrialState.WAITING:
            counts["waiting"] += 1
        elif not trial.user_attrs.get(SURPLUS_ATTR):
            counts["failed"] += 1
    return counts


def tune(
    space: Space,
    source: DataSource,
    *,
    study_name: str,
    storage_url: str | None = None,
    trials: int | None = None,
    pruner: str | None = None,
    heartbeat: int = HEARTBEAT_SECONDS,
    reporter: SearchReporter | None = None,
) -> TuneSummary:
    """Run trials of ``space`` until the study holds ``trials`` completed or pruned ones
    (counting every worker's), then write the best trial's config and the pictures."""
    optuna = _quiet_optuna()
    from rnncls.errors import TrainingInterrupted

    trials_given, trials = trials, trials or space.trials
    reporter = reporter or SearchReporter()
    study_dir = rundir.RUNS_ROOT / study_name
    # A storage given is opened first, so that a bad one leaves no empty study folder;
    # the default one is a file in that folder.
    storage = open_storage(storage_url, heartbeat) if storage_url else None
    try:
        study_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"cannot create {study_dir}: {exc.strerror or exc}") from None
    storage_url = storage_url or default_storage(study_dir)
    if storage is None:
        storage = open_storage(storage_url, heartbeat)
    study = open_study(space, study_name, storage, pruner or space.pruner, study_dir)
    reporter.status(f"study {study_name} in {shown_storage(storage_url)}: {trials} trials")
    objective = Objective(space, source, study, study_name, study_dir, trials, reporter)
    try:
        while True:
            all_trials = study.get_trials(deepcopy=False)  # one read of the storage a round
            record_dead_trials(all_trials, study_name)
            counts = _counts(all_trials)
            if counts["done"] >= trials:
                break
            if counts["done"] + counts["active"] >= trials and not counts["waiting"]:
                # The last trials run elsewhere: wait, in case a worker dies and its trial
                # comes back to be run again.
                optuna.storages.fail_stale_trials(study)
                time.sleep(max(1.0, heartbeat / 2))
                continue
            if objective.failures_in_a_row >= FAILURES_IN_A_ROW:
                raise ConfigError(
                    f"{objective.failures_in_a_row} trials in a row failed; "
                    f"the last: {objective.last_failure}"
                )
            study.sampler = _sampler(space.base.train.seed, sum(counts.values()), trials)
            study.optimize(objective, n_trials=1, catch=(SurplusTrial, ConfigError))
    except TrainingInterrupted as exc:
        again = command_to_continue(
            space.source, study_name, storage_url, trials_given, space.overrides, space.configs
        )
        raise TuneStopped(
            f"stopped ({exc.signal_name}); the trial is recorded as failed and the study "
            f"kept; `{again}` goes on with it"
        ) from None
    # A worker that ran no trial (the study had its trials) leaves runs/latest alone.
    return finish(
        study, space, study_name, storage_url, study_dir, reporter.status, objective.ran_trials > 0
    )


def command_to_continue(
    source: str,
    study_name: str,
    storage_url: str,
    trials: int | None = None,
    overrides: tuple[str, ...] = (),
    configs: tuple[str, ...] = (),
) -> str:
    """The `rnncls tune` command that goes on with a study: its space file, its name and
    storage where they are not the defaults (a storage's password left out), and the
    --trials, --config and --set values it was given (a study refuses a changed base
    config)."""
    import shlex

    command = f"rnncls tune {shlex.quote(source)}"
    if study_name != Path(source).stem:
        command += f" --study {shlex.quote(study_name)}"
    if storage_url != default_storage(rundir.RUNS_ROOT / study_name):
        command += f" --storage {shlex.quote(shown_storage(storage_url))}"
    if trials is not None:
        command += f" --trials {trials}"
    for config in configs:
        command += f" --config {shlex.quote(config)}"
    for setting in overrides:
        command += f" --set {shlex.quote(setting)}"
    return command


def finish(
    study: Any,
    space: Space,
    name: str,
    storage_url: str,
    study_dir: Path,
    status: Callable[[str], None],
    point_latest: bool = True,
) -> TuneSummary:
    """The summary; the best trial's config as best.toml, runs/latest on its run (with
    ``point_latest``), ``trial.json`` for the trials of dead workers, and the pictures
    of the search."""
    from optuna.trial import TrialState

    all_trials = study.get_trials(deepcopy=False)
    record_dead_trials(all_trials, name)
    summary = TuneSummary(
        study=name,
        storage=shown_storage(storage_url),
        complete=sum(t.state == TrialState.COMPLETE for t in all_trials),
        pruned=sum(t.state == TrialState.PRUNED for t in all_trials),
        failed=sum(
            t.state == TrialState.FAIL and not t.user_attrs.get(SURPLUS_ATTR) for t in all_trials
        ),
    )
    complete = [t for t in all_trials if t.state == TrialState.COMPLETE]
    if complete:
        best = max(complete, key=lambda t: (t.value, -t.number))
        run_dir = Path(best.user_attrs["run_dir"])
        summary.best_trial, summary.best_value = best.number, best.value
        summary.best_params, summary.best_run_dir = dict(best.params), str(run_dir)
        # Made from the study, not read from the run: the best trial may have run on
        # another machine. It is the config that trial trained with.
        header = (
            f"# The best trial of study {name}: trial {best.number}, validation accuracy "
            f"{best.value:.4f} ({run_dir}).\n# Train it again with "
            f"`rnncls train --config {study_dir / BEST_CONFIG_FILE}`.\n\n"
        )
        config_text = to_toml(space.config_for(dict(best.params)))
        rundir.write_text(study_dir / BEST_CONFIG_FILE, header + config_text)
        summary.best_config = str(study_dir / BEST_CONFIG_FILE)
        if point_latest and rundir.is_run_dir(run_dir):
            try:
                rundir.update_latest(run_dir)
            except RunError as exc:
                status(f"warning: {exc}")
    draw_plots(study, study_dir, status)
    return summary


def draw_plots(study: Any, study_dir: Path, status: Callable[[str], None]) -> None:
    """Optuna's optimization history and parameter importances, as PNG files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as optuna_plots

    pictures = (
        (HISTORY_PLOT, optuna_plots.plot_optimization_history),
        (IMPORTANCES_PLOT, optuna_plots.plot_param_importances),
    )
    for file_name, plot in pictures:
        try:
            with warnings.catch_warnings():  # "too few trials": the picture says so
                warnings.simplefilter("ignore")
                axes = plot(study)
        except Exception as exc:  # noqa: BLE001 - too few trials, or one parameter
            status(f"no {file_name}: {' '.join(str(exc).split())}")
            continue
        figure = axes.figure if not isinstance(axes, np.ndarray) else axes.flat[0].figure
        figure.set_size_inches(8, 5)
        figure.tight_layout()
        rundir.write_with(study_dir / file_name, lambda path, f=figure: f.savefig(path, dpi=100))
        plt.close(figure)
