"""The setup screens in progress, per session, so a rejected code can show the same QR again."""

from __future__ import annotations

import threading

from clinic2fa.simulator.clinic import Setup


class SetupScreens:
    """Thread-safe and bounded: the oldest screen goes when `limit` are kept."""

    def __init__(self, limit: int = 10_000) -> None:
        self._limit = limit
        self._screens: dict[str, Setup] = {}
        self._lock = threading.Lock()

    def keep(self, token: str, setup: Setup) -> None:
        with self._lock:
            self._screens.pop(token, None)
            if len(self._screens) >= self._limit:
                self._screens.pop(next(iter(self._screens)))
            self._screens[token] = setup

    def get(self, token: str) -> Setup | None:
        with self._lock:
            return self._screens.get(token)

    def drop(self, token: str) -> None:
        with self._lock:
            self._screens.pop(token, None)

    def clear(self) -> None:
        with self._lock:
            self._screens.clear()
