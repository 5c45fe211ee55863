"""A reused account between scenarios: what the harness saw done to it, and putting it back.

A deployment's config lends the same few accounts (an owner, an admin, two staff) to every
scenario. The guard watches every call a scenario makes (`observe`): the secret a setup showed
and enrolment confirmed, the backup codes handed out and spent, passkeys added, wrong codes and
lock-outs. With that, `settle` puts an account back as the next scenario needs it (2FA off, no
passkeys, no wrong codes counted) through the deployment's own pages or API, signing in with
the factor it holds, and verifies it did; where the pages cannot (a lock-out longer than the
harness may wait, a factor it never saw) the config's reset hook does.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlsplit

from clinic2fa.scenarios.contract import THROTTLED, Account, Refused
from clinic2fa.simulator.virtual.authenticator_app import AuthenticatorApp

if TYPE_CHECKING:
    from clinic2fa.scenarios.core.context import Context

CODE_CALLS = frozenset({"enter_code", "use_backup_code", "confirm_enrolment"})
PASSKEY_ANSWER = "finish_passkey_sign_in"  # a refused one counts toward the lock-out like a code
# Calls a lock-out refuses: one answered "locked_out" says the account is locked until when.
LOCKABLE = CODE_CALLS | {"sign_in", "begin_passkey_sign_in", PASSKEY_ANSWER}
NEAR = 6  # steps each way an accepted code is looked for, to know which step it spent


class Unsettled(Exception):
    """An account could not be put back as found (its message says why, in one line)."""


@dataclass
class Known:
    """What the harness knows of one reused account; `clean`: verified as found."""

    email: str
    pending_uris: list[str] = field(default_factory=list)  # setup screens not yet confirmed
    uri: str = ""  # the confirmed authenticator's Key URI
    backup_codes: list[str] = field(default_factory=list)
    passkeys: set[str] = field(default_factory=set)
    devices: dict[str, Any] = field(default_factory=dict)  # passkey name -> the device holding it
    last_step: int = -1  # the latest TOTP step the deployment accepted from this account
    failures: int = 0  # wrong codes since the last accepted one
    locked_until: float = 0.0  # server time
    clean: bool = False

    def forget_factors(self) -> None:
        self.pending_uris.clear()
        self.uri = ""
        self.backup_codes.clear()
        self.passkeys.clear()
        self.devices.clear()

    def reset(self) -> None:
        """As seeded again (the reset hook ran): nothing left to undo."""
        self.forget_factors()
        self.failures, self.locked_until, self.clean = 0, 0.0, True


def phone_for(uri: str, clock: Any) -> AuthenticatorApp:
    phone = AuthenticatorApp(clock)
    phone.add_uri(uri)
    return phone


def uri_of(setup: Any) -> str:
    """The setup screen's Key URI, or one made from its manual-entry secret."""
    if getattr(setup, "uri", ""):
        return str(setup.uri)
    secret = "".join(str(getattr(setup, "manual_entry", "")).split()).upper()
    return f"otpauth://totp/account?secret={quote(secret)}" if secret else ""


def _step_of(ctx: Context, uri: str, code: str) -> int | None:
    if not uri or not code:
        return None
    secret = parse_qs(urlsplit(uri).query).get("secret", [""])[0]
    try:
        base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)
    except ValueError:
        return None
    phone = phone_for(uri, ctx.target.server_time)
    now = ctx.server_step()
    return next((s for s in range(now - NEAR, now + NEAR + 1) if phone.code_at_step(s) == code),
                None)


def observe(ctx: Context, name: str, args: dict[str, Any], result: Any,
            refusal: Refused | None) -> None:
    """Keep what a call did to the reused account it was made for."""
    if name == "sign_in":
        known = ctx.known.get(str(args.get("email", "")).casefold())
        if known is not None and refusal is None:
            ctx.sessions[result.session] = known
    else:
        known = ctx.sessions.get(str(args.get("session", "")))
    if name == "disable_2fa_for" and refusal is None:
        subject = ctx.known.get(str(args.get("email", "")).casefold())
        if subject is not None:
            subject.forget_factors()
            subject.clean = False
    if known is None:
        return
    known.clean = False
    if refusal is not None:
        if refusal.code == THROTTLED and name in LOCKABLE:
            wait = refusal.retry_after or ctx.policy.rate_limit.lockout_seconds
            known.locked_until = max(known.locked_until, ctx.target.server_time() + wait)
        elif ((refusal.code == "code_rejected" and name in CODE_CALLS)
              or (refusal.code.startswith("passkey_") and name == PASSKEY_ANSWER)):
            known.failures += 1
        return
    code = str(args.get("code", ""))
    if name == "start_authenticator_setup":
        known.pending_uris.append(uri_of(result))
    elif name == "confirm_enrolment":
        # the screen whose code was taken: of setups started at once (a race), which secret
        # the deployment kept is not the last answer seen
        taken = [u for u in known.pending_uris if _step_of(ctx, u, code) is not None]
        known.uri = (taken or known.pending_uris or [""])[-1]
        known.pending_uris.clear()
        known.failures = 0
        known.last_step = _step_of(ctx, known.uri, code) or -1  # a new secret's first step
        known.backup_codes = list(result or []) or known.backup_codes
    elif name == "enter_code":
        known.failures = 0
        known.last_step = max(known.last_step, _step_of(ctx, known.uri, code) or -1)
    elif name == "use_backup_code":
        known.failures = 0
        known.backup_codes = [c for c in known.backup_codes if c != code]
    elif name == PASSKEY_ANSWER:
        known.failures = 0
    elif name in ("regenerate_backup_codes", "finish_passkey_setup") and result:
        known.backup_codes = list(result)
    if name == "finish_passkey_setup":
        known.passkeys.add(str(args.get("name", "")))
    elif name == "remove_passkey":
        known.passkeys.discard(str(args.get("name", "")))
        known.devices.pop(str(args.get("name", "")), None)
    elif name == "disable_2fa":
        known.forget_factors()


# -- putting an account back --------------------------------------------------------------------


def settle(ctx: Context, account: Account, *, before: bool) -> None:
    """Put `account` back (2FA off, no passkeys, no failures counted) and verify it.

    `before`: the scenario is about to get it. After a scenario, an account locked for
    longer than the harness may wait is left marked (the next lender waits or resets); before
    one, that is Unsettled.
    """
    known: Known = account.known
    if known.clean:
        return
    ctx.step(f"Put {account.email} back as found (2FA off, no passkeys, no wrong codes "
             "counted)")
    left = known.locked_until - ctx.target.server_time()
    if left > 0:
        if left + 1 <= ctx.max_wait or _clock(ctx):
            ctx.wait(left + 1, f"the lock-out earlier checks put on {account.email}")
        elif not _reset(ctx, f"{account.email} is locked out for {left:.0f} s more", known,
                        before):
            if before:
                raise Unsettled(f"{account.email} is locked out for {left:.0f} s more, longer "
                                f"than the harness may wait ({ctx.max_wait:g} s), and the "
                                "config names no reset hook")
            ctx.trace.note(f"{account.email} stays locked for {left:.0f} s: the next scenario "
                           "to need it waits or resets")
            return
        if known.clean:
            return
    try:
        _undo(ctx, account, known)
        _verify(ctx, account)
    except (Refused, Unsettled) as exc:
        why = exc.message if isinstance(exc, Refused) and exc.message else str(exc)
        if not _reset(ctx, f"putting {account.email} back through its pages failed ({why})",
                      known, before):
            raise Unsettled(f"{account.email} could not be put back as found: {why}") from None
        _verify(ctx, account)
    known.clean = True


def _clock(ctx: Context) -> bool:
    from clinic2fa.scenarios.contract import Needs

    return Needs.CLOCK in ctx.capabilities


def _reset(ctx: Context, why: str, known: Known, before: bool) -> bool:
    """Run the config's reset hook, if it names one: every reused account is as seeded.

    Not while the scenario about to start holds other accounts it already changed.
    """
    changed = [k for k in ctx.known.values() if k is not known and not k.clean]
    if ctx.reset is None or (before and changed):
        return False
    ctx.trace.note(f"{why}: the config's reset hook puts the test clinic back as seeded")
    ctx.reset()  # HookFailed: one line, an error of this scenario; every account is now as seeded
    return True


def _undo(ctx: Context, account: Account, known: Known) -> None:
    target = ctx.target
    result = target.sign_in(account.email, account.password)
    session = result.session
    if result.stage == "enrolment_required":
        raise Unsettled("sign-in asks for enrolment: 2FA enforcement was left on")
    if result.stage == "second_step":
        session = _second_factor(ctx, account, known, session)
    elif known.failures:  # wrong codes counted with 2FA off: an accepted code resets them
        _enrol_and_disable(ctx, account, known, session)
        return
    security = target.security(session)
    if security.two_factor_enabled or security.authenticator_app:
        target.disable_2fa(session, account.password)  # removes passkeys too (DISABLE-REAUTH)
        security = target.security(session)
    for name in security.passkeys:
        target.remove_passkey(session, name, account.password)


def _second_factor(ctx: Context, account: Account, known: Known, session: str) -> str:
    """Finish a sign-in with a factor the harness holds (this also resets the wrong codes)."""
    target = ctx.target
    now = ctx.unused_step_now({known.last_step}) if known.uri else None
    if known.uri and (now is not None or not known.backup_codes):
        step = now if now is not None else ctx.unused_step({known.last_step})
        phone = phone_for(known.uri, target.server_time)
        return target.enter_code(session, phone.code_at_step(step)).session
    if known.backup_codes:  # no unused time step this moment: no wait for the next one
        return target.use_backup_code(session, known.backup_codes[-1]).session
    if known.devices:
        device = next(iter(known.devices.values()))
        options = ctx.passkeys.begin_passkey_sign_in(session)
        return ctx.passkeys.finish_passkey_sign_in(session, device.get(options)).session
    raise Unsettled("2FA is on with a factor the harness never saw (an earlier run's?)")


def _enrol_and_disable(ctx: Context, account: Account, known: Known, session: str) -> None:
    """Confirm a fresh setup (an accepted code resets the count), then Disable 2FA."""
    target = ctx.target
    setup = target.start_authenticator_setup(session)
    phone = phone_for(uri_of(setup), target.server_time)
    step = ctx.unused_step({known.last_step})
    target.confirm_enrolment(session, phone.code_at_step(step))
    target.disable_2fa(session, account.password)


def _verify(ctx: Context, account: Account) -> None:
    result = ctx.target.sign_in(account.email, account.password)
    if result.stage != "signed_in":
        raise Unsettled(f"after putting it back, sign-in still leads to {result.stage}")
    security = ctx.target.security(result.session)
    if security.two_factor_enabled or security.passkeys:
        raise Unsettled("after putting it back, Security still shows 2FA or a passkey")
    if security.backup_codes_left:  # a deployment whose Disable 2FA leaves them: the reset
        raise Unsettled(f"after putting it back, {security.backup_codes_left} backup codes "
                        "are left")
