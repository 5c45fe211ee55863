"""Expected failures, each with a written reason: a waived failure does not fail the run.

    [[waiver]]
    scenario = "TOTP-REPLAY-BACKUP"
    reason = "Known bug CLIN-123, fixed in 4.2"
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from clinic2fa.scenarios.errors import UsageError

_FIELDS = {"scenario", "reason"}


def load(path: Path) -> dict[str, str]:
    """Scenario ID -> reason; any problem with the file is a UsageError naming it."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"waivers file {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"waivers file {path} cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"waivers file {path}: invalid TOML: {exc}") from None
    return parse(doc, str(path))


def parse(doc: dict[str, Any], where: str) -> dict[str, str]:
    """The waivers in a parsed document; a waiver without a written reason is refused."""
    extra = sorted(set(doc) - {"waiver"})
    if extra:
        raise UsageError(f"{where}: unexpected key {extra[0]!r} (only [[waiver]] tables)")
    entries = doc.get("waiver", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise UsageError(f"{where}: 'waiver' must be an array of tables ([[waiver]])")
    waivers: dict[str, str] = {}
    for number, entry in enumerate(entries, 1):
        scenario = entry.get("scenario")
        if not isinstance(scenario, str) or not scenario.strip():
            raise UsageError(f"{where}: waiver #{number} names no scenario")
        unknown = sorted(set(entry) - _FIELDS)
        if unknown:
            raise UsageError(f"{where}: waiver for {scenario}: unknown field {unknown[0]!r}")
        reason = entry.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise UsageError(f"{where}: waiver for {scenario} has no reason: "
                             "every waiver needs a written reason")
        if scenario in waivers:
            raise UsageError(f"{where}: {scenario} is waived twice")
        waivers[scenario] = reason.strip()
    return waivers


def check_known(waivers: dict[str, str], scenario_ids: Iterable[str], where: str) -> None:
    """A waiver for a scenario that does not exist is a typo that would hide nothing: refuse it."""
    known = set(scenario_ids)
    unknown = sorted(set(waivers) - known)
    if unknown:
        raise UsageError(f"{where}: waiver for unknown scenario {unknown[0]}")
