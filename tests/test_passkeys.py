"""Passkeys on the reference, driven by the virtual passkey: the ceremonies and every refusal."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

from clinic2fa.simulator.audit import Event
from clinic2fa.simulator.clinic import BackupCodes, Clinic, Stage
from clinic2fa.simulator.clock import FakeClock
from clinic2fa.simulator.errors import ErrorCode, TwoFactorError
from clinic2fa.simulator.policy import FAST_HASH, Policy
from clinic2fa.simulator.users import Role
from clinic2fa.simulator.virtual.authenticator_app import AuthenticatorApp
from clinic2fa.simulator.virtual.passkey import VirtualPasskey

ORIGIN = "http://localhost"
OWNER = ("owner@clinic.test", "owner-Pa55-correct-horse")
ADMIN = ("admin@clinic.test", "admin-Pa55-battery-staple")
NURSE = ("nurse@clinic.test", "nurse-Pa55-gentle-floss")
DENTIST = ("dentist@clinic.test", "dentist-Pa55-molar-bridge")


def make_clinic(user_verification: str = "discouraged", **clinic: Any) -> Clinic:
    """Owner, admin and two staff; soft-webauthn never verifies the user, hence "discouraged"."""
    built = Clinic(clock=FakeClock(), policy=Policy(hash_cost=FAST_HASH),
                   user_verification=user_verification, **clinic)
    for (email, password), role in ((OWNER, Role.OWNER), (ADMIN, Role.ADMIN),
                                    (NURSE, Role.STAFF), (DENTIST, Role.STAFF)):
        built.add_user(email, password, role)
    return built


def clock_of(clinic: Clinic) -> FakeClock:
    assert isinstance(clinic.clock, FakeClock)
    return clinic.clock


def refused(call: Callable[..., object], *args: Any) -> ErrorCode:
    """The code a clinic call refuses with; anything but a TwoFactorError fails the test."""
    with pytest.raises(TwoFactorError) as caught:
        call(*args)
    return caught.value.code


def events(clinic: Clinic, event: Event) -> list[str]:
    return [e.detail for e in clinic.audit.entries() if e.event is event]


def add_passkey(clinic: Clinic, token: str, device: VirtualPasskey, name: str) -> BackupCodes:
    return clinic.finish_passkey_setup(token, device.create(clinic.begin_passkey_setup(token)),
                                       name)


@dataclass
class Holder:
    """Someone with a registered passkey; `device` signs them in."""

    clinic: Clinic
    email: str
    password: str
    device: VirtualPasskey
    token: str  # the full session they registered from
    backup_codes: list[str] = field(default_factory=list)

    def pending(self) -> str:
        signed = self.clinic.sign_in(self.email, self.password)
        assert signed.stage is Stage.SECOND_STEP
        return signed.token

    def answer(self, device: VirtualPasskey | None = None,
               **misbehaviour: Any) -> tuple[str, dict[str, Any]]:
        """A second-step token and the device's answer to its sign-in options."""
        token = self.pending()
        options = self.clinic.begin_passkey_sign_in(token)
        return token, (device or self.device).get(options, **misbehaviour)

    def sign_in(self, device: VirtualPasskey | None = None) -> str:
        """The full session's token (a new one: SESSION-NEW-TOKEN)."""
        token, answer = self.answer(device)
        done = self.clinic.finish_passkey_sign_in(token, answer)
        assert done.stage is Stage.SIGNED_IN
        return done.token


def holder(clinic: Clinic, person: tuple[str, str] = NURSE, **device: Any) -> Holder:
    email, password = person
    token = clinic.sign_in(email, password).token
    key = VirtualPasskey(ORIGIN, **device)
    codes = add_passkey(clinic, token, key, "laptop")
    return Holder(clinic, email, password, key, token, codes)


@pytest.fixture
def nurse() -> Holder:
    """A staff member whose only factor is one passkey, "laptop"."""
    return holder(make_clinic())


# -- PASSKEY-FACTOR -----------------------------------------------------------------------------


def test_PASSKEY_FACTOR_a_registered_passkey_turns_2fa_on_and_passes_the_second_step(
        nurse: Holder) -> None:
    clinic = nurse.clinic
    status = clinic.security(nurse.token)
    assert status.two_factor_enabled and status.passkeys == ("laptop",)
    assert not status.authenticator_app
    assert len(nurse.backup_codes) == 10 == status.backup_codes_left  # first factor: codes
    assert events(clinic, Event.PASSKEY_ADDED) == ["laptop"]
    token = nurse.pending()
    assert refused(clinic.profile, token) is ErrorCode.SECOND_STEP_REQUIRED
    options = clinic.begin_passkey_sign_in(token)
    result = clinic.finish_passkey_sign_in(token, nurse.device.get(options))
    assert result.stage is Stage.SIGNED_IN and result.token != token  # SESSION-NEW-TOKEN
    assert refused(clinic.profile, token) is ErrorCode.NOT_SIGNED_IN
    assert clinic.profile(result.token).email == nurse.email
    assert events(clinic, Event.SECOND_STEP_PASSED)[-1] == "passkey laptop"
    assert refused(clinic.enter_code, nurse.pending(), "123456") is ErrorCode.NOT_ENROLLED


def test_PASSKEY_FACTOR_a_passkey_next_to_the_app_issues_no_new_backup_codes() -> None:
    clinic = make_clinic()
    token = clinic.sign_in(*NURSE).token
    setup = clinic.start_authenticator_setup(token)
    phone = AuthenticatorApp(clinic.clock.now)
    phone.scan(setup.qr_png)
    codes = clinic.confirm_authenticator(token, phone.code())
    assert add_passkey(clinic, token, VirtualPasskey(ORIGIN), "key") == []
    assert clinic.use_backup_code(clinic.sign_in(*NURSE).token, codes[0]).stage is Stage.SIGNED_IN


def test_PASSKEY_FACTOR_several_passkeys_are_listed_each_signs_in_and_each_can_be_removed(
        nurse: Holder) -> None:
    clinic, phone_key, yubikey = nurse.clinic, VirtualPasskey(ORIGIN), VirtualPasskey(ORIGIN)
    assert add_passkey(clinic, nurse.token, phone_key, "phone") == []  # codes only the once
    assert add_passkey(clinic, nurse.token, yubikey, "  security   key ") == []
    assert clinic.security(nurse.token).passkeys == ("laptop", "phone", "security key")
    options = clinic.begin_passkey_sign_in(nurse.pending())
    assert len(options["allowCredentials"]) == 3
    for device in (nurse.device, phone_key, yubikey):
        nurse.sign_in(device)
    clinic.remove_passkey(nurse.token, "phone", nurse.password)
    assert clinic.security(nurse.token).passkeys == ("laptop", "security key")
    assert events(clinic, Event.PASSKEY_REMOVED) == ["phone"]
    token, answer = nurse.answer(phone_key, ignore_allow_list=True)
    assert refused(clinic.finish_passkey_sign_in, token, answer) is \
        ErrorCode.PASSKEY_UNKNOWN_CREDENTIAL
    clinic.remove_passkey(nurse.token, "security key", nurse.password)
    nurse.sign_in()
    assert refused(clinic.remove_passkey, nurse.token, "phone", nurse.password) is \
        ErrorCode.NOT_ENROLLED


def test_PASSKEY_FACTOR_a_name_is_required_and_unique_and_a_bad_one_keeps_the_challenge(
        nurse: Holder) -> None:
    clinic, device = nurse.clinic, VirtualPasskey(ORIGIN)
    answer = device.create(clinic.begin_passkey_setup(nurse.token))
    for name in ("laptop", "   "):
        assert refused(clinic.finish_passkey_setup, nurse.token, answer, name) is \
            ErrorCode.INVALID_REQUEST
    clinic.finish_passkey_setup(nurse.token, answer, "tablet")
    assert clinic.security(nurse.token).passkeys == ("laptop", "tablet")


def test_PASSKEY_FACTOR_removing_a_passkey_needs_the_password(nurse: Holder) -> None:
    clinic = nurse.clinic
    add_passkey(clinic, nurse.token, VirtualPasskey(ORIGIN), "phone")
    assert refused(clinic.remove_passkey, nurse.token, "phone", "wrong") is \
        ErrorCode.PASSWORD_REQUIRED
    assert clinic.security(nurse.token).passkeys == ("laptop", "phone")


def test_PASSKEY_FACTOR_a_passkey_alone_satisfies_enforcement() -> None:
    clinic = make_clinic()
    owner = clinic.sign_in(*OWNER).token
    clinic.set_enforcement(owner, required=True)
    signed = clinic.sign_in(*NURSE)
    assert signed.stage is Stage.ENROLMENT
    assert refused(clinic.profile, signed.token) is ErrorCode.ENROLMENT_REQUIRED
    device = VirtualPasskey(ORIGIN)
    codes = add_passkey(clinic, signed.token, device, "key")
    assert len(codes) == 10
    assert refused(clinic.profile, signed.token) is ErrorCode.NOT_SIGNED_IN  # a new token:
    assert clinic.profile(codes.session).email == NURSE[0]  # promoted like confirm_authenticator
    later = Holder(clinic, *NURSE, device, codes.session)
    later.sign_in()


def test_PASSKEY_FACTOR_the_last_factor_cannot_be_removed_under_enforcement(
        nurse: Holder) -> None:
    clinic = nurse.clinic
    clinic.set_enforcement(clinic.sign_in(*OWNER).token, required=True)
    assert refused(clinic.remove_passkey, nurse.token, "laptop", nurse.password) is \
        ErrorCode.ENFORCED
    add_passkey(clinic, nurse.token, VirtualPasskey(ORIGIN), "spare")
    clinic.remove_passkey(nurse.token, "laptop", nurse.password)  # not the last any more
    assert refused(clinic.remove_passkey, nurse.token, "spare", nurse.password) is \
        ErrorCode.ENFORCED


def test_PASSKEY_FACTOR_removing_the_last_factor_when_optional_turns_2fa_off(
        nurse: Holder) -> None:
    clinic = nurse.clinic
    other = nurse.sign_in()
    clinic.remove_passkey(nurse.token, "laptop", nurse.password)
    status = clinic.security(nurse.token)
    assert not status.two_factor_enabled and status.backup_codes_left == 0
    assert refused(clinic.profile, other) is ErrorCode.NOT_SIGNED_IN  # like Disable 2FA
    assert clinic.sign_in(nurse.email, nurse.password).stage is Stage.SIGNED_IN


def test_PASSKEY_FACTOR_admin_disable_removes_passkeys(nurse: Holder) -> None:
    clinic = nurse.clinic
    clinic.disable_2fa_for(clinic.sign_in(*ADMIN).token, nurse.email)
    assert clinic.sign_in(nurse.email, nurse.password).stage is Stage.SIGNED_IN
    token = clinic.sign_in(nurse.email, nurse.password).token
    assert clinic.security(token).passkeys == ()


def test_PASSKEY_FACTOR_self_disable_needs_the_password_and_removes_passkeys(
        nurse: Holder) -> None:
    clinic = nurse.clinic
    assert refused(clinic.disable_2fa, nurse.token, "wrong") is ErrorCode.PASSWORD_REQUIRED
    assert clinic.security(nurse.token).passkeys == ("laptop",)
    clinic.disable_2fa(nurse.token, nurse.password)
    assert clinic.security(nurse.token).passkeys == ()
    assert clinic.sign_in(nurse.email, nurse.password).stage is Stage.SIGNED_IN


def test_PASSKEY_FACTOR_each_ceremony_is_open_only_to_its_stage(nurse: Holder) -> None:
    clinic = nurse.clinic
    pending = nurse.pending()
    assert refused(clinic.begin_passkey_setup, pending) is ErrorCode.SECOND_STEP_REQUIRED
    assert refused(clinic.remove_passkey, pending, "laptop", nurse.password) is \
        ErrorCode.SECOND_STEP_REQUIRED
    assert refused(clinic.begin_passkey_sign_in, nurse.token) is ErrorCode.INVALID_REQUEST
    plain = clinic.sign_in(*DENTIST)
    assert refused(clinic.begin_passkey_sign_in, plain.token) is ErrorCode.INVALID_REQUEST


# -- PASSKEY-CHALLENGE --------------------------------------------------------------------------


def test_PASSKEY_CHALLENGE_options_carry_a_fresh_random_challenge_and_the_right_lists(
        nurse: Holder) -> None:
    clinic = nurse.clinic
    first, second = (clinic.begin_passkey_setup(nurse.token) for _ in range(2))
    assert len(base64url_to_bytes(first["challenge"])) >= 16
    assert first["challenge"] != second["challenge"]
    assert first["rp"]["id"] == "localhost"
    assert first["authenticatorSelection"]["userVerification"] == "discouraged"
    laptop = bytes_to_base64url(nurse.device.credential_id or b"")
    assert [c["id"] for c in first["excludeCredentials"]] == [laptop]
    holder(clinic, DENTIST)  # another user's passkey never appears in the nurse's lists
    request = clinic.begin_passkey_sign_in(nurse.pending())
    assert [c["id"] for c in request["allowCredentials"]] == [laptop]
    assert len(base64url_to_bytes(request["challenge"])) >= 16


def test_PASSKEY_CHALLENGE_a_registration_response_is_accepted_once(nurse: Holder) -> None:
    clinic, device = nurse.clinic, VirtualPasskey(ORIGIN)
    answer = device.create(clinic.begin_passkey_setup(nurse.token))
    clinic.finish_passkey_setup(nurse.token, answer, "phone")
    assert refused(clinic.finish_passkey_setup, nurse.token, answer, "phone again") is \
        ErrorCode.PASSKEY_CHALLENGE_INVALID
    assert clinic.security(nurse.token).passkeys == ("laptop", "phone")


def test_PASSKEY_CHALLENGE_a_registration_over_an_old_challenge_is_refused(
        nurse: Holder) -> None:
    clinic, device = nurse.clinic, VirtualPasskey(ORIGIN)
    device.create(clinic.begin_passkey_setup(nurse.token))  # abandoned: never finished
    answer = device.create(clinic.begin_passkey_setup(nurse.token), replay_challenge=True)
    assert refused(clinic.finish_passkey_setup, nurse.token, answer, "phone") is \
        ErrorCode.PASSKEY_CHALLENGE_INVALID
    assert events(clinic, Event.PASSKEY_REJECTED) == ["setup: passkey_challenge_invalid"]


def test_PASSKEY_CHALLENGE_an_assertion_over_an_old_challenge_is_refused(nurse: Holder) -> None:
    nurse.sign_in()
    token, answer = nurse.answer(replay_challenge=True)
    assert refused(nurse.clinic.finish_passkey_sign_in, token, answer) is \
        ErrorCode.PASSKEY_CHALLENGE_INVALID


def test_PASSKEY_CHALLENGE_a_replayed_assertion_is_refused(nurse: Holder) -> None:
    clinic = nurse.clinic
    nurse.sign_in()
    token = nurse.pending()
    clinic.begin_passkey_sign_in(token)
    assert refused(clinic.finish_passkey_sign_in, token, nurse.device.replay_last()) is \
        ErrorCode.PASSKEY_CHALLENGE_INVALID


def test_PASSKEY_CHALLENGE_the_first_attempt_consumes_it_even_when_it_fails(
        nurse: Holder) -> None:
    clinic = nurse.clinic
    token = nurse.pending()
    options = clinic.begin_passkey_sign_in(token)
    phished = nurse.device.get(options, origin="https://clinic-login.example")
    assert refused(clinic.finish_passkey_sign_in, token, phished) is \
        ErrorCode.PASSKEY_ORIGIN_MISMATCH
    good = nurse.device.get(options)
    assert refused(clinic.finish_passkey_sign_in, token, good) is \
        ErrorCode.PASSKEY_CHALLENGE_INVALID
    assert refused(clinic.finish_passkey_sign_in, nurse.pending(), good) is \
        ErrorCode.PASSKEY_CHALLENGE_INVALID  # never begun in that session


def test_PASSKEY_CHALLENGE_is_bound_to_the_session_that_asked(nurse: Holder) -> None:
    clinic = nurse.clinic
    first, second = nurse.pending(), nurse.pending()
    answer = nurse.device.get(clinic.begin_passkey_sign_in(first))
    assert refused(clinic.finish_passkey_sign_in, second, answer) is \
        ErrorCode.PASSKEY_CHALLENGE_INVALID
    assert clinic.finish_passkey_sign_in(first, answer).stage is Stage.SIGNED_IN
    assert refused(clinic.profile, second) is ErrorCode.SECOND_STEP_REQUIRED


def test_PASSKEY_CHALLENGE_expires_after_the_pending_ttl(nurse: Holder) -> None:
    clinic, clock, ttl = nurse.clinic, clock_of(nurse.clinic), nurse.clinic.policy.pending_ttl
    late, on_time = VirtualPasskey(ORIGIN), VirtualPasskey(ORIGIN)
    answer = late.create(clinic.begin_passkey_setup(nurse.token))
    clock.advance(ttl)
    assert refused(clinic.finish_passkey_setup, nurse.token, answer, "late") is \
        ErrorCode.PASSKEY_CHALLENGE_INVALID
    answer = on_time.create(clinic.begin_passkey_setup(nurse.token))
    clock.advance(ttl - 1)
    clinic.finish_passkey_setup(nurse.token, answer, "on time")
    token = nurse.pending()
    clock.advance(ttl // 2)
    options = clinic.begin_passkey_sign_in(token)
    clock.advance(ttl // 2 - 1)  # the second-step session itself still lives
    assert clinic.finish_passkey_sign_in(token, nurse.device.get(options)).stage is \
        Stage.SIGNED_IN


# -- PASSKEY-ORIGIN-RPID ------------------------------------------------------------------------


@pytest.mark.parametrize(("misbehaviour", "code"), [
    ({"origin": "https://clinic-login.example"}, ErrorCode.PASSKEY_ORIGIN_MISMATCH),
    ({"origin": "http://localhost:8080"}, ErrorCode.PASSKEY_ORIGIN_MISMATCH),
    ({"rp_id": "clinic-login.example"}, ErrorCode.PASSKEY_RP_ID_MISMATCH),
])
def test_PASSKEY_ORIGIN_RPID_registration_elsewhere_is_refused(
        nurse: Holder, misbehaviour: dict[str, str], code: ErrorCode) -> None:
    clinic = nurse.clinic
    answer = VirtualPasskey(ORIGIN).create(clinic.begin_passkey_setup(nurse.token),
                                           **misbehaviour)
    assert refused(clinic.finish_passkey_setup, nurse.token, answer, "phone") is code
    assert clinic.security(nurse.token).passkeys == ("laptop",)
    assert events(clinic, Event.PASSKEY_REJECTED) == [f"setup: {code.value}"]


@pytest.mark.parametrize(("misbehaviour", "code"), [
    ({"origin": "https://clinic-login.example"}, ErrorCode.PASSKEY_ORIGIN_MISMATCH),
    ({"origin": "https://localhost"}, ErrorCode.PASSKEY_ORIGIN_MISMATCH),
    ({"rp_id": "clinic-login.example"}, ErrorCode.PASSKEY_RP_ID_MISMATCH),
])
def test_PASSKEY_ORIGIN_RPID_assertion_elsewhere_is_refused(
        nurse: Holder, misbehaviour: dict[str, str], code: ErrorCode) -> None:
    token, answer = nurse.answer(**misbehaviour)
    assert refused(nurse.clinic.finish_passkey_sign_in, token, answer) is code
    assert events(nurse.clinic, Event.SECOND_STEP_FAILED) == [code.value]


def test_PASSKEY_ORIGIN_RPID_the_user_must_be_present(nurse: Holder) -> None:
    clinic, absent = nurse.clinic, VirtualPasskey(ORIGIN, user_present=False)
    answer = absent.create(clinic.begin_passkey_setup(nurse.token))
    assert refused(clinic.finish_passkey_setup, nurse.token, answer, "phone") is \
        ErrorCode.PASSKEY_INVALID
    nurse.device.user_present = False
    token, answer = nurse.answer()
    assert refused(clinic.finish_passkey_sign_in, token, answer) is ErrorCode.PASSKEY_INVALID


def test_PASSKEY_ORIGIN_RPID_follow_the_clinic_configuration() -> None:
    clinic = make_clinic(rp_id="clinic.test", origin="https://app.clinic.test:8443")
    token = clinic.sign_in(*NURSE).token
    options = clinic.begin_passkey_setup(token)
    assert options["rp"]["id"] == "clinic.test"
    answer = VirtualPasskey("https://app.clinic.test:8443").create(options)
    clinic.finish_passkey_setup(token, answer, "key")
    assert refused(add_passkey, clinic, token, VirtualPasskey(ORIGIN), "other") is \
        ErrorCode.PASSKEY_ORIGIN_MISMATCH


# -- PASSKEY-SIGN-COUNT -------------------------------------------------------------------------


def test_PASSKEY_SIGN_COUNT_a_cloned_authenticator_is_refused_and_logged(nurse: Holder) -> None:
    clinic = nurse.clinic
    clone = nurse.device.clone()
    nurse.sign_in()  # the original moves to 1
    token, answer = nurse.answer(clone)  # the clone also says 1
    assert refused(clinic.finish_passkey_sign_in, token, answer) is ErrorCode.PASSKEY_SIGN_COUNT
    assert events(clinic, Event.PASSKEY_REJECTED) == [
        "passkey_sign_count: possible cloned authenticator"]
    assert clinic._users[nurse.email].passkeys[0].sign_count == 1
    nurse.sign_in()  # the original, at 2, still works


def test_PASSKEY_SIGN_COUNT_the_stored_count_follows_each_accepted_assertion(
        nurse: Holder) -> None:
    stale = nurse.device.clone()
    nurse.sign_in()
    nurse.sign_in()
    nurse.sign_in()
    assert nurse.clinic._users[nurse.email].passkeys[0].sign_count == 3
    stale.get(nurse.clinic.begin_passkey_sign_in(nurse.pending()))  # 1
    stale.get(nurse.clinic.begin_passkey_sign_in(nurse.pending()))  # 2
    token, answer = nurse.answer(stale)  # 3: equal to the stored count, not above it
    assert refused(nurse.clinic.finish_passkey_sign_in, token, answer) is \
        ErrorCode.PASSKEY_SIGN_COUNT


def test_PASSKEY_SIGN_COUNT_an_authenticator_without_a_counter_keeps_working() -> None:
    synced = holder(make_clinic(), has_counter=False)
    synced.sign_in()
    synced.sign_in()
    assert synced.clinic._users[synced.email].passkeys[0].sign_count == 0


# -- PASSKEY-USER-VERIFICATION ------------------------------------------------------------------


def test_PASSKEY_USER_VERIFICATION_required_by_policy_refuses_a_key_that_did_not_verify() -> None:
    clinic = make_clinic(user_verification="required")
    token = clinic.sign_in(*NURSE).token
    options = clinic.begin_passkey_setup(token)
    assert options["authenticatorSelection"]["userVerification"] == "required"
    answer = VirtualPasskey(ORIGIN).create(options)
    assert refused(clinic.finish_passkey_setup, token, answer, "key") is \
        ErrorCode.PASSKEY_USER_VERIFICATION
    verified = holder(clinic, user_verified=True)
    verified.sign_in()
    verified.device.user_verified = False
    token, answer = verified.answer()
    assert refused(clinic.finish_passkey_sign_in, token, answer) is \
        ErrorCode.PASSKEY_USER_VERIFICATION


def test_PASSKEY_USER_VERIFICATION_required_is_the_default_preferred_is_not_enforced() -> None:
    """The guide's authenticators (Touch ID, Face ID, Windows Hello, security keys) all verify
    their user, so the reference asks for it; a clinic may relax it to "preferred"."""
    default = Clinic(policy=Policy(hash_cost=FAST_HASH))
    default.add_user(*NURSE, Role.STAFF)
    token = default.sign_in(*NURSE).token
    assert default.begin_passkey_setup(token)["authenticatorSelection"]["userVerification"] == \
        "required"
    relaxed = make_clinic(user_verification="preferred")
    holder(relaxed, user_verified=False).sign_in()
    with pytest.raises(ValueError, match="sometimes"):
        make_clinic(user_verification="sometimes")


# -- PASSKEY-OWN-CREDENTIAL ---------------------------------------------------------------------


def test_PASSKEY_OWN_CREDENTIAL_a_credential_nobody_registered_is_refused(nurse: Holder) -> None:
    stranger = VirtualPasskey(ORIGIN)
    stranger.mint_unregistered("localhost")
    token, answer = nurse.answer(stranger, ignore_allow_list=True)
    assert refused(nurse.clinic.finish_passkey_sign_in, token, answer) is \
        ErrorCode.PASSKEY_UNKNOWN_CREDENTIAL


def test_PASSKEY_OWN_CREDENTIAL_another_users_passkey_is_refused(nurse: Holder) -> None:
    dentist = holder(nurse.clinic, DENTIST)
    token, answer = nurse.answer(dentist.device, ignore_allow_list=True)
    assert refused(nurse.clinic.finish_passkey_sign_in, token, answer) is \
        ErrorCode.PASSKEY_UNKNOWN_CREDENTIAL
    dentist.sign_in()  # the dentist's own sign-in is unaffected


def test_PASSKEY_OWN_CREDENTIAL_a_foreign_user_handle_is_refused(nurse: Holder) -> None:
    """userHandle is not signed, so a tampered one must be caught by the check itself."""
    dentist = holder(nurse.clinic, DENTIST)
    token, answer = nurse.answer()
    dentist_handle = dentist.answer()[1]["response"]["userHandle"]
    answer["response"]["userHandle"] = dentist_handle
    assert refused(nurse.clinic.finish_passkey_sign_in, token, answer) is \
        ErrorCode.PASSKEY_UNKNOWN_CREDENTIAL


def test_PASSKEY_OWN_CREDENTIAL_a_credential_id_is_registered_to_one_user_only(
        nurse: Holder) -> None:
    """WebAuthn s7.1: an id already known fails registration, for any account."""
    clinic = nurse.clinic
    dentist_token = clinic.sign_in(*DENTIST).token
    thief = nurse.device.clone()
    answer = thief.create(clinic.begin_passkey_setup(dentist_token), reuse_credential=True)
    assert answer["id"] == bytes_to_base64url(nurse.device.credential_id or b"")
    assert refused(clinic.finish_passkey_setup, dentist_token, answer, "key") is \
        ErrorCode.PASSKEY_INVALID
    assert clinic.security(dentist_token).passkeys == ()
    assert events(clinic, Event.PASSKEY_REJECTED) == ["setup: passkey_invalid"]


# -- refusals in general ------------------------------------------------------------------------


def test_refused_assertions_count_towards_lock_out(nurse: Holder) -> None:
    clinic = nurse.clinic
    for _ in range(clinic.policy.max_failures):
        token, answer = nurse.answer(origin="https://clinic-login.example")
        refused(clinic.finish_passkey_sign_in, token, answer)
    assert events(clinic, Event.LOCKED_OUT)
    token = nurse.pending()
    assert refused(clinic.begin_passkey_sign_in, token) is ErrorCode.LOCKED_OUT
    assert refused(clinic.finish_passkey_sign_in, token, nurse.device.replay_last()) is \
        ErrorCode.LOCKED_OUT
    clock_of(clinic).advance(clinic.policy.lockout_seconds)
    nurse.sign_in()


def _tampered(answer: dict[str, Any], where: str, value: Any) -> dict[str, Any]:
    broken = copy.deepcopy(answer)
    if where in broken["response"]:
        broken["response"][where] = value
    else:
        broken[where] = value
    return broken


@pytest.mark.parametrize(("where", "value"), [
    ("signature", bytes_to_base64url(b"\x30\x06\x02\x01\x01\x02\x01\x01")),
    ("signature", "!!not base64!!"),
    ("signature", None),
    ("authenticatorData", bytes_to_base64url(b"short")),
    ("clientDataJSON", bytes_to_base64url(b"{not json")),
    ("clientDataJSON", bytes_to_base64url(json.dumps({"type": "webauthn.get"}).encode())),
    ("id", "AAAA"),
    ("type", "password"),
    ("response", "nothing"),
])
def test_malformed_assertions_are_refused_as_passkey_invalid(nurse: Holder, where: str,
                                                             value: Any) -> None:
    token, answer = nurse.answer()
    assert refused(nurse.clinic.finish_passkey_sign_in, token, _tampered(answer, where, value)) \
        is ErrorCode.PASSKEY_INVALID


def test_an_assertion_given_to_registration_is_refused_as_passkey_invalid(nurse: Holder) -> None:
    clinic = nurse.clinic
    clinic.begin_passkey_setup(nurse.token)
    assert refused(clinic.finish_passkey_setup, nurse.token, nurse.answer()[1], "x") is \
        ErrorCode.PASSKEY_INVALID


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                 max_size=4),
    max_leaves=12)
FIELDS = ["id", "rawId", "type", "clientDataJSON", "authenticatorData", "signature",
          "userHandle", "attestationObject"]


def _never_a_bare_exception(call: Callable[..., object], *args: Any) -> None:
    """The call may succeed (a field that does not matter was changed) or refuse a passkey."""
    try:
        call(*args)
    except TwoFactorError as refusal:
        assert refusal.code.value.startswith("passkey_"), refusal


@given(junk=JSON, where=st.sampled_from(FIELDS), as_text=st.booleans())
def test_no_input_gets_anything_but_a_passkey_refusal(junk: Any, where: str,
                                                      as_text: bool) -> None:
    """Junk, or a genuine answer with one field replaced by junk: never a bare exception."""
    nurse = holder(make_clinic())
    token, _ = nurse.answer()
    sent = json.dumps(junk) if as_text else junk
    assert refused(nurse.clinic.finish_passkey_sign_in, token, sent).value.startswith("passkey_")
    token, genuine = nurse.answer()
    tampered = _tampered(genuine, where, junk)
    _never_a_bare_exception(nurse.clinic.finish_passkey_sign_in, token,
                            json.dumps(tampered) if as_text else tampered)
    answer = VirtualPasskey(ORIGIN).create(nurse.clinic.begin_passkey_setup(nurse.token))
    _never_a_bare_exception(nurse.clinic.finish_passkey_setup, nurse.token,
                            _tampered(answer, where, junk), "x")
