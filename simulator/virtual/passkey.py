"""A virtual passkey on soft-webauthn, speaking WebAuthn JSON, with misbehaviours on demand."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fido2 import cbor
from soft_webauthn import SoftWebauthnDevice
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

from clinic2fa.simulator.virtual.authenticator_app import DeviceError

Options = dict[str, Any] | str

_UP, _UV = 0x01, 0x04  # authenticator data flags: user present, user verified


class _Device(SoftWebauthnDevice):  # type: ignore[misc]
    """soft-webauthn's device, able to keep its key pair when asked to create a credential."""

    keep_credential = False

    def cred_init(self, rp_id: str, user_handle: bytes) -> None:
        if self.keep_credential and self.credential_id is not None:
            self.rp_id, self.user_handle = rp_id, user_handle  # same id, same key
            return
        super().cred_init(rp_id, user_handle)


def creation_options_for_device(options: Options) -> dict[str, Any]:
    """WebAuthn JSON creation options -> soft-webauthn's dict with raw bytes (toolchain fact 2)."""
    public_key = copy.deepcopy(_as_dict(options))
    public_key["challenge"] = base64url_to_bytes(public_key["challenge"])
    public_key["user"]["id"] = base64url_to_bytes(public_key["user"]["id"])
    for entry in public_key.get("excludeCredentials", []):
        entry["id"] = base64url_to_bytes(entry["id"])
    return {"publicKey": public_key}


def request_options_for_device(options: Options) -> dict[str, Any]:
    """WebAuthn JSON request options -> soft-webauthn's dict with raw bytes."""
    public_key = copy.deepcopy(_as_dict(options))
    public_key["challenge"] = base64url_to_bytes(public_key["challenge"])
    for entry in public_key.get("allowCredentials", []):
        entry["id"] = base64url_to_bytes(entry["id"])
    return {"publicKey": public_key}


def credential_to_json(credential: dict[str, Any]) -> dict[str, Any]:
    """soft-webauthn's credential -> WebAuthn JSON: `id` and `rawId`, base64url, no padding."""
    raw_id: bytes = credential["rawId"]
    response = {key: bytes_to_base64url(value)
                for key, value in credential["response"].items() if value is not None}
    return {"id": bytes_to_base64url(raw_id), "rawId": bytes_to_base64url(raw_id),
            "response": response, "type": "public-key", "clientExtensionResults": {}}


def _as_dict(options: Options) -> dict[str, Any]:
    loaded = json.loads(options) if isinstance(options, str) else options
    return loaded.get("publicKey", loaded)


class VirtualPasskey:
    """A passkey holding one credential (as soft-webauthn does); create() replaces it.

    Well-behaved by default: it answers only for its own site and only when the server lists its
    credential. The keyword flags and methods below each break one rule, so a test can check
    that the server refuses it:

    - `origin=` on create()/get(): used on another page (phishing) -> origin mismatch;
    - `rp_id=` on create()/get(): authenticator data for another site -> RP ID hash mismatch;
    - `replay_challenge=True`: a fresh signature over the previous ceremony's challenge;
    - `replay_last()`: the previous response again, byte for byte;
    - `clone()`: a copy sharing key and counter, so one of them repeats a sign count;
    - `mint_unregistered()` + `ignore_allow_list=True`: a credential the server never saw;
      `ignore_allow_list=True` alone on another user's passkey: someone else's credential;
    - `reuse_credential=True` on create(): offers a credential id the server already knows;
    - `user_present=False`: answers with the UP flag clear; `user_verified=True` sets UV;
      `has_counter=False` always reports sign count 0 (legitimate: most synced passkeys).
    """

    def __init__(self, origin: str, *, user_verified: bool = False, user_present: bool = True,
                 has_counter: bool = True) -> None:
        self.origin = origin
        self.has_counter = has_counter  # False: always reports 0, like most synced passkeys
        self.user_verified = user_verified  # soft-webauthn never verifies; this sets the UV flag
        self.user_present = user_present  # False: answers without anyone touching it (UP clear)
        self._device = _Device()
        self._last_challenge: bytes | None = None
        self._last_response: dict[str, Any] | None = None

    @property
    def credential_id(self) -> bytes | None:
        return self._device.credential_id

    def public_key_der(self) -> bytes:
        """The credential's public key as SubjectPublicKeyInfo (what a browser's getPublicKey()
        gives a page)."""
        return bytes(self._device.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))

    @property
    def sign_count(self) -> int:
        return int(self._device.sign_count)

    def create(self, options: Options, *, origin: str | None = None, rp_id: str | None = None,
               replay_challenge: bool = False, reuse_credential: bool = False) -> dict[str, Any]:
        """navigator.credentials.create(): a new credential, answered as WebAuthn JSON.

        `reuse_credential=True` offers the credential it already holds instead of a new one.
        """
        request = creation_options_for_device(options)
        public_key = request["publicKey"]
        excluded = {entry["id"] for entry in public_key.get("excludeCredentials", [])}
        if self.credential_id is not None and self.credential_id in excluded:
            raise DeviceError("this passkey is already registered for this account")
        true_rp_id = public_key["rp"]["id"]
        self._swap_challenge(public_key, replay_challenge)
        if rp_id is not None:
            public_key["rp"]["id"] = rp_id  # the device hashes another site's RP ID
        self._device.keep_credential = reuse_credential
        try:
            made = self._device.create(request, origin or self.origin)
        except ValueError as exc:
            raise DeviceError(f"the passkey cannot answer these options: {exc}") from None
        finally:
            self._device.keep_credential = False
        self._device.rp_id = true_rp_id
        if self._flags_changed:
            made = self._with_flags_registration(made)
        return self._remember(made)

    def get(self, options: Options, *, origin: str | None = None, rp_id: str | None = None,
            replay_challenge: bool = False, ignore_allow_list: bool = False) -> dict[str, Any]:
        """navigator.credentials.get(): an assertion, answered as WebAuthn JSON."""
        request = request_options_for_device(options)
        public_key = request["publicKey"]
        if self.credential_id is None:
            raise DeviceError("this passkey holds no credential")
        if public_key.get("rpId") != self._device.rp_id:
            raise DeviceError(f"no passkey for {public_key.get('rpId')!r} on this device")
        allowed = {entry["id"] for entry in public_key.get("allowCredentials", [])}
        if allowed and self.credential_id not in allowed and not ignore_allow_list:
            raise DeviceError("no passkey for this account on this device")
        self._swap_challenge(public_key, replay_challenge)
        if not self.has_counter:
            self._device.sign_count = -1  # soft-webauthn adds one before signing: reports 0
        with self._signing_for(rp_id, public_key):
            made = self._device.get(request, origin or self.origin)
        if self._flags_changed:
            made = self._with_flags_assertion(made)
        return self._remember(made)

    def replay_last(self) -> dict[str, Any]:
        """The previous response again, verbatim: what an eavesdropper would send."""
        if self._last_response is None:
            raise DeviceError("nothing to replay yet")
        return copy.deepcopy(self._last_response)

    def clone(self) -> VirtualPasskey:
        """A copy with the same private key and counter: a cloned authenticator."""
        twin = VirtualPasskey(self.origin, user_verified=self.user_verified,
                              user_present=self.user_present, has_counter=self.has_counter)
        twin._device = copy.copy(self._device)
        return twin

    def mint_unregistered(self, rp_id: str, user_handle: bytes = b"never-registered") -> None:
        """Make a credential for rp_id without any server seeing it: one nobody registered."""
        self._device.cred_init(rp_id, user_handle)

    # -- internals ----------------------------------------------------------------------------

    def _swap_challenge(self, public_key: dict[str, Any], replay: bool) -> None:
        """Remember this challenge; with `replay`, answer the previous one instead."""
        current = public_key["challenge"]
        if replay:
            if self._last_challenge is None:
                raise DeviceError("no previous challenge to replay")
            public_key["challenge"] = self._last_challenge
        self._last_challenge = current

    @contextmanager
    def _signing_for(self, rp_id: str | None, public_key: dict[str, Any]) -> Iterator[None]:
        """Sign once as if the credential belonged to rp_id (wrong RP ID hash), then restore."""
        if rp_id is None:
            yield
            return
        true_rp_id = self._device.rp_id
        self._device.rp_id = public_key["rpId"] = rp_id
        try:
            yield
        finally:
            self._device.rp_id = true_rp_id

    def _remember(self, made: dict[str, Any]) -> dict[str, Any]:
        answer = credential_to_json(made)
        self._last_response = copy.deepcopy(answer)
        return answer

    @property
    def _flags_changed(self) -> bool:
        return self.user_verified or not self.user_present

    def _flags(self, auth_data: bytes) -> bytes:
        flags = auth_data[32] | _UV if self.user_verified else auth_data[32]
        flags = flags if self.user_present else flags & ~_UP
        return auth_data[:32] + bytes([flags]) + auth_data[33:]

    def _with_flags_registration(self, made: dict[str, Any]) -> dict[str, Any]:
        """Set the UV / UP flags in a "none" attestation (nothing is signed there)."""
        attestation = cbor.decode(made["response"]["attestationObject"])
        attestation["authData"] = self._flags(attestation["authData"])
        made["response"]["attestationObject"] = cbor.encode(attestation)
        return made

    def _with_flags_assertion(self, made: dict[str, Any]) -> dict[str, Any]:
        """Set the UV / UP flags in the authenticator data and sign it again with the key."""
        auth_data = self._flags(made["response"]["authenticatorData"])
        client_hash = hashlib.sha256(made["response"]["clientDataJSON"]).digest()
        made["response"]["authenticatorData"] = auth_data
        made["response"]["signature"] = self._device.private_key.sign(
            auth_data + client_hash, ec.ECDSA(hashes.SHA256()))
        return made
