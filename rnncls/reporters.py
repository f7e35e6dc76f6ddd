"""What a training or a search tells whoever runs it: one object with one method a kind
of news, each doing nothing here, so a caller overrides what it shows (the command line:
a progress bar, plain lines or JSON lines; a search: its trials' lines).

Standard library only: the command line subclasses these at import time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rnncls.training_state import EvalEvent, Progress


class Reporter:
    """What a training tells whoever runs it, one method a kind; each does nothing here,
    so a caller overrides what it shows (the command line: a progress bar or JSON lines;
    a search: its trial's lines)."""

    def status(self, message: str) -> None:
        """What happens: resuming, a warning (``warning: ...``), saving."""

    def phase(self, message: str) -> None:
        """What start-up is doing (loading, building, compiling)."""

    def progress(self, done: Progress) -> None:
        """Steps done, at least every PROGRESS_SECONDS between evaluations."""

    def evaluation(self, event: EvalEvent) -> None:
        """Each periodic evaluation, after its checkpoint is written."""


class SearchReporter:
    """What ``rnncls tune`` tells: its own status lines, each finished trial, and each
    trial's training (its progress and evaluations, with the trial's number)."""

    def status(self, message: str) -> None:
        """What happens: the study opened, a trial retried, a warning."""

    def trial(self, record: object) -> None:
        """A trial ended (a :class:`rnncls.trials.TrialRecord`)."""

    def progress(self, number: int, done: Progress) -> None:
        """Trial ``number`` trained some steps."""

    def evaluation(self, number: int, event: EvalEvent) -> None:
        """Trial ``number`` evaluated (before the pruner judges it)."""
