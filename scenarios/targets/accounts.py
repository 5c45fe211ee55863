"""A deployment's accounts from its config, lent to one scenario at a time and reused.

A test clinic has a few accounts (an owner, an admin, two staff): each is lent to one scenario
at a time and comes back when it ends; the Context puts it back as found (core/accounts.py).
A scenario is out of accounts only when it needs more of a role at once than the config names
(and the provisioning hook, if named, cannot make more). Among free accounts the one in a
known state and not locked out is lent first.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from clinic2fa.scenarios.contract import Account, ConfigExhausted
from clinic2fa.scenarios.core.accounts import Known
from clinic2fa.scenarios.targets.config import TargetConfig
from clinic2fa.scenarios.targets.hooks import provisioned


class AccountPool:
    """The config's accounts, each with what the harness knows of it between scenarios."""

    def __init__(self, config: TargetConfig) -> None:
        given = [a for a in (config.owner, config.admin, *config.staff) if a is not None]
        self._accounts = [Account(a.email, a.password, a.role, Known(a.email)) for a in given]
        self._hooks = config.hooks
        self._lent: dict[str, object] = {}  # email -> the target it is lent to
        self._lock = threading.Lock()

    def lend(self, role: str, holder: object, server_time: Callable[[], float]) -> Account:
        """An account of `role` for the scenario `holder` belongs to (the same owner or admin
        again if it already holds one)."""
        with self._lock:
            mine = [a for a in self._accounts if a.role == role and self._lent.get(a.email)
                    is holder]
            if mine and role in ("owner", "admin"):
                return mine[0]
            free = [a for a in self._accounts if a.role == role and a.email not in self._lent]
            if not free and role == "staff" and "provision" in self._hooks:
                made = provisioned(self._hooks["provision"], 1)
                self._accounts += [Account(a.email, a.password, "staff", Known(a.email))
                                   for a in made]
                free = [a for a in self._accounts[-len(made):]]
            if not free:
                count = sum(a.role == role for a in self._accounts)
                raise ConfigExhausted(
                    f"the scenario needs more {role} accounts at once than the config names "
                    f"({count})" + ("; a [hooks] provision can make more" if role == "staff"
                                    else ""))
            now = server_time()
            chosen = min(free, key=lambda a: (a.known.locked_until > now, not a.known.clean,
                                              a.known.locked_until))
            self._lent[chosen.email] = holder
            return chosen

    def give_back(self, holder: object) -> None:
        with self._lock:
            for email in [e for e, h in self._lent.items() if h is holder]:
                del self._lent[email]

    @property
    def can_reset(self) -> bool:
        return "reset" in self._hooks

    def reset(self) -> None:
        """The reset hook: every account as seeded (each verified again before its next use)."""
        self._hooks["reset"].run()
        for account in self._accounts:
            account.known.reset()
            account.known.clean = False
