"""The record of what a scenario did to a target, with every secret redacted before it is kept."""

from __future__ import annotations

import inspect
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, is_dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from clinic2fa.scenarios.contract import Refused

REDACTED = "[redacted]"
# Arguments and result fields that carry a secret, a code or a password.
SECRET_NAMES = frozenset({
    "password", "code", "credential", "uri", "manual_entry", "qr_png", "qr_svg", "secret",
    "backup_codes", "session", "token", "credentials",
})
# Actions whose whole result is secret (backup codes, shown once; stored hashes, which a
# report must not hand to an offline guesser).
SECRET_RESULTS = frozenset({
    "confirm_enrolment", "regenerate_backup_codes", "finish_passkey_setup",
    "stored_credentials", "stored_password", "session_credentials"})
# Fields whose literal values the report's final pass scrubs wherever else they turn up (a
# message, a traceback). Not the passkey `credential`: public material, full of common words.
LITERAL_NAMES = SECRET_NAMES - {"credential", "qr_png", "qr_svg"}
# Not recorded: reads of the clock, a new virtual key, and a burst (its calls are, one by one).
UNTRACED = frozenset({"server_time", "new_passkey", "together"})
NOT_SHOWN = frozenset({"known"})  # an Account's harness notes (core/accounts.py): not the target's
MIN_LITERAL = 6  # shorter strings are too common to scrub; a TOTP code has 6 digits


def _elapsed() -> float:
    """Real monotonic seconds, even while freezegun holds the system clock (a python: target):
    freezegun replaces time.monotonic, not clock_gettime."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


@dataclass
class Entry:
    kind: str  # "step" | "call" | "check" | "note" | "unverified"
    text: str
    ok: bool | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    at: float = 0.0


@dataclass
class Trace:
    """Steps, exchanges and checks in order, as the report shows them."""

    entries: list[Entry] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)  # literal values seen, for the final scrub
    policy: dict[str, Any] = field(default_factory=dict)  # declared values the scenario read

    def step(self, text: str) -> None:
        self.entries.append(Entry("step", text, at=_elapsed()))

    def note(self, text: str) -> None:
        self.entries.append(Entry("note", text, at=_elapsed()))

    def unverified(self, text: str) -> None:
        """A part of a check the deployment gives no answer to ("it does not say why")."""
        self.entries.append(Entry("unverified", text, at=_elapsed()))

    @property
    def not_verified(self) -> list[str]:
        """The parts of the scenario's checks that could not be seen, in order."""
        return [e.text for e in self.entries if e.kind == "unverified"]

    def check(self, text: str, ok: bool, detail: dict[str, Any] | None = None) -> None:
        """`detail` may say what was `expected` and what the target did (`got`)."""
        self.entries.append(Entry("check", text, ok, dict(detail or {}), at=_elapsed()))

    def call(self, action: str, args: dict[str, Any], result: Any, refusal: Refused | None,
             ) -> None:
        self.secrets.update(secret_values(args))
        self.secrets.update(secret_values(result, "code" if action in SECRET_RESULTS else ""))
        detail: dict[str, Any] = {"args": redact(args)}
        if refusal is not None:
            detail["refused"] = {"code": refusal.code, "reason": refusal.reason}
        else:
            detail["result"] = REDACTED if action in SECRET_RESULTS else redact(result)
        self.entries.append(Entry("call", action, refusal is None, detail, _elapsed()))

    def to_list(self) -> list[dict[str, Any]]:
        return [asdict(e) for e in self.entries]


def redact(value: Any, name: str = "") -> Any:
    """A copy of `value` with every field named like a secret replaced by a marker."""
    if name in SECRET_NAMES and value not in (None, "", [], {}):
        return REDACTED
    if is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items() if k not in NOT_SHOWN}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return value


def secret_values(value: Any, name: str = "") -> Iterator[str]:
    """The literal strings `redact` would hide (and the secret inside a Key URI)."""
    if is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    if isinstance(value, dict):
        for key, item in value.items():
            if key not in NOT_SHOWN:
                yield from secret_values(item, name if name in LITERAL_NAMES else str(key))
    elif isinstance(value, list | tuple):
        for item in value:
            yield from secret_values(item, name)
    elif isinstance(value, str) and name in LITERAL_NAMES:
        for literal in (value, "".join(value.split()), *parse_qs(urlsplit(value).query)
                        .get("secret", [])):
            if len(literal) >= MIN_LITERAL:
                yield literal


class _Traced:
    """A proxy that records every Target call (arguments, result or refusal) in a Trace."""

    def __init__(self, target: Any, trace: Trace) -> None:
        self._target = target
        self._trace = trace

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not callable(attr) or name.startswith("_") or name in UNTRACED:
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                record = dict(inspect.signature(attr).bind(*args, **kwargs).arguments)
            except TypeError:
                record = {f"arg{i}": a for i, a in enumerate(args)} | kwargs
            try:
                result = attr(*args, **kwargs)
            except Refused as refusal:
                self._trace.call(name, record, None, refusal)
                raise
            self._trace.call(name, record, result, None)
            return result

        return call


def traced(target: Any, trace: Trace) -> Any:
    """Wrap a target so each exchange lands in the trace, redacted."""
    return _Traced(target, trace)
