"""The TOTP secret after enrolment: never shown again, on any page or in any answer."""

from __future__ import annotations

from typing import Any

from clinic2fa.scenarios.contract import Refused
from clinic2fa.scenarios.core.context import Context, staff_page
from clinic2fa.scenarios.core.model import Level, scenario


@scenario("SECRET-NOT-DISCLOSED-AFTER-CONFIRM", verifies=["SECRET-NOT-DISCLOSED"],
          level=Level.MUST,
          quote="Once enrolment is confirmed, no page, API response, export or log MUST contain "
                "the TOTP secret, its QR code or its Key URI again")
def secret_never_again(ctx: Context) -> None:
    """After confirming, no answer the user or an admin gets contains the secret"""
    admin_session = ctx.signed_in(ctx.account("admin"))
    enrolled = ctx.enrol(ctx.account("staff"))
    secret = enrolled.phone.accounts[-1].secret
    ctx.step("Open every page the user and an admin can reach")
    seen: dict[str, Any] = {
        "Security": ctx.target.security(enrolled.session),
        "My Profile": ctx.target.profile(enrolled.session),
        **staff_page(ctx, admin_session),
    }
    pending = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
    seen["the sign-in answer"] = pending
    seen["the second step's answer"] = ctx.target.enter_code(pending.session,
                                                             ctx.fresh_code(enrolled))
    seen["regenerated backup codes"] = ctx.target.regenerate_backup_codes(
        enrolled.session, enrolled.account.password)
    ctx.step('Click "Set up authenticator app" again')
    try:
        seen["a new setup screen"] = ctx.target.start_authenticator_setup(enrolled.session)
    except Refused as refusal:
        ctx.check(refusal.code == "already_enrolled",
                  f"a new setup while enrolled was refused with {refusal.code}, "
                  "not already_enrolled")
        seen["the refusal of a new setup"] = (refusal.code, refusal.reason, refusal.message)
    for where, value in seen.items():
        ctx.check(not _mentions(value, secret), f"{where} shows the enrolled TOTP secret")


def _mentions(value: Any, secret: str) -> bool:
    """The secret anywhere in the value, in any case, with or without spaces or padding."""
    text = "".join(repr(value).split()).upper()
    return secret.upper().rstrip("=") in text
