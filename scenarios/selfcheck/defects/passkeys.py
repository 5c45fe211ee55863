"""Seeded defects in passkeys: the relying party's checks (challenge, origin, RP ID, sign count,
user verification, whose credential) and what a verified passkey is worth."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from webauthn.helpers import (
    decode_credential_public_key,
    decoded_public_key_to_cryptography,
    parse_authentication_credential_json,
    parse_authenticator_data,
    parse_client_data_json,
    verify_signature,
)
from webauthn.helpers.structs import ClientDataType, CollectedClientData

from clinic2fa.scenarios.selfcheck.defects.registry import defect, register, swapped
from clinic2fa.simulator.clinic import Clinic, SignIn, Stage
from clinic2fa.simulator.errors import ErrorCode, TwoFactorError
from clinic2fa.simulator.passkeys import Ceremony, Passkeys
from clinic2fa.simulator.users import PasskeyCredential, User


class _ChallengeReusable(Passkeys):
    def _take_challenge(self, key: str, ceremony: Ceremony) -> bytes:
        pending = self._pending.get((key, ceremony))  # never consumed
        if pending is None:
            return super()._take_challenge(key, ceremony)
        return pending.challenge


class _AnyOrigin(Passkeys):
    def _check_client(self, client: CollectedClientData, kind: ClientDataType,
                      expected: bytes) -> None:
        self.origin = client.origin  # whatever page the passkey was used on is fine
        super()._check_client(client, kind, expected)


class _AnyRpId(Passkeys):
    def verify_authentication(self, key: str, user: User, credential: object) -> PasskeyCredential:
        """Checks challenge, origin and signature, never the RP ID hash."""
        expected = self._take_challenge(key, Ceremony.SIGN_IN)
        parsed = parse_authentication_credential_json(credential)  # type: ignore[arg-type]
        stored = next((p for p in user.passkeys if p.credential_id == parsed.raw_id), None)
        if stored is None:
            raise TwoFactorError(ErrorCode.PASSKEY_UNKNOWN_CREDENTIAL, "Not this user's passkey.")
        response = parsed.response
        self._check_client(parse_client_data_json(response.client_data_json),
                           ClientDataType.WEBAUTHN_GET, expected)
        public = decode_credential_public_key(stored.public_key)
        verify_signature(public_key=decoded_public_key_to_cryptography(public),
                         signature_alg=public.alg, signature=response.signature,
                         data=response.authenticator_data
                         + hashlib.sha256(response.client_data_json).digest())
        count = parse_authenticator_data(response.authenticator_data).sign_count
        if (count or stored.sign_count) and count <= stored.sign_count:
            raise TwoFactorError(ErrorCode.PASSKEY_SIGN_COUNT, "Sign count did not increase.")
        stored.sign_count = count
        return stored


class _SignCountIgnored(Passkeys):
    def verify_authentication(self, key: str, user: User, credential: object) -> PasskeyCredential:
        for passkey in user.passkeys:
            passkey.sign_count = 0  # forget the count, so a clone's lower count passes
        return super().verify_authentication(key, user, credential)


class _CounterRequired(Passkeys):
    """Wants every sign count to grow, so a counterless key's 0 after 0 is read as a clone."""

    def verify_authentication(self, key: str, user: User, credential: object) -> PasskeyCredential:
        before = {p.credential_id: p.sign_count for p in user.passkeys}
        stored = super().verify_authentication(key, user, credential)
        if stored.sign_count <= before[stored.credential_id]:
            raise TwoFactorError(ErrorCode.PASSKEY_SIGN_COUNT, "Sign count did not increase.")
        return stored


class _AnyUsersPasskey(Passkeys):
    everyone: Callable[[], list[PasskeyCredential]]  # the defect's own: every user's passkeys

    def verify_authentication(self, key: str, user: User, credential: object) -> PasskeyCredential:
        presented = parse_authentication_credential_json(credential)  # type: ignore[arg-type]
        borrowed = replace(user, passkeys=self.everyone())
        handle = presented.response.user_handle
        with swapped(self, "_handles", {**self._handles, user.email: handle}
                     if handle else self._handles):
            return super().verify_authentication(key, borrowed, credential)


class _UserVerificationNotChecked(Passkeys):
    """Asks for user verification in the options, then accepts answers without it."""

    @property
    def _uv_required(self) -> bool:
        return False


def _passkey_defect(name: str, violates: tuple[str, ...], summary: str,
                    relying_party: type[Passkeys]) -> None:
    """Register a clinic whose relying party is the broken one."""

    def build(**kwargs: Any) -> Clinic:
        clinic = Clinic(**kwargs)
        clinic._passkeys.__class__ = relying_party
        if relying_party is _AnyUsersPasskey:
            clinic._passkeys.everyone = lambda: [  # type: ignore[attr-defined]
                p for u in clinic._users.values() for p in u.passkeys]
        return clinic

    register(name, violates, summary, build)


_passkey_defect("passkey-challenge-reusable", ("PASSKEY-CHALLENGE",),
                "a passkey challenge can be answered twice", _ChallengeReusable)
_passkey_defect("passkey-any-origin", ("PASSKEY-ORIGIN-RPID",),
                "a passkey used on another site's page (origin) is accepted", _AnyOrigin)
_passkey_defect("passkey-any-rp-id", ("PASSKEY-ORIGIN-RPID",),
                "a passkey assertion for another RP ID is accepted", _AnyRpId)
_passkey_defect("passkey-sign-count-ignored", ("PASSKEY-SIGN-COUNT",),
                "a sign count that does not increase (a clone) is accepted", _SignCountIgnored)
_passkey_defect("passkey-counterless-refused", ("PASSKEY-SIGN-COUNT",),
                "a passkey without a counter (always 0, as most synced ones) is refused after "
                "its registration", _CounterRequired)
_passkey_defect("passkey-other-users-credential", ("PASSKEY-OWN-CREDENTIAL",),
                "another user's passkey passes this user's second step", _AnyUsersPasskey)
_passkey_defect("passkey-user-verification-ignored", ("PASSKEY-USER-VERIFICATION",),
                "user verification is asked for, but a passkey answer without it is accepted",
                _UserVerificationNotChecked)


@defect("passkey-never-signs-in", ("STEP-7", "PASSKEY-FACTOR"),
        "a verified passkey leaves the sign-in at the second step")
class PasskeyNeverSignsIn(Clinic):
    def finish_passkey_sign_in(self, token: str, credential: dict[str, Any] | str) -> SignIn:
        result = super().finish_passkey_sign_in(token, credential)
        self._sessions[result.token].stage = Stage.SECOND_STEP
        return SignIn(result.token, Stage.SECOND_STEP)
