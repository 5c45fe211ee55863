"""Why a run cannot start: one line on stderr and exit 2, never a traceback."""

from __future__ import annotations


class UsageError(Exception):
    """Bad arguments, a missing or malformed config or waivers file, an unsafe target."""
