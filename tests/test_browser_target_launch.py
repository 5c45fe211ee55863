"""The browser target's parts that need no browser: launch flags, the mapping file, the scheme,
and the reference's refusal messages read back as contract codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from clinic2fa.scenarios.core.model import REGISTRY
from clinic2fa.scenarios.errors import UsageError
from clinic2fa.scenarios.targets import factory
from clinic2fa.scenarios.targets.browser import chromium, locators
from clinic2fa.scenarios.targets.browser.provider import BrowserProvider
from clinic2fa.scenarios.targets.config import load
from clinic2fa.simulator.errors import ErrorCode, Reason, TwoFactorError


def test_the_harness_launches_debians_chromium_kept_off_the_internet() -> None:
    assert chromium.executable() == "/usr/lib/chromium/chromium"  # no wrapper script warning
    assert {"--disable-background-networking", "--disable-component-update",
            "--no-sandbox"} <= set(chromium.ARGS)
    with pytest.raises(UsageError, match="never downloads a browser"):
        chromium.executable("/nowhere/chromium")


def test_the_scheme_builds_a_browser_provider() -> None:
    made = factory.build("browser+http://127.0.0.1:8000")
    assert isinstance(made, BrowserProvider)
    assert made.name == "browser+http://127.0.0.1:8000"
    assert made.origin == "http://localhost:8000"  # the pages' origin: WebAuthn wants a name
    with pytest.raises(UsageError, match="browser\\+http://HOST:PORT"):
        factory.build("browser+ftp://clinic.example")


def test_every_scenario_runs_in_the_browser_none_is_deferred() -> None:
    """No scope: what the pages cannot express is unsupported in the run, not sent elsewhere."""
    made = factory.build("browser+http://localhost:8000")
    assert made.inapplicable(REGISTRY["TOTP-REPLAY-TWO-SIGN-INS"]) is None
    with pytest.raises(UsageError, match="scope is gone"):
        locators.parse({"scope": "all"})


def test_a_config_file_carries_the_mapping(tmp_path: Path) -> None:
    path = tmp_path / "clinic.toml"
    path.write_text('[browser]\n[browser.locators]\n'
                    'setup_authenticator = { role = "button", name = "Add authenticator" }\n'
                    'confirm_submit = "#activate"\n[browser.pages]\nsecurity = "/account"\n')
    mapping = locators.parse(load(path).browser)
    assert mapping.locators["setup_authenticator"] == locators.Spec("role", "button",
                                                                    "Add authenticator")
    assert mapping.locators["confirm_submit"] == locators.Spec("css", "#activate")
    assert mapping.pages["security"] == "/account" and mapping.pages["staff"] == "/settings/staff"
    assert mapping.describe()["locators_overridden"] == ["confirm_submit", "setup_authenticator"]


@pytest.mark.parametrize(("table", "complaint"), [
    ({"colour": "blue"}, "unknown key 'colour'"),
    ({"locators": {"no_such_thing": {"css": "x"}}}, "no locator the browser target uses"),
    ({"locators": {"qr_code": {"css": "x", "role": "img"}}}, "give exactly one of"),
    ({"locators": {"qr_code": {"css": "x", "within": "nowhere"}}}, "within names no locator"),
    ({"pages": {"security": "account"}}, "[browser.pages] security"),
    ({"messages": [{"pattern": "(", "code": "x"}]}, "not a regular expression"),
    ({"messages": [{"pattern": "x"}]}, "expected pattern"),
])
def test_mistakes_in_the_mapping_are_usage_errors(table: dict[str, object],
                                                  complaint: str) -> None:
    with pytest.raises(UsageError, match=complaint.replace("[", "\\[")):
        locators.parse(table)


@pytest.mark.parametrize(("refusal", "code", "reason"), [
    (TwoFactorError(ErrorCode.CODE_REJECTED, reason=Reason.WRONG_CODE), "code_rejected",
     "wrong_code"),
    (TwoFactorError(ErrorCode.CODE_REJECTED, reason=Reason.TIME_SKEW), "code_rejected",
     "time_skew"),
    (TwoFactorError(ErrorCode.CODE_REJECTED, reason=Reason.ALREADY_USED), "code_rejected",
     "already_used"),
    (TwoFactorError(ErrorCode.CODE_REJECTED, reason=Reason.MALFORMED), "code_rejected",
     "malformed"),
    (TwoFactorError(ErrorCode.PASSWORD_REQUIRED, "Re-enter your password."),
     "password_required", None),
    (TwoFactorError(ErrorCode.NOT_PERMITTED, "Only the owner's own account can change the "
                                             "owner's 2FA."), "not_permitted", None),
])
def test_the_references_alerts_read_as_its_codes(refusal: TwoFactorError, code: str,
                                                 reason: str | None) -> None:
    assert locators.DEFAULT.refusal(f"  {refusal.message}\n") == (code, reason)
    assert locators.DEFAULT.refusal("Something else entirely.") == ("unknown", None)
