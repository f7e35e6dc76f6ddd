"""How a config key is declared: its default, its check beyond the type, its help text.

Standard library only. :mod:`rnncls.config_keys` declares the sections of every run, and
each cell of :mod:`rnncls.cells` the section of its own options, with these.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import field
from typing import Any

# Integers are counts and sizes that end up in int32 tensors; anything larger is a typo,
# and would otherwise fail deep inside TensorFlow (or train for ever).
LARGEST_INT = 2**31 - 1
# numpy and Keras take seeds below 2**32.
LARGEST_SEED = 2**32 - 1
Check = Callable[[Any], "str | None"]


def spec(default: Any, check: Check | None = None, *, help: str) -> Any:
    """One config key: its default, its check beyond the type, and its help text (the
    comment above the key in default.toml, ``rnncls config keys``, ``config show``)."""
    return field(default=default, metadata={"check": check, "help": help})


def at_least(minimum: float, maximum: float = LARGEST_INT) -> Check:
    def check(value: Any) -> str | None:
        if value < minimum:
            return f"must be at least {minimum}"
        if value > maximum:
            return f"must be at most {maximum}"
        return None

    return check


def positive(value: Any) -> str | None:
    return None if value > 0 else "must be greater than 0"


def fraction(value: Any) -> str | None:
    return None if 0.0 <= value < 1.0 else "must be at least 0 and below 1"


def up_to_one(value: Any) -> str | None:
    return None if 0.0 < value <= 1.0 else "must be above 0 and at most 1"


def not_negative(value: Any) -> str | None:
    return None if value >= 0 else "must be at least 0"
