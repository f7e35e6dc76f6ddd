"""SIGINT and SIGTERM as a request to stop training at the next safe point."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def stop_on_signals(acknowledge: bool = True) -> Iterator[dict[str, str]]:
    """Turn SIGINT and SIGTERM into a request to stop at the next safe point, told at once
    on stderr; a second SIGINT (Ctrl-C again) raises KeyboardInterrupt now.

    The acknowledgement goes straight to file descriptor 2 with ``os.write``: a handler
    that printed through Python's stderr or rich could meet the main thread halfway
    through a write of its own."""
    request: dict[str, str] = {}
    if threading.current_thread() is not threading.main_thread():
        yield request
        return

    def handler(signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if request and signum == signal.SIGINT:
            raise KeyboardInterrupt
        if not request:
            request["signal"] = name
            again = "; Ctrl-C again to stop at once" if signum == signal.SIGINT else ""
            if acknowledge:
                message = f"\n{name}: stopping at the next step with a checkpoint{again}\n"
                os.write(2, message.encode())

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield request
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
