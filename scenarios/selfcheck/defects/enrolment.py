"""Seeded defects in enrolment: the setup screen, its QR code and secret, confirming it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from clinic2fa.scenarios.selfcheck.defects.registry import defect
from clinic2fa.simulator import totp
from clinic2fa.simulator.clinic import Clinic, SecurityStatus, Setup, Stage
from clinic2fa.simulator.errors import ErrorCode, TwoFactorError


@defect("same-secret-on-retry", ("SETUP-FRESH-SECRET", "TOTP-SECRET-SIZE"),
        "a setup retry shows the same secret")
class SameSecretOnRetry(Clinic):
    def start_authenticator_setup(self, token: str) -> Setup:
        _, user = self._session(token, Stage.SIGNED_IN, Stage.ENROLMENT)
        kept = user.pending_secret
        setup = super().start_authenticator_setup(token)
        if kept is None:
            return setup
        user.pending_secret = kept
        uri = totp.provisioning_uri(kept, user.email, self.policy.issuer, self.params)
        return Setup(uri, totp.manual_entry(kept), totp.qr_svg(uri), totp.qr_png(uri))


@defect("old-pending-secret-accepted", ("SETUP-FRESH-SECRET",),
        "after a retry, a code from the previous QR code still confirms")
class OldPendingSecretAccepted(Clinic):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.old_secrets: dict[str, list[str]] = {}  # the defect's own: earlier pending secrets

    def start_authenticator_setup(self, token: str) -> Setup:
        _, user = self._session(token, Stage.SIGNED_IN, Stage.ENROLMENT)
        if user.pending_secret:
            self.old_secrets.setdefault(user.email, []).append(user.pending_secret)
        return super().start_authenticator_setup(token)

    def confirm_authenticator(self, token: str, code: str) -> list[str]:
        _, user = self._session(token, Stage.SIGNED_IN, Stage.ENROLMENT)
        current = user.pending_secret
        for secret in [current, *self.old_secrets.get(user.email, [])]:
            user.pending_secret = secret
            try:
                return super().confirm_authenticator(token, code)
            except TwoFactorError as refusal:
                if refusal.code is not ErrorCode.CODE_REJECTED:
                    raise
        user.pending_secret = current
        return super().confirm_authenticator(token, code)


@defect("confirm-any-code", ("SETUP-CONFIRM",), "enrolment is confirmed with a wrong code")
class ConfirmAnyCode(Clinic):
    def confirm_authenticator(self, token: str, code: str) -> list[str]:
        _, user = self._session(token, Stage.SIGNED_IN, Stage.ENROLMENT)
        if user.pending_secret:
            step = totp.step_of(self.clock.now(), self.params)
            code = totp.code_at_step(user.pending_secret, step, self.params)
        return super().confirm_authenticator(token, code)


@defect("active-before-confirm", ("SETUP-CONFIRM",),
        "2FA is on as soon as setup starts, before any code confirms it")
class ActiveBeforeConfirm(Clinic):
    def start_authenticator_setup(self, token: str) -> Setup:
        setup = super().start_authenticator_setup(token)
        _, user = self._session(token, Stage.SIGNED_IN, Stage.ENROLMENT)
        user.totp_secret = user.pending_secret
        return setup


@defect("manual-secret-mismatch", ("MANUAL-SECRET",),
        "the manual-entry secret is not the QR code's secret")
class ManualSecretMismatch(Clinic):
    def start_authenticator_setup(self, token: str) -> Setup:
        setup = super().start_authenticator_setup(token)
        return replace(setup, manual_entry=totp.manual_entry(totp.new_secret()))


def _rewrite_uri(setup: Setup, change: Callable[[str], str]) -> Setup:
    uri = change(setup.uri)
    return replace(setup, uri=uri, qr_svg=totp.qr_svg(uri), qr_png=totp.qr_png(uri))


@defect("uri-missing-issuer", ("KEY-URI",), "the otpauth URI names no issuer")
class UriMissingIssuer(Clinic):
    def start_authenticator_setup(self, token: str) -> Setup:
        def drop(uri: str) -> str:
            head, query = uri.split("?", 1)
            head = head.replace(f"/{self.policy.issuer}:", "/")
            kept = [p for p in query.split("&") if not p.startswith("issuer=")]
            return f"{head}?{'&'.join(kept)}"

        return _rewrite_uri(super().start_authenticator_setup(token), drop)


@defect("uri-wrong-digits", ("KEY-URI", "TOTP-STEP"),
        "the otpauth URI announces 8 digits while the server checks 6")
class UriWrongDigits(Clinic):
    def start_authenticator_setup(self, token: str) -> Setup:
        return _rewrite_uri(super().start_authenticator_setup(token),
                            lambda uri: uri.replace("digits=6", "digits=8"))


@defect("uri-wrong-period", ("KEY-URI", "TOTP-STEP"),
        "the otpauth URI announces a 60 s period while the server steps every 30 s")
class UriWrongPeriod(Clinic):
    def start_authenticator_setup(self, token: str) -> Setup:
        return _rewrite_uri(super().start_authenticator_setup(token),
                            lambda uri: uri.replace("period=30", "period=60"))


# -- the guide's first steps, as a person sees them ----------------------------------------------

@defect("security-always-on", ("STEP-1",),
        "the Security page shows 2FA and an authenticator app on before anything was set up")
class SecurityAlwaysOn(Clinic):
    def security(self, token: str) -> SecurityStatus:
        status = super().security(token)
        return replace(status, two_factor_enabled=True, authenticator_app=True)


@defect("no-manual-entry", ("STEP-2", "MANUAL-SECRET"),
        "the setup screen shows the QR code but no manual-entry secret beside it")
class NoManualEntry(Clinic):
    def start_authenticator_setup(self, token: str) -> Setup:
        return replace(super().start_authenticator_setup(token), manual_entry="")


@defect("qr-other-issuer", ("STEP-3", "KEY-URI"),
        "the QR code on screen adds the account under another practice's name")
class QrForAnotherIssuer(Clinic):
    def start_authenticator_setup(self, token: str) -> Setup:
        setup = super().start_authenticator_setup(token)
        other = setup.uri.replace(self.policy.issuer, "OtherPractice")
        return replace(setup, qr_png=totp.qr_png(other), qr_svg=totp.qr_svg(other))
