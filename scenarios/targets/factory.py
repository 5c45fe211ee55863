"""--target TARGET to a Provider, through a registry of schemes that other targets extend.

A scheme is what comes before "://" (http, https, browser+http) or else before the first ":"
(memory+defect:NAME), or the whole string (memory). Built-in schemes are imported lazily, so a
run against memory never imports httpx.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from clinic2fa.scenarios.contract import Provider
from clinic2fa.scenarios.errors import UsageError
from clinic2fa.scenarios.targets.config import TargetConfig

Builder = Callable[[str, TargetConfig | None], Provider]

# scheme -> "module:function"; a new target kind adds one line here (or calls register_scheme).
BUILTIN: dict[str, str] = {
    "memory": "clinic2fa.scenarios.targets.memory:provider",
    "memory+defect": "clinic2fa.scenarios.selfcheck.target:provider",
    "http": "clinic2fa.scenarios.targets.http:provider",
    "https": "clinic2fa.scenarios.targets.http:provider",
    "browser+http": "clinic2fa.scenarios.targets.browser.provider:provider",
    "browser+https": "clinic2fa.scenarios.targets.browser.provider:provider",
    "python": "clinic2fa.scenarios.targets.python:provider",
}
_REGISTERED: dict[str, Builder] = {}


def register_scheme(scheme: str, builder: Builder) -> None:
    """Make `--target scheme...` build a Provider with `builder(target, config)`."""
    _REGISTERED[scheme] = builder


def scheme_of(target: str) -> str:
    if "://" in target:
        return target.split("://", 1)[0].lower()
    return target.split(":", 1)[0].lower()


def schemes() -> list[str]:
    return sorted({*BUILTIN, *_REGISTERED})


def build(target: str, config: TargetConfig | None = None) -> Provider:
    """The Provider for a --target string; a string no scheme takes is a UsageError."""
    target = target.strip()
    scheme = scheme_of(target)
    builder: Any = _REGISTERED.get(scheme)
    if builder is None and scheme in BUILTIN:
        module, _, function = BUILTIN[scheme].partition(":")
        builder = getattr(importlib.import_module(module), function)
    if builder is None:
        raise UsageError(f"unknown target {target!r}: use memory, http://HOST:PORT, "
                         f"browser+http://HOST:PORT or python:MODULE:FACTORY "
                         f"(known schemes: {', '.join(schemes())})")
    return builder(target, config)
