"""The failures a user can act on, apart from configuration errors (rnncls/config.py).

Defined here, with no imports, so that the command line can name them without loading
numpy: `rnncls --help` starts before any of the modules that raise them.
"""


class DataError(RuntimeError):
    """A data set that is missing or damaged; the CLI exits 1 on it."""


class RunError(RuntimeError):
    """A run directory that is missing, damaged or must not be touched; exit 1."""


class Stopped(RunError):
    """A run or search the user stopped (Ctrl-C, SIGTERM): no error, so the CLI shows the
    message alone, without ``error:``, but not finished either (exit 1)."""
