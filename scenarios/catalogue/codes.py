"""6-digit codes as typed and as refused: ASCII digits only, and a skewed code never later."""

from __future__ import annotations

from collections.abc import Callable

from clinic2fa.scenarios.contract import Needs, NotApplicable, Refused
from clinic2fa.scenarios.core import params
from clinic2fa.scenarios.core.context import Context
from clinic2fa.scenarios.core.model import Level, scenario

# Digits of other scripts, each as its zero's code point (the nine after it follow in order).
SCRIPTS = {"full-width": 0xFF10, "Arabic-Indic": 0x0660}
SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _in_script(code: str, script: str) -> str:
    if script == "superscript":
        return code.translate(SUPERSCRIPT)
    return "".join(chr(SCRIPTS[script] + int(digit)) for digit in code)


@scenario("TOTP-ASCII-DIGITS-OTHER-SCRIPTS", verifies=["TOTP-ASCII-DIGITS"], level=Level.MUST,
          quote="MUST refuse any other input as malformed, digits of other scripts (full-width, "
                "Arabic-Indic, superscript) included")
def other_scripts_malformed(ctx: Context) -> None:
    """The right code in full-width, Arabic-Indic or superscript digits, or with a dash in it,
    is malformed"""
    enrolled = ctx.enrol(ctx.account("staff"))
    pending = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
    right = ctx.fresh_code(enrolled)
    typed = [(f"{script} digits", _in_script(right, script)) for script in SCRIPTS]
    typed.insert(1, ("ASCII digits with a dash", f"{right[:3]}-{right[3:]}"))  # not a space
    typed.append(("superscript digits", _in_script(right, "superscript")))
    for what, code in typed[:max(1, params.MAX_FAILURES - 1)]:  # never locks
        ctx.step(f"Type the right code in {what}")
        try:
            ctx.target.enter_code(pending.session, code)
        except Refused as refusal:
            # invalid_request: the request's shape refused (a page's own field may not even
            # send it); code_rejected must then say malformed, where the deployment says why
            if refusal.code == "invalid_request":
                if not refusal.sent:  # what a person meets; a script posting it is not seen
                    ctx.unverified(f"the code in {what}: the page's own field refused it, so "
                                   "what the server answers to it is not seen here (over "
                                   "http:// it is)")
                continue
            ctx.check(refusal.code == "code_rejected" and (
                refusal.reason == "malformed" or not ctx.policy.tells("malformed")),
                f"the code in {what}: expected a refusal as malformed, got {refusal.code}"
                f"{f' ({refusal.reason})' if refusal.reason else ''}")
            if not ctx.policy.tells("malformed"):
                ctx.unverified(f"the code in {what}: refused; that it was as malformed: not "
                               "verified, the deployment does not say why")
        else:
            ctx.check(False, f"the code in {what} was accepted")
    ctx.step("The same code in ASCII digits")
    with ctx.accepted("the right code in ASCII digits"):
        ctx.target.enter_code(pending.session, right)


@scenario("TOTP-SKEW-NO-ORACLE-LATER", verifies=["TOTP-SKEW-NO-ORACLE"], level=Level.MUST,
          quote="when the clock reaches that step the deployment MUST refuse the same code, so "
                "that one guess never tests more steps than the window")
def skewed_code_never_later(ctx: Context) -> None:
    """A code refused as skewed is refused again once its time comes; the next code works"""
    enrolled = ctx.enrol(ctx.account("staff"))
    ahead = ctx.policy.window + 2  # outside the window: a guess that matched a step to come
    now = ctx.server_step()
    skewed = enrolled.phone.code_at_step(now + ahead)
    ctx.trace.secrets.add(skewed)
    pending = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
    ctx.step("Enter a wrong code, to see how a wrong code is refused")
    wrong = _refusal(ctx, lambda: ctx.target.enter_code(pending.session,
                                                        ctx.wrong_code(enrolled.phone)),
                     "a wrong code")
    ctx.step(f"Enter the code of {ahead} steps ahead (a phone {ahead * params.PERIOD} s fast)")
    refused = _refusal(ctx, lambda: ctx.target.enter_code(pending.session, skewed),
                       f"a code {ahead} steps ahead")
    ctx.step("The phone's clock is put right: its code signs in at once")
    with ctx.accepted("the corrected phone's code"):
        ctx.target.enter_code(pending.session, ctx.fresh_code(enrolled))
    told = (refused.code, refused.reason, refused.message)
    if told == (wrong.code, wrong.reason, wrong.message):
        # Refused exactly as a wrong code: the answer tells a guesser nothing about the code's
        # step, so each guess tests only the window and there is no oracle to close.
        ctx.trace.check("the code of a step to come is refused exactly as a wrong code "
                        f"({_said(refused)}): no oracle", True)
        return
    ctx.trace.note(f"the code of a step to come is refused otherwise ({_said(refused)}) than a "
                   f"wrong code ({_said(wrong)}): a guesser learns it is valid later")
    if Needs.CLOCK not in ctx.capabilities:
        raise NotApplicable("whether that code signs in when its step comes needs the server's "
                            "clock moved, which this target does not lend")
    ctx.step(f"Wait until the server's clock reaches that step ({ahead * params.PERIOD} s)")
    ctx.advance_clock(ahead * params.PERIOD)
    enrolled.used_steps.add(now + ahead)  # spent by the refusal, as far as the guide goes
    later = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
    with ctx.refused("code_rejected",
                     why="the code refused as skewed, now that its step has come"):
        ctx.target.enter_code(later.session, skewed)
    if ctx.policy.window >= 1 and _failures_left(ctx) >= 4:  # 3 in a row here, none locks
        ctx.step("One step on, while it is the window's step before: another guess refused as "
                 "skewed, then the first code again")
        ctx.advance_clock(params.PERIOD)
        another = enrolled.phone.code_at_step(now + 2 * ahead + 1)
        ctx.trace.secrets.add(another)
        _refusal(ctx, lambda: ctx.target.enter_code(later.session, another),
                 f"another code {ahead} steps ahead")
        with ctx.refused("code_rejected", why="the code refused as skewed, in the window's "
                                              "step before, after another skewed guess"):
            ctx.target.enter_code(later.session, skewed)
    ctx.step("The next code still signs in")
    with ctx.accepted("the next code after the refused one"):
        ctx.target.enter_code(later.session, ctx.fresh_code(enrolled))


def _failures_left(ctx: Context) -> float:
    """Wrong codes in a row the declared rate limit allows before it locks (or throttles)."""
    limit = ctx.policy.rate_limit
    if limit.model == "none":
        return float("inf")
    return float(limit.max_failures) if limit.model == "lockout" else 1.0


def _refusal(ctx: Context, call: Callable[[], object], what: str) -> Refused:
    """The refusal of `call`, which must refuse as code_rejected (an acceptance fails)."""
    with ctx.expect("code_rejected"):
        try:
            call()
        except Refused as refusal:
            ctx.check(refusal.code == "code_rejected",
                      f"{what}: expected a refusal as code_rejected, got {_said(refusal)}")
            return refusal
    ctx.check(False, f"{what} was accepted")
    raise AssertionError("unreachable")  # pragma: no cover - check(False) raises


def _said(refusal: Refused) -> str:
    reason = f" ({refusal.reason})" if refusal.reason else ""
    return f"{refusal.code}{reason}: {refusal.message!r}" if refusal.message else \
        f"{refusal.code}{reason}"
