"""The virtual passkey alone: py_webauthn accepts its WebAuthn JSON; it acts like a real key."""

from __future__ import annotations

import json
from typing import Any

import pytest
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url, parse_authenticator_data
from webauthn.helpers.structs import PublicKeyCredentialDescriptor

from clinic2fa.simulator.virtual.authenticator_app import DeviceError
from clinic2fa.simulator.virtual.passkey import VirtualPasskey

ORIGIN, RP_ID = "http://localhost", "localhost"


def creation() -> tuple[bytes, dict[str, Any]]:
    options = generate_registration_options(rp_id=RP_ID, rp_name="Clinic", user_name="a@b.test")
    return options.challenge, json.loads(options_to_json(options))


def request(*allowed: bytes) -> tuple[bytes, dict[str, Any]]:
    options = generate_authentication_options(
        rp_id=RP_ID, allow_credentials=[PublicKeyCredentialDescriptor(id=i) for i in allowed])
    return options.challenge, json.loads(options_to_json(options))


def registered(device: VirtualPasskey, *, require_uv: bool = False) -> bytes:
    challenge, options = creation()
    verified = verify_registration_response(
        credential=device.create(options), expected_challenge=challenge, expected_rp_id=RP_ID,
        expected_origin=ORIGIN, require_user_verification=require_uv)
    return verified.credential_public_key


def test_create_answers_webauthn_json_that_py_webauthn_accepts_as_it_is() -> None:
    device = VirtualPasskey(ORIGIN)
    challenge, options = creation()
    answer = device.create(json.dumps(options))  # a JSON string works as well as a dict
    assert answer["id"] == answer["rawId"] and "=" not in answer["id"]
    assert base64url_to_bytes(answer["rawId"]) == device.credential_id
    assert answer["type"] == "public-key"
    verified = verify_registration_response(credential=answer, expected_challenge=challenge,
                                            expected_rp_id=RP_ID, expected_origin=ORIGIN)
    assert verified.credential_id == device.credential_id and verified.sign_count == 0


def test_get_answers_an_assertion_py_webauthn_verifies_and_the_count_goes_up() -> None:
    device = VirtualPasskey(ORIGIN)
    public_key = registered(device)
    for expected_count in (1, 2):
        challenge, options = request(device.credential_id or b"")
        verified = verify_authentication_response(
            credential=device.get(options), expected_challenge=challenge, expected_rp_id=RP_ID,
            expected_origin=ORIGIN, credential_public_key=public_key,
            credential_current_sign_count=expected_count - 1)
        assert verified.new_sign_count == expected_count == device.sign_count


def test_user_verified_device_sets_the_uv_flag_in_both_ceremonies() -> None:
    device = VirtualPasskey(ORIGIN, user_verified=True)
    public_key = registered(device, require_uv=True)
    challenge, options = request(device.credential_id or b"")
    verified = verify_authentication_response(
        credential=device.get(options), expected_challenge=challenge, expected_rp_id=RP_ID,
        expected_origin=ORIGIN, credential_public_key=public_key,
        credential_current_sign_count=0, require_user_verification=True)
    assert verified.user_verified


def test_absent_user_clears_the_up_flag_with_a_valid_signature() -> None:
    device = VirtualPasskey(ORIGIN)
    registered(device)
    device.user_present = False
    _, options = request(device.credential_id or b"")
    answer = device.get(options)
    flags = parse_authenticator_data(base64url_to_bytes(answer["response"]["authenticatorData"]))
    assert not flags.flags.up


def test_a_well_behaved_device_refuses_what_a_real_authenticator_would() -> None:
    device = VirtualPasskey(ORIGIN)
    with pytest.raises(DeviceError, match="no credential"):
        device.get(request()[1])
    registered(device)
    with pytest.raises(DeviceError, match="this account"):
        device.get(request(b"someone else's credential")[1])
    _, options = creation()
    options["excludeCredentials"] = [
        {"id": bytes_to_base64url(device.credential_id or b""), "type": "public-key"}]
    with pytest.raises(DeviceError, match="already registered"):
        device.create(options)
    _, other_site = request(device.credential_id or b"")
    other_site["rpId"] = "evil.test"
    with pytest.raises(DeviceError, match=r"evil\.test"):
        device.get(other_site)


def test_misbehaviours_do_what_they_say() -> None:
    device = VirtualPasskey(ORIGIN)
    registered(device)
    first_challenge, first = request(device.credential_id or b"")
    answer = device.get(first)
    assert device.replay_last() == answer
    _, second = request(device.credential_id or b"")
    replayed = device.get(second, replay_challenge=True)
    client = json.loads(base64url_to_bytes(replayed["response"]["clientDataJSON"]))
    assert base64url_to_bytes(client["challenge"]) == first_challenge
    assert device.get(request()[1], origin="https://evil.test")["response"]
    twin = device.clone()
    assert twin.credential_id == device.credential_id and twin.sign_count == device.sign_count
    other = VirtualPasskey(ORIGIN)
    other.mint_unregistered(RP_ID)
    assert other.get(request(device.credential_id or b"")[1], ignore_allow_list=True)


def test_replay_needs_something_to_replay() -> None:
    device = VirtualPasskey(ORIGIN)
    with pytest.raises(DeviceError):
        device.replay_last()
    with pytest.raises(DeviceError):
        device.create(creation()[1], replay_challenge=True)

