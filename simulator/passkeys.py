"""The two WebAuthn ceremonies (register a passkey, sign in with it) on py_webauthn 3."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    bytes_to_base64url,
    parse_attestation_object,
    parse_authentication_credential_json,
    parse_authenticator_data,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.structs import (
    AuthenticatorData,
    AuthenticatorSelectionCriteria,
    ClientDataType,
    CollectedClientData,
    PublicKeyCredentialDescriptor,
    UserVerificationRequirement,
)

from clinic2fa.simulator.errors import ErrorCode, TwoFactorError
from clinic2fa.simulator.users import PasskeyCredential, User

CLONE_WARNING = "possible cloned authenticator"


class Ceremony(StrEnum):
    """The two WebAuthn ceremonies; a challenge is bound to one of them (PASSKEY-CHALLENGE)."""

    REGISTER = "register"
    SIGN_IN = "sign_in"


@dataclass(frozen=True)
class NewPasskey:
    """What a verified registration yields: only public material, never anything secret."""

    credential_id: bytes
    public_key: bytes
    sign_count: int


@dataclass(frozen=True)
class _Pending:
    challenge: bytes
    expires_at: float


class Passkeys:
    """One relying party: issues challenges and verifies both ceremonies with exact error codes.

    Each check the spec names runs here, before py_webauthn's own, so that each refusal carries
    its own code; py_webauthn then verifies the rest (attestation, algorithm, signature) and any
    refusal of its is `passkey_invalid`.
    """

    # The private names the harness's passkey defects may override, replace or call (the
    # reference's Clinic.SEAMS explains why; tests/test_defect_seams.py holds them to it).
    SEAMS: ClassVar[tuple[str, ...]] = (
        "_take_challenge",  # single use: passkey-challenge-reusable never consumes it
        "_new_challenge",  # no-locking stores a challenge into the pending ones as they were read
        "_check_client",  # type, challenge, origin: passkey-any-origin takes any origin
        "_uv_required",  # passkey-user-verification-ignored asks for UV, then never requires it
        "_pending",  # challenges by session and ceremony, read by passkey-challenge-reusable
        "_handles",  # WebAuthn user handles, swapped by passkey-other-users-credential
    )

    def __init__(self, *, rp_id: str, rp_name: str, origin: str, clock: Callable[[], float],
                 ttl: float, user_verification: str = "required") -> None:
        self.rp_id = rp_id
        self.rp_name = rp_name
        self.origin = origin
        self.user_verification = UserVerificationRequirement(user_verification)
        self._now = clock
        self._ttl = ttl
        self._pending: dict[tuple[str, Ceremony], _Pending] = {}
        self._handles: dict[str, bytes] = {}  # WebAuthn user handle per email: random, stable

    @property
    def _uv_required(self) -> bool:
        return self.user_verification is UserVerificationRequirement.REQUIRED

    # -- registration -------------------------------------------------------------------------

    def registration_options(self, key: str, user: User) -> dict[str, Any]:
        """Creation options as WebAuthn JSON, with a fresh challenge for this session only."""
        options = generate_registration_options(
            rp_id=self.rp_id, rp_name=self.rp_name, user_name=user.email,
            user_id=self.user_handle(user), user_display_name=user.name,
            challenge=self._new_challenge(key, Ceremony.REGISTER),
            timeout=int(self._ttl * 1000),
            authenticator_selection=AuthenticatorSelectionCriteria(
                user_verification=self.user_verification),
            exclude_credentials=_descriptors(user),
        )
        return json.loads(options_to_json(options))

    def verify_registration(self, key: str, credential: object) -> NewPasskey:
        """Check a create() response against this session's registration challenge."""
        expected = self._take_challenge(key, Ceremony.REGISTER)
        try:
            parsed = parse_registration_credential_json(credential)  # type: ignore[arg-type]
            client = parse_client_data_json(parsed.response.client_data_json)
            auth_data = parse_attestation_object(parsed.response.attestation_object).auth_data
        except Exception as exc:  # untrusted input: any failure to read it is a refusal
            raise _invalid("The passkey response is malformed.") from exc
        _same_id(parsed.id, parsed.raw_id)
        self._check_client(client, ClientDataType.WEBAUTHN_CREATE, expected)
        self._check_authenticator(auth_data)
        try:
            verified = verify_registration_response(
                credential=parsed, expected_challenge=expected, expected_rp_id=self.rp_id,
                expected_origin=self.origin, require_user_verification=self._uv_required)
        except Exception as exc:  # untrusted input: any failure to read it is a refusal
            raise _invalid(f"The passkey was refused: {exc}") from exc
        return NewPasskey(verified.credential_id, verified.credential_public_key,
                          verified.sign_count)

    # -- sign-in ------------------------------------------------------------------------------

    def authentication_options(self, key: str, user: User) -> dict[str, Any]:
        """Request options as WebAuthn JSON: only this user's passkeys are allowed."""
        options = generate_authentication_options(
            rp_id=self.rp_id, challenge=self._new_challenge(key, Ceremony.SIGN_IN),
            timeout=int(self._ttl * 1000), allow_credentials=_descriptors(user),
            user_verification=self.user_verification,
        )
        return json.loads(options_to_json(options))

    def verify_authentication(self, key: str, user: User, credential: object) -> PasskeyCredential:
        """Check a get() response for this user; on success the stored sign count moves up."""
        expected = self._take_challenge(key, Ceremony.SIGN_IN)
        try:
            parsed = parse_authentication_credential_json(credential)  # type: ignore[arg-type]
            client = parse_client_data_json(parsed.response.client_data_json)
            auth_data = parse_authenticator_data(parsed.response.authenticator_data)
        except Exception as exc:  # untrusted input: any failure to read it is a refusal
            raise _invalid("The passkey response is malformed.") from exc
        _same_id(parsed.id, parsed.raw_id)
        # PASSKEY-OWN-CREDENTIAL: only a credential registered to this very user signs them in.
        stored = next((p for p in user.passkeys if p.credential_id == parsed.raw_id), None)
        handle = parsed.response.user_handle
        if stored is None or (handle is not None and handle != self.user_handle(user)):
            raise TwoFactorError(ErrorCode.PASSKEY_UNKNOWN_CREDENTIAL,
                                 "That passkey is not registered to this account.")
        self._check_client(client, ClientDataType.WEBAUTHN_GET, expected)
        self._check_authenticator(auth_data)
        try:
            # The sign count is checked below, after the signature: passing 0 here keeps
            # py_webauthn from judging an unsigned counter first.
            verified = verify_authentication_response(
                credential=parsed, expected_challenge=expected, expected_rp_id=self.rp_id,
                expected_origin=self.origin, credential_public_key=stored.public_key,
                credential_current_sign_count=0, require_user_verification=self._uv_required)
        except Exception as exc:  # untrusted input: any failure to read it is a refusal
            raise _invalid(f"The passkey was refused: {exc}") from exc
        new_count = verified.new_sign_count
        # PASSKEY-SIGN-COUNT: a count that does not go up, when either is non-zero, means two
        # authenticators share one key.
        if (new_count > 0 or stored.sign_count > 0) and new_count <= stored.sign_count:
            raise TwoFactorError(ErrorCode.PASSKEY_SIGN_COUNT,
                                 f"The passkey's sign count did not increase: {CLONE_WARNING}.")
        stored.sign_count = new_count
        return stored

    # -- shared -------------------------------------------------------------------------------

    def user_handle(self, user: User) -> bytes:
        """The WebAuthn user.id: random and stable per account, never the email (privacy)."""
        return self._handles.setdefault(user.email, secrets.token_bytes(32))

    def _new_challenge(self, key: str, ceremony: Ceremony) -> bytes:
        """PASSKEY-CHALLENGE: 32 random bytes, bound to session and ceremony, expiring."""
        now = self._now()
        self._pending = {k: p for k, p in self._pending.items() if p.expires_at > now}
        challenge = secrets.token_bytes(32)
        self._pending[(key, ceremony)] = _Pending(challenge, now + self._ttl)  # replaces any
        return challenge

    def _take_challenge(self, key: str, ceremony: Ceremony) -> bytes:
        """PASSKEY-CHALLENGE: single use, consumed by the first attempt whatever its outcome."""
        pending = self._pending.pop((key, ceremony), None)
        if pending is None or self._now() >= pending.expires_at:
            raise TwoFactorError(ErrorCode.PASSKEY_CHALLENGE_INVALID,
                                 "The passkey request expired or was already used; start again.")
        return pending.challenge

    def _check_client(self, client: CollectedClientData, kind: ClientDataType,
                      expected: bytes) -> None:
        if client.type != kind:
            raise TwoFactorError(ErrorCode.PASSKEY_INVALID, f"Expected a {kind.value} response.")
        if not hmac.compare_digest(client.challenge, expected):  # PASSKEY-CHALLENGE
            raise TwoFactorError(ErrorCode.PASSKEY_CHALLENGE_INVALID,
                                 "The passkey answered another challenge.")
        if client.origin != self.origin:  # PASSKEY-ORIGIN-RPID: the page it was used on
            raise TwoFactorError(ErrorCode.PASSKEY_ORIGIN_MISMATCH,
                                 f"The passkey was used on {client.origin!r}, not {self.origin!r}.")

    def _check_authenticator(self, auth_data: AuthenticatorData) -> None:
        expected_hash = hashlib.sha256(self.rp_id.encode("utf-8")).digest()
        if not hmac.compare_digest(auth_data.rp_id_hash, expected_hash):  # PASSKEY-ORIGIN-RPID
            raise TwoFactorError(ErrorCode.PASSKEY_RP_ID_MISMATCH,
                                 "The passkey belongs to another site (RP ID hash differs).")
        if not auth_data.flags.up:  # PASSKEY-ORIGIN-RPID: the UP flag must be set too
            raise TwoFactorError(ErrorCode.PASSKEY_INVALID, "Nobody was present at the passkey.")
        if self._uv_required and not auth_data.flags.uv:  # PASSKEY-USER-VERIFICATION
            raise TwoFactorError(ErrorCode.PASSKEY_USER_VERIFICATION,
                                 "The clinic requires the passkey to verify you (PIN, biometric).")


def _invalid(message: str) -> TwoFactorError:
    """passkey_invalid: whatever is wrong that no more precise code names."""
    return TwoFactorError(ErrorCode.PASSKEY_INVALID, message)


def _descriptors(user: User) -> list[PublicKeyCredentialDescriptor]:
    return [PublicKeyCredentialDescriptor(id=p.credential_id) for p in user.passkeys]


def _same_id(cred_id: str, raw_id: bytes) -> None:
    if bytes_to_base64url(raw_id) != cred_id:
        raise TwoFactorError(ErrorCode.PASSKEY_INVALID, "The passkey's id and rawId differ.")
