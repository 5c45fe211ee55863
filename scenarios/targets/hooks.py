"""The deployment's own hooks a config may name: reset its test clinic, provision staff accounts.

    [hooks]
    reset = { command = ["python", "examples/site/serve.py", "--reset"] }    # or
    reset = { url = "http://localhost:8000/test/reset" }                     # POSTed
    provision = { command = ["python", "serve.py", "--provision", "{count}"] }

Commands run in the config file's folder. `reset` puts every account of the config back as
seeded (2FA off, no passkeys, no lock-out, enforcement as seeded). `provision` makes `{count}`
more staff accounts and prints (or answers) them as JSON: `[{"email": ..., "password": ...}]`.
A hook that fails is one line naming it, never a traceback.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clinic2fa.scenarios.contract import Account, HookFailed
from clinic2fa.scenarios.errors import UsageError

TIMEOUT = 120.0  # seconds a hook may take
KINDS = ("reset", "provision")


@dataclass(frozen=True)
class Hook:
    """One hook: a command (argument list) or a URL to POST to."""

    name: str
    command: tuple[str, ...] = ()
    url: str | None = None
    cwd: Path | None = None  # a command runs in the config file's folder

    def describe(self) -> str:
        return f"{self.name} hook ({' '.join(self.command) if self.command else self.url})"

    def run(self, count: int | None = None) -> str:
        """Run it; what it printed or answered. HookFailed, in one line, if it fails."""
        if self.url:
            return self._call(count)
        args = [a.replace("{count}", str(count or 1)) for a in self.command]
        try:
            done = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT,  # noqa: S603
                                  check=False, cwd=self.cwd)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise HookFailed(f"{self.describe()} failed: {type(exc).__name__}: {exc}") from None
        if done.returncode != 0:
            said = (done.stderr.strip() or done.stdout.strip()).splitlines()
            raise HookFailed(f"{self.describe()} failed: exit {done.returncode}"
                             f"{': ' + said[-1] if said else ''}")
        return done.stdout

    def _call(self, count: int | None) -> str:
        import httpx  # only a URL hook needs it: config loading stays light

        assert self.url is not None
        try:
            response = httpx.post(self.url, json={"count": count} if count else None,
                                  timeout=TIMEOUT)
        except httpx.HTTPError as exc:
            raise HookFailed(f"{self.describe()} failed: {exc}") from None
        if not response.is_success:
            raise HookFailed(f"{self.describe()} failed: HTTP {response.status_code}")
        return response.text


def provisioned(hook: Hook, count: int) -> list[Account]:
    """`count` new staff accounts from the provisioning hook."""
    output = hook.run(count)
    try:
        entries = json.loads(output)
        made = [Account(str(e["email"]), str(e["password"]), "staff") for e in entries]
    except (ValueError, TypeError, KeyError):
        raise HookFailed(f"{hook.describe()} printed no JSON list of {{email, password}}") \
            from None
    if not made:
        raise HookFailed(f"{hook.describe()} made no account")
    return made


def parse(table: Any, where: str, cwd: Path | None = None) -> dict[str, Hook]:
    """The config's [hooks] table: each hook a command list or a URL; commands run in `cwd`."""
    if not isinstance(table, dict):
        raise UsageError(f"{where}: hooks must be a table ([hooks])")
    hooks = {}
    for name, entry in table.items():
        at = f"{where} [hooks] {name}"
        if name not in KINDS:
            raise UsageError(f"{at}: no such hook (known: {', '.join(KINDS)})")
        if not isinstance(entry, dict) or set(entry) - {"command", "url"} \
                or len(entry) != 1:
            raise UsageError(f"{at}: give command = [\"program\", \"arg\", ...] or url = "
                             "\"http://...\"")
        command, url = entry.get("command"), entry.get("url")
        if command is not None and (not isinstance(command, list) or not command
                                    or not all(isinstance(a, str) for a in command)):
            raise UsageError(f"{at}: command must be a list of strings")
        if url is not None and (not isinstance(url, str) or "://" not in url):
            raise UsageError(f"{at}: url must be a URL like http://localhost:8000/reset")
        hooks[name] = Hook(name, tuple(command or ()), url, cwd)
    return hooks
