"""Seeded defects in sign-in: a second step skipped, remembered, or a pending one let through."""

from __future__ import annotations

from typing import Any

from clinic2fa.scenarios.selfcheck.defects.registry import defect
from clinic2fa.simulator.clinic import Clinic, Session, SignIn, Stage
from clinic2fa.simulator.users import User


@defect("second-step-skipped", ("SIGNIN-SECOND-STEP", "SAME-STRENGTH-ALL-PATHS"),
        "the password alone signs in a user who has 2FA on")
class SecondStepSkipped(Clinic):
    def sign_in(self, email: str, password: str) -> SignIn:
        result = super().sign_in(email, password)
        if result.stage is Stage.SECOND_STEP:
            self._promote(self._sessions[result.token])
            return SignIn(result.token, Stage.SIGNED_IN)
        return result


@defect("pending-grants-access", ("SIGNIN-PENDING-GRANTS-NOTHING",),
        "a sign-in waiting for its second step already reaches the clinic")
class PendingGrantsAccess(Clinic):
    def _session(self, token: str, *open_to: Stage) -> Any:
        return super()._session(token, *open_to, Stage.SECOND_STEP)


@defect("remembers-devices", ("OUTCOME-1", "SIGNIN-SECOND-STEP"),
        "once a user passed the second step, later sign-ins skip it (a remembered device)")
class RemembersDevices(Clinic):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.trusted: set[str] = set()  # the defect's own: who passed a second step once

    def _pass_second_step(self, session: Session, user: User, how: str) -> SignIn:
        self.trusted.add(user.email)
        return super()._pass_second_step(session, user, how)

    def sign_in(self, email: str, password: str) -> SignIn:
        result = super().sign_in(email, password)
        if result.stage is Stage.SECOND_STEP and email.strip().lower() in self.trusted:
            self._promote(self._sessions[result.token])
            return SignIn(result.token, Stage.SIGNED_IN)
        return result

