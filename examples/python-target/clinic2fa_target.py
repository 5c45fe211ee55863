"""ToothDesk behind the clinic2fa target contract: `--target python:clinic2fa_target:make_target`.

The harness calls make_target() once per scenario and speaks only the contract's methods
(clinic2fa.scenarios.contract.Target). ToothDesk reads the system clock, so `clock` is not
among the capabilities: the harness freezes and moves the system clock itself (freezegun).
`parallel`: ToothDesk takes a lock around every change, so the race scenarios run on it too.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from toothdesk import Denied, ToothDesk

from clinic2fa.scenarios.contract import Account, Refused, Security, SetupScreen, SignInResult

T = TypeVar("T")


def refusals(method: Callable[..., T]) -> Callable[..., T]:
    """ToothDesk's Denied is the contract's Refused, code for code."""

    @wraps(method)
    def call(*args: Any, **kwargs: Any) -> T:
        try:
            return method(*args, **kwargs)
        except Denied as no:
            raise Refused(no.code, no.reason, no.words, no.retry_after) from None

    return call


class ToothDeskTarget:
    """One fresh ToothDesk per scenario; the harness makes its accounts through `account`."""

    name = "ToothDesk"
    capabilities = frozenset({"parallel"})
    origin = None  # no passkeys

    def __init__(self) -> None:
        self.desk = ToothDesk()
        self._made = 0

    def account(self, role: str) -> Account:
        self._made += 1
        email = f"{role}{self._made}@toothdesk.test"
        return Account(email, self.desk.invite(email, role), role)

    @refusals
    def sign_in(self, email: str, password: str) -> SignInResult:
        return SignInResult(*self.desk.log_in(email, password))

    @refusals
    def enter_code(self, session: str, code: str) -> SignInResult:
        return SignInResult(session, self.desk.second_step_code(session, code))

    @refusals
    def use_backup_code(self, session: str, code: str) -> SignInResult:
        return SignInResult(session, self.desk.second_step_backup(session, code))

    def sign_out(self, session: str) -> None:
        self.desk.log_out(session)

    @refusals
    def profile(self, session: str) -> dict[str, Any]:
        me = self.desk.whoami(session)
        return {"email": me.email, "name": me.name, "role": me.role,
                "two_factor_enabled": me.two_factor}

    @refusals
    def security(self, session: str) -> Security:
        page = self.desk.security_page(session)
        return Security(bool(page["two_factor"]), bool(page["app"]), int(page["backup_left"]),
                        (), bool(page["required"]))

    @refusals
    def start_authenticator_setup(self, session: str) -> SetupScreen:
        return SetupScreen(*self.desk.begin_app_setup(session))

    @refusals
    def confirm_enrolment(self, session: str, code: str) -> list[str]:
        return self.desk.finish_app_setup(session, code)

    @refusals
    def regenerate_backup_codes(self, session: str, password: str) -> list[str]:
        return self.desk.renew_backup_codes(session, password)

    @refusals
    def disable_2fa(self, session: str, password: str) -> None:
        self.desk.turn_off_2fa(session, password)

    @refusals
    def set_enforcement(self, session: str, required: bool) -> None:
        self.desk.set_require_2fa(session, required)

    @refusals
    def staff(self, session: str) -> list[dict[str, Any]]:
        return [{"email": p.email, "name": p.name, "role": p.role,
                 "two_factor_enabled": p.two_factor} for p in self.desk.team(session)]

    @refusals
    def disable_2fa_for(self, session: str, email: str) -> None:
        self.desk.reset_2fa_for(session, email)


def make_target() -> ToothDeskTarget:
    return ToothDeskTarget()
