"""Draining: from the moment the server is told to stop, ``/readyz`` says so.

uvicorn stops accepting connections on SIGTERM and lets the requests in flight finish (within
``timeout_graceful_shutdown``); a load balancer that still holds a connection, or probes in the
instant before the listener closes, must be told not to send more. The app cannot ask uvicorn
whether it is stopping, so it listens to the same signals: it notes the shutdown, then hands the
signal to the handler the server installed (uvicorn's), which does the stopping."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

import structlog

log = structlog.get_logger("arrears.http")

_SIGNALS = (signal.SIGTERM, signal.SIGINT)

SignalHandler = Callable[[int, FrameType | None], Any]


class Draining:
    """Whether this process has been told to stop; chained in front of the server's handlers."""

    def __init__(self) -> None:
        self.started = False
        self._chained: dict[signal.Signals, SignalHandler] = {}

    def begin(self) -> None:
        """Notes that shutdown began (idempotent)."""
        if not self.started:
            self.started = True
            log.info("shutdown.draining")

    def install(self) -> None:
        """Notes SIGTERM and SIGINT before the server's own handlers see them.

        Only where a server installed Python handlers (uvicorn does, in the main thread): with
        the default action (an in-process test client, say) nothing changes."""
        self.started = False
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in _SIGNALS:
            previous = signal.getsignal(sig)
            if callable(previous):
                self._chained[sig] = previous
                signal.signal(sig, self._handle)

    def uninstall(self) -> None:
        """Gives the signals back to the handlers found at install time."""
        for sig, previous in self._chained.items():
            if signal.getsignal(sig) == self._handle:
                signal.signal(sig, previous)
        self._chained.clear()

    def _handle(self, sig: int, frame: FrameType | None) -> None:
        self.begin()
        previous = self._chained.get(signal.Signals(sig))
        if previous is not None:
            previous(sig, frame)
