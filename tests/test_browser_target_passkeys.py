"""Passkeys in the browser: Chromium's virtual authenticator registers and signs in, and the
browser's own failures (no authenticator at hand, a credential the clinic removed) are refused;
a counterless key answers the page's prompt itself; what only a crafted answer could show is
not applicable here."""

from __future__ import annotations

import pytest
from browser_support import outcome, provider, reference
from playwright.sync_api import Browser

from clinic2fa.scenarios.contract import Refused, Unsupported
from clinic2fa.simulator.virtual.passkey import VirtualPasskey

CANCELLED = "The passkey request was cancelled or timed out."


def test_keys_register_sign_in_and_fail_as_a_browser_fails(browser: Browser) -> None:
    with reference() as url:
        made = provider(url, browser)
        target = made.target()
        try:
            account = target.account("staff")
            session = target.sign_in(account.email, account.password).session
            laptop, phone = target.new_passkey(), target.new_passkey()
            for device, name in ((laptop, "Laptop"), (phone, "Phone")):
                options = target.begin_passkey_setup(session)
                assert options["rp"]["id"] == "localhost" and len(options["challenge"]) >= 22
                codes = target.finish_passkey_setup(session, device.create(options), name)
                assert len(codes) == (10 if device is laptop else 0)  # the first factor's
            assert target.security(session).passkeys == ("Laptop", "Phone")

            pending = target.sign_in(account.email, account.password)
            assert pending.stage == "second_step"
            absent = target.new_passkey(present=False)
            options = target.begin_passkey_sign_in(pending.session)
            with pytest.raises(Refused) as no_key:
                target.finish_passkey_sign_in(pending.session, absent.get(options))
            assert (no_key.value.code, no_key.value.message) == ("unknown", CANCELLED)

            target.remove_passkey(session, "Laptop", account.password)
            options = target.begin_passkey_sign_in(pending.session)
            with pytest.raises(Refused) as removed:
                target.finish_passkey_sign_in(pending.session, laptop.get(options))
            assert removed.value.message == CANCELLED  # Chromium finds no allowed credential

            options = target.begin_passkey_sign_in(pending.session)
            crafted = VirtualPasskey(made.origin)
            crafted.mint_unregistered("localhost")
            answer = crafted.get(options, ignore_allow_list=True)
            with pytest.raises(Unsupported, match="outside the browser"):
                target.finish_passkey_sign_in(pending.session, answer)
            with pytest.raises(Unsupported, match="misbehaves"):
                phone.get(options, origin="https://phish.test")
            done = target.finish_passkey_sign_in(pending.session, phone.get(options))
            assert done.stage == "signed_in"
            assert target.profile(done.session)["email"] == account.email
        finally:
            made.release(target)
            made.close()


@pytest.mark.parametrize(("defect", "expected"),
                         [(None, "pass"), ("passkey-user-verification-ignored", "fail")],
                         ids=["reference", "uv-ignored"])
def test_a_key_without_user_verification_reaches_the_servers_own_check(
        browser: Browser, defect: str | None, expected: str) -> None:
    # the page asks for "required"; the person's browser asks its key with "discouraged", as
    # a browser whose script ignores the page may: the server alone decides, and is seen doing it
    result = outcome(browser, "PASSKEY-USER-VERIFICATION-REQUIRED", defect=defect)
    assert result.outcome.value == expected, result.message
    if defect:
        assert "without UV" in result.message


@pytest.mark.parametrize(("defect", "expected"),
                         [(None, "pass"), ("passkey-counterless-refused", "fail")],
                         ids=["reference", "counterless-refused"])
def test_a_counterless_key_answers_in_the_page(browser: Browser, defect: str | None,
                                               expected: str) -> None:
    # Chromium's authenticator always counts: the software key answers the page's own prompt,
    # and the server sees a registration and two sign-ins that all say 0
    result = outcome(browser, "PASSKEY-SIGN-COUNT-ZERO", defect=defect)
    assert result.outcome.value == expected, result.message
    if defect:
        assert "counterless passkey, first sign-in" in result.message


@pytest.mark.parametrize("scenario_id", ["PASSKEY-OWN-CREDENTIAL-OTHER-USER",
                                         "SAME-STRENGTH-PASSKEY-OTHER-USER"])
@pytest.mark.parametrize(("defect", "expected"),
                         [(None, "pass"), ("passkey-other-users-credential", "fail")],
                         ids=["reference", "any-users-passkey"])
def test_another_users_passkey_reaches_the_server_from_a_page(
        browser: Browser, scenario_id: str, defect: str | None, expected: str) -> None:
    # the attacker's browser drops allowCredentials: its key answers with its own credential
    result = outcome(browser, scenario_id, defect=defect)
    assert result.outcome.value == expected, result.message


@pytest.mark.parametrize(("defect", "expected"),
                         [(None, "pass"), ("passkey-unregistered-accepted", "fail")],
                         ids=["reference", "unregistered-accepted"])
def test_a_credential_no_server_registered_reaches_the_server_from_a_page(
        browser: Browser, defect: str | None, expected: str) -> None:
    # a key holding a credential for the RP ID that this clinic never registered (made on
    # another device, or removed since) offers it once the allow list is dropped
    result = outcome(browser, "PASSKEY-OWN-CREDENTIAL-UNREGISTERED", defect=defect)
    assert result.outcome.value == expected, result.message
