"""The target config file: which clinic the run may change, and the accounts it may use.

A deployment must name a clinic set aside for testing, since scenarios enforce 2FA and lock
accounts out:

    [clinic]
    test_clinic = true                       # required for anything but the reference
    owner = { email = "owner@test.example", password = "..." }
    admin = { email = "admin@test.example", password = "..." }

    [[staff]]                                # two are enough: each is lent to one scenario
    email = "staff1@test.example"
    password = "..."

    [target]                                 # all optional
    reference = false      # true: this is `clinic2fa serve` (test support expected)
    passkeys = true        # override detection of the passkey endpoints
    timeout = 10           # seconds per HTTP request
    origin = "https://clinic.example"  # where the pages are, if not the --target's host
    hosts = ["clinic.example"]  # besides loopback, where race and load traffic may go

    max_wait = 60          # seconds the harness may wait in one go (a throttle, a back-off)
    jobs = 1               # scenarios at once (-j): a deployment's server is not ours to
                           # load, and its accounts are shared; not with a [hooks] reset

    [policy]               # what the deployment chose where the spec leaves a choice, the
    issuer = "..."         # refusal reasons it tells apart, the features it offers
                           # (scenarios/targets/declaration.py; default: the reference's)

    [hooks]                # optional (scenarios/targets/hooks.py): the deployment's own
    reset = { command = ["./reset-test-clinic"] }      # every account back as seeded
    provision = { url = "http://localhost:8000/test/staff" }  # more staff accounts

    [browser]              # browser+http only (scenarios/targets/browser/locators.py)
    [browser.locators]     # override any locator the browser target uses, by name
    setup_authenticator = { role = "button", name = "Add authenticator" }
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clinic2fa.scenarios.contract import Account
from clinic2fa.scenarios.core.policy import REFERENCE, Policy
from clinic2fa.scenarios.errors import UsageError
from clinic2fa.scenarios.targets import declaration, hooks
from clinic2fa.scenarios.targets.hooks import Hook

_TOP = {"clinic", "staff", "target", "policy", "hooks", "browser"}
_CLINIC = {"test_clinic", "owner", "admin"}
_TARGET = {"reference", "passkeys", "timeout", "origin", "hosts", "max_wait", "jobs"}


@dataclass(frozen=True)
class TargetConfig:
    """What the config file says; every field optional so the reference needs none."""

    path: Path | None = None
    test_clinic: bool = False
    owner: Account | None = None
    admin: Account | None = None
    staff: tuple[Account, ...] = ()
    reference: bool | None = None  # None: find out (test-support endpoints answer)
    passkeys: bool | None = None  # None: find out (the passkey endpoints exist)
    timeout: float = 10.0
    origin: str | None = None  # the page origin passkeys are made for (default: the target's)
    hosts: tuple[str, ...] = ()  # besides loopback, hosts that may get parallel and load traffic
    max_wait: float = 60.0  # seconds the harness may wait in one go on the deployment's clock
    jobs: int = 1  # scenarios at once the deployment allows (-j)
    policy: Policy = REFERENCE  # [policy]: what the deployment declares
    hooks: dict[str, Hook] = field(default_factory=dict)  # [hooks]: reset, provision
    browser: dict[str, Any] = field(default_factory=dict)  # [browser], checked by that target

    @property
    def passwords(self) -> set[str]:
        """Every password in the file, for the reports' final scrub."""
        return {a.password for a in (self.owner, self.admin, *self.staff) if a is not None}


def load(path: Path) -> TargetConfig:
    """Read and check a config file; any problem is a one-line UsageError naming the file."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"config file {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"config file {path} cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"config file {path}: invalid TOML: {exc}") from None
    return parse(doc, path)


def parse(doc: dict[str, Any], path: Path | None = None) -> TargetConfig:
    """A TargetConfig from a parsed document; unknown keys are refused (a typo must not pass)."""
    where = f"config file {path}" if path else "config"
    _only(doc, _TOP, where)
    clinic = _table(doc, "clinic", where)
    _only(clinic, _CLINIC, f"{where} [clinic]")
    target = _table(doc, "target", where)
    _only(target, _TARGET, f"{where} [target]")
    test_clinic = clinic.get("test_clinic", False)
    if not isinstance(test_clinic, bool):
        raise UsageError(f"{where}: [clinic] test_clinic must be true or false")
    staff_entries = doc.get("staff", [])
    if not isinstance(staff_entries, list):
        raise UsageError(f"{where}: staff must be an array of tables ([[staff]])")
    staff = tuple(_account(e, "staff", f"{where} [[staff]] #{n}")
                  for n, e in enumerate(staff_entries, 1))
    emails = [a.email for a in staff]
    if len(set(emails)) != len(emails):
        raise UsageError(f"{where}: a staff account is listed twice")
    timeout, max_wait = target.get("timeout", 10.0), target.get("max_wait", 60.0)
    for key, value in (("timeout", timeout), ("max_wait", max_wait)):
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise UsageError(f"{where}: [target] {key} must be a positive number of seconds")
    origin = target.get("origin")
    if origin is not None and (not isinstance(origin, str) or "://" not in origin):
        raise UsageError(f"{where}: [target] origin must be a URL like https://clinic.example")
    hosts = target.get("hosts", [])
    if not isinstance(hosts, list) or not all(isinstance(h, str) and h.strip() for h in hosts):
        raise UsageError(f"{where}: [target] hosts must be a list of host names")
    jobs = target.get("jobs", 1)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise UsageError(f"{where}: [target] jobs must be a whole number of scenarios, 1 or more")
    made_hooks = hooks.parse(doc.get("hooks", {}), where, path.parent if path else None)
    if jobs > 1 and "reset" in made_hooks:
        raise UsageError(f"{where}: [target] jobs = {jobs} with a [hooks] reset: the reset puts "
                         "every account back as seeded, under the feet of the scenarios "
                         "running beside it")
    for flag in ("reference", "passkeys"):
        if flag in target and not isinstance(target[flag], bool):
            raise UsageError(f"{where}: [target] {flag} must be true or false")
    return TargetConfig(
        path=path,
        test_clinic=test_clinic,
        owner=_account(clinic["owner"], "owner", f"{where} [clinic] owner")
        if "owner" in clinic else None,
        admin=_account(clinic["admin"], "admin", f"{where} [clinic] admin")
        if "admin" in clinic else None,
        staff=staff,
        reference=target.get("reference"),
        passkeys=target.get("passkeys"),
        timeout=float(timeout),
        origin=origin.rstrip("/") if origin else None,
        hosts=tuple(h.strip().lower().strip("[]") for h in hosts),
        max_wait=float(max_wait),
        policy=declaration.parse(doc.get("policy", {}), where),
        jobs=jobs,
        hooks=made_hooks,
        browser=_table(doc, "browser", where),
    )


def _only(table: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise UsageError(f"{where}: unknown key {unknown[0]!r}")


def _table(doc: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        raise UsageError(f"{where}: {key} must be a table ([{key}])")
    return value


def _account(entry: Any, role: str, where: str) -> Account:
    if not isinstance(entry, dict):
        raise UsageError(f"{where}: must be a table with email and password")
    _only(entry, {"email", "password"}, where)
    email, password = entry.get("email"), entry.get("password")
    if not isinstance(email, str) or "@" not in email:
        raise UsageError(f"{where}: email missing or not an email address")
    if not isinstance(password, str) or not password:
        raise UsageError(f"{where}: password missing")
    return Account(email, password, role)
