"""Seeded defects in disabling 2FA and enforcement: who may do it, and what it leaves behind."""

from __future__ import annotations

from clinic2fa.scenarios.selfcheck.defects.registry import as_role, defect, swapped
from clinic2fa.simulator.clinic import Clinic, SignIn, Stage
from clinic2fa.simulator.errors import ErrorCode, TwoFactorError
from clinic2fa.simulator.users import Role, User


@defect("disable-without-password", ("DISABLE-REAUTH",),
        "Disable 2FA works without re-entering the password")
class DisableWithoutPassword(Clinic):
    def _require_password(self, user: User, password: str) -> None:
        return None


@defect("disable-under-enforcement", ("DISABLE-ENFORCED",),
        "a user disables their own 2FA while the owner enforces it")
class DisableUnderEnforcement(Clinic):
    def disable_2fa(self, token: str, password: str) -> None:
        with swapped(self, "enforcement_required", False):
            super().disable_2fa(token, password)


@defect("admin-changes-enforcement", ("ENFORCE-OWNER-ONLY",),
        "an admin (or staff) can change 2FA enforcement")
class AdminChangesEnforcement(Clinic):
    def set_enforcement(self, token: str, required: bool) -> None:
        with as_role(self, token, Role.OWNER):
            super().set_enforcement(token, required)


@defect("enforcement-not-forcing", ("ENFORCE-FORCES-ENROLMENT",),
        "under enforcement a user without 2FA signs in straight to the clinic")
class EnforcementNotForcing(Clinic):
    def sign_in(self, email: str, password: str) -> SignIn:
        with swapped(self, "enforcement_required", False):
            return super().sign_in(email, password)


@defect("staff-disables-others", ("ADMIN-DISABLE-ROLES",),
        "staff can disable another user's 2FA from Settings -> Staff")
class StaffDisablesOthers(Clinic):
    def disable_2fa_for(self, token: str, email: str) -> None:
        with as_role(self, token, Role.ADMIN):
            super().disable_2fa_for(token, email)


@defect("admin-disables-owner", ("ADMIN-DISABLE-ROLES",),
        "an admin can disable the owner's 2FA")
class AdminDisablesOwner(Clinic):
    def disable_2fa_for(self, token: str, email: str) -> None:
        session = self._sessions.get(token)
        actor = self._users[session.email] if session else None
        if actor is not None and actor.role is Role.ADMIN:
            with as_role(self, token, Role.OWNER):
                return super().disable_2fa_for(token, email)
        return super().disable_2fa_for(token, email)


@defect("disable-keeps-sessions", ("ADMIN-DISABLE-ENDS-SESSIONS",),
        "disabling a user's 2FA leaves their signed-in sessions alive")
class DisableKeepsSessions(Clinic):
    def _end_sessions(self, email: str, keep: str | None = None) -> None:
        return None


@defect("owner-cannot-enforce", ("OUTCOME-3", "ENFORCE-OWNER-ONLY"),
        "nobody, the owner included, can change 2FA enforcement")
class OwnerCannotEnforce(Clinic):
    def set_enforcement(self, token: str, required: bool) -> None:
        self._session(token, Stage.SIGNED_IN)
        raise TwoFactorError(ErrorCode.NOT_PERMITTED, "Only the owner changes 2FA enforcement.")


@defect("admin-disable-keeps-factors", ("TROUBLE-3", "ADMIN-DISABLE-ENDS-SESSIONS"),
        "Settings -> Staff -> Disable 2FA ends the user's sessions but leaves their factors")
class AdminDisableKeepsFactors(Clinic):
    by_admin = False  # the defect's own: inside Settings -> Staff -> Disable 2FA

    def disable_2fa_for(self, token: str, email: str) -> None:
        self.by_admin = True
        try:
            super().disable_2fa_for(token, email)
        finally:
            self.by_admin = False

    def _strip_factors(self, user: User) -> None:
        if not self.by_admin:
            super()._strip_factors(user)
