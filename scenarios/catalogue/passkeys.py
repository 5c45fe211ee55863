"""Passkeys (WebAuthn): challenges, origin and RP ID, sign count, user verification, factor."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from clinic2fa.scenarios.contract import Account, Refused
from clinic2fa.scenarios.core import params
from clinic2fa.scenarios.core.context import HALF_SIGNED_IN, Context
from clinic2fa.scenarios.core.model import Level, Needs, scenario

if TYPE_CHECKING:
    from clinic2fa.simulator.virtual.passkey import VirtualPasskey

PASSKEYS = (Needs.PASSKEYS,)
EVIL_ORIGIN = "https://mydentalpractice.example-phish.test"
EVIL_RP_ID = "example-phish.test"
ASSUMED_TIMEOUT_MS = 300_000  # a ceremony's timeout when its options name none (a guess)


@dataclass
class Holder:
    """A user whose only second factor is one registered passkey."""

    account: Account
    session: str  # the full session the passkey was registered from
    device: VirtualPasskey


def _holder(ctx: Context, role: str = "staff", **flags: Any) -> Holder:
    account = ctx.account(role)
    session = ctx.signed_in(account)
    ctx.step(f"The {role} adds a passkey in Security settings")
    device = ctx.add_passkey(session, ctx.passkey(**flags))
    return Holder(account, session, device)


def _pending(ctx: Context, holder: Holder) -> str:
    result = ctx.target.sign_in(holder.account.email, holder.account.password)
    ctx.check(result.stage == "second_step",
              f"a user with a passkey should get the second step, got {result.stage}")
    return result.session


def _challenge(options: dict[str, Any]) -> bytes:
    value = str(options.get("challenge", ""))
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _b64url(raw: bytes | None) -> str:
    return base64.urlsafe_b64encode(raw or b"").rstrip(b"=").decode("ascii")


# -- PASSKEY-CHALLENGE --------------------------------------------------------------------------


@scenario("PASSKEY-CHALLENGE-FRESH", verifies=["PASSKEY-CHALLENGE"], level=Level.MUST,
          quote="generate a fresh challenge of at least 16 random bytes", needs=PASSKEYS)
def fresh_challenges(ctx: Context) -> None:
    """Each ceremony gets its own challenge of at least 16 bytes, and the earlier one is dead.

    A new challenge protects nothing while the old one is still taken, so freshness is not
    seen to hold until an answer over the earlier challenge is refused; a target that cannot
    send one (a browser answers only the open prompt) leaves the scenario unsupported."""
    holder = _holder(ctx)
    challenges = [_challenge(ctx.passkeys.begin_passkey_setup(holder.session)) for _ in range(2)]
    pending, prompts = "", []
    for _ in range(2):
        pending = _pending(ctx, holder)
        prompts.append(ctx.passkeys.begin_passkey_sign_in(pending))
        challenges.append(_challenge(prompts[-1]))
    for challenge in challenges:
        ctx.check(len(challenge) >= params.CHALLENGE_MIN_BYTES,
                  f"a challenge of {len(challenge)} bytes, under {params.CHALLENGE_MIN_BYTES}")
    ctx.check(len(set(challenges)) == len(challenges), "two ceremonies got the same challenge")
    ctx.step("Answer the last sign-in's prompt, signed over the earlier sign-in's challenge")
    holder.device.get(prompts[0])  # the key signs the earlier prompt; that answer is never sent
    with ctx.refused("passkey_challenge_invalid", why="an answer over an earlier challenge"):
        ctx.passkeys.finish_passkey_sign_in(
            pending, holder.device.get(prompts[1], replay_challenge=True))


@scenario("PASSKEY-CHALLENGE-SINGLE-USE", verifies=["PASSKEY-CHALLENGE"], level=Level.MUST,
          quote="accept it at most once", needs=PASSKEYS)
def challenge_used_once(ctx: Context) -> None:
    """A passkey answer is accepted once; replayed, or signed over an old challenge, it is not"""
    holder = _holder(ctx)
    ctx.step("Register a second passkey, then send the same answer again")
    spare = ctx.passkey()
    options = ctx.passkeys.begin_passkey_setup(holder.session)
    answer = spare.create(options)
    ctx.passkeys.finish_passkey_setup(holder.session, answer, "Spare key")
    with ctx.refused("passkey_challenge_invalid", why="the same registration answer again"):
        ctx.passkeys.finish_passkey_setup(holder.session, spare.replay_last(), "Spare key 2")
    ctx.step("Sign in with the passkey, then replay that answer in a new sign-in")
    ctx.passkey_second_step(holder.account, holder.device)
    replayed = holder.device.replay_last()
    pending = _pending(ctx, holder)
    ctx.passkeys.begin_passkey_sign_in(pending)
    with ctx.refused("passkey_challenge_invalid", why="a replayed sign-in answer"):
        ctx.passkeys.finish_passkey_sign_in(pending, replayed)
    ctx.step("A fresh signature over the previous challenge")
    options = ctx.passkeys.begin_passkey_sign_in(pending)
    with ctx.refused("passkey_challenge_invalid", why="an answer to an earlier challenge"):
        ctx.passkeys.finish_passkey_sign_in(
            pending, holder.device.get(options, replay_challenge=True))


@scenario("PASSKEY-CHALLENGE-BOUND", verifies=["PASSKEY-CHALLENGE"], level=Level.MUST,
          quote="bind it to that ceremony and user", needs=PASSKEYS)
def challenge_bound_to_ceremony(ctx: Context) -> None:
    """An answer to one sign-in's challenge is refused in another sign-in of the same user"""
    holder = _holder(ctx)
    first, second = _pending(ctx, holder), _pending(ctx, holder)
    first_options = ctx.passkeys.begin_passkey_sign_in(first)
    ctx.passkeys.begin_passkey_sign_in(second)
    ctx.step("Answer the first sign-in's challenge, but send it to the second sign-in")
    with ctx.refused("passkey_challenge_invalid", why="another sign-in's challenge"):
        ctx.passkeys.finish_passkey_sign_in(second, holder.device.get(first_options))
    ctx.step("The first sign-in still takes its own answer")
    with ctx.accepted("the answer in its own sign-in"):
        done = ctx.passkeys.finish_passkey_sign_in(first, holder.device.get(first_options))
    ctx.check(done.stage == "signed_in", f"the passkey should sign in, got {done.stage}")


@scenario("PASSKEY-CHALLENGE-EXPIRES", verifies=["PASSKEY-CHALLENGE"], level=Level.MUST,
          quote="reject it after the ceremony's timeout", needs=(Needs.PASSKEYS, Needs.CLOCK))
def challenge_expires(ctx: Context) -> None:
    """A registration answered after the ceremony's timeout is refused"""
    account = ctx.account("staff")
    session = ctx.signed_in(account)
    options = ctx.passkeys.begin_passkey_setup(session)
    timeout = float(options.get("timeout") or ASSUMED_TIMEOUT_MS) / 1000
    ctx.step(f"Answer {timeout:.0f} s later, past the ceremony's timeout")
    answer = ctx.passkey().create(options)
    ctx.advance_clock(timeout + 1)
    with ctx.refused("passkey_challenge_invalid", why="an answer after the timeout"):
        ctx.passkeys.finish_passkey_setup(session, answer, "Late key")


# -- PASSKEY-ORIGIN-RPID ------------------------------------------------------------------------


@scenario("PASSKEY-ORIGIN-RPID-REGISTRATION", verifies=["PASSKEY-ORIGIN-RPID"], level=Level.MUST,
          quote="MUST reject a passkey registration or assertion unless clientDataJSON's type and "
                "origin are the expected ones and authenticatorData's rpIdHash is the SHA-256 of "
                "the deployment's RP ID", needs=PASSKEYS)
def registration_origin_and_rp_id(ctx: Context) -> None:
    """A registration made on a phishing page, or for another site, is refused"""
    account = ctx.account("staff")
    session = ctx.signed_in(account)
    device = ctx.passkey()
    ctx.step("Register through a look-alike page (another origin)")
    options = ctx.passkeys.begin_passkey_setup(session)
    with ctx.refused("passkey_origin_mismatch", why="a registration from another origin"):
        ctx.passkeys.finish_passkey_setup(session, device.create(options, origin=EVIL_ORIGIN),
                                        "Phished key")
    ctx.step("Register with authenticator data for another site (RP ID)")
    options = ctx.passkeys.begin_passkey_setup(session)
    with ctx.refused("passkey_rp_id_mismatch", why="a registration for another RP ID"):
        ctx.passkeys.finish_passkey_setup(session, device.create(options, rp_id=EVIL_RP_ID),
                                        "Other site's key")
    ctx.step("Register with a response whose client data and attestation cannot be read")
    options = ctx.passkeys.begin_passkey_setup(session)
    made = device.create(options)
    unreadable = {**made, "response": {k: "bm90IGpzb24" for k in made.get("response", {})}}
    with ctx.refused(("passkey_invalid", "invalid_request"),
                     why="a registration whose origin and RP ID cannot even be read"):
        ctx.passkeys.finish_passkey_setup(session, unreadable, "Unreadable key")
    security = ctx.target.security(session)
    ctx.check(not security.passkeys and not security.two_factor_enabled,
              f"a refused registration left passkeys {security.passkeys}")


@scenario("PASSKEY-ORIGIN-RPID-SIGN-IN", verifies=["PASSKEY-ORIGIN-RPID"], level=Level.MUST,
          quote="Verify that the rpIdHash in authData is the SHA-256 hash of the RP ID expected by "
                "the Relying Party.", needs=PASSKEYS)
def sign_in_origin_and_rp_id(ctx: Context) -> None:
    """A sign-in answer from a phishing page, or signed for another site, is refused"""
    holder = _holder(ctx)
    pending = _pending(ctx, holder)
    ctx.step("Answer the sign-in on a look-alike page")
    options = ctx.passkeys.begin_passkey_sign_in(pending)
    with ctx.refused("passkey_origin_mismatch", why="a sign-in answer from another origin"):
        ctx.passkeys.finish_passkey_sign_in(pending, holder.device.get(options, origin=EVIL_ORIGIN))
    ctx.step("Answer with authenticator data for another site")
    options = ctx.passkeys.begin_passkey_sign_in(pending)
    with ctx.refused("passkey_rp_id_mismatch", why="a sign-in answer for another RP ID"):
        ctx.passkeys.finish_passkey_sign_in(pending, holder.device.get(options, rp_id=EVIL_RP_ID))
    with ctx.refused(HALF_SIGNED_IN, why="My Profile after the refused answers"):
        ctx.target.profile(pending)


# -- PASSKEY-SIGN-COUNT -------------------------------------------------------------------------


@scenario("PASSKEY-SIGN-COUNT-CLONE", verifies=["PASSKEY-SIGN-COUNT"], level=Level.MUST,
          quote="MUST reject a passkey assertion whose signature counter is not greater than the "
                "stored one", needs=PASSKEYS)
def cloned_passkey_refused(ctx: Context) -> None:
    """A cloned passkey repeating a sign count is refused after the original signed in"""
    holder = _holder(ctx)
    clone = holder.device.clone()
    ctx.step("The original passkey signs in")
    ctx.passkey_second_step(holder.account, holder.device)
    ctx.step("A clone with the same key and counter signs in")
    pending = _pending(ctx, holder)
    options = ctx.passkeys.begin_passkey_sign_in(pending)
    with ctx.refused("passkey_sign_count", why="a repeated sign count (cloned passkey)"):
        ctx.passkeys.finish_passkey_sign_in(pending, clone.get(options))
    if not hasattr(clone, "has_counter"):  # a browser's own authenticator: no such clone
        return
    ctx.step("A clone that reports no counter (0) once the stored counter is non-zero")
    silent = holder.device.clone()
    silent.has_counter = False  # type: ignore[attr-defined]
    pending = _pending(ctx, holder)
    options = ctx.passkeys.begin_passkey_sign_in(pending)
    with ctx.refused("passkey_sign_count", why="a sign count of 0 after a stored non-zero one "
                                                "(\"when either is non-zero\")"):
        ctx.passkeys.finish_passkey_sign_in(pending, silent.get(options))


@scenario("PASSKEY-SIGN-COUNT-ZERO", verifies=["PASSKEY-SIGN-COUNT"], level=Level.MUST,
          quote="when either is non-zero", needs=PASSKEYS)
def counterless_passkey_accepted(ctx: Context) -> None:
    """A passkey without a counter (always 0, like synced passkeys) signs in again and again"""
    holder = _holder(ctx, has_counter=False)
    for attempt in ("first", "second"):
        ctx.step(f"The counterless passkey signs in, {attempt} time")
        with ctx.accepted(f"a counterless passkey, {attempt} sign-in"):
            ctx.passkey_second_step(holder.account, holder.device)


# -- PASSKEY-USER-VERIFICATION ------------------------------------------------------------------


@scenario("PASSKEY-USER-VERIFICATION-REQUIRED", verifies=["PASSKEY-USER-VERIFICATION"],
          level=Level.SHOULD,
          quote="When the deployment's policy requires user verification, it SHOULD request "
                "userVerification \"required\" and reject assertions and registrations whose UV "
                "flag is not set.", needs=PASSKEYS)
def user_verification_required(ctx: Context) -> None:
    """The second step asks the user verification declared; where a ceremony requires it, a
    passkey that skips it is refused, and the same ceremony with it is not (the control)"""
    account = ctx.account("staff")
    session = ctx.signed_in(account)
    options = ctx.passkeys.begin_passkey_setup(session)
    asked = options.get("authenticatorSelection", {}).get("userVerification", "preferred")
    declared = ctx.policy.second_step_uv
    if asked == "required":
        ctx.step("Register with a passkey that does not verify its user")
        unverified = ctx.passkey(user_verified=False)
        with _refused_for(ctx, "passkey_user_verification", "a registration without UV"):
            ctx.passkeys.finish_passkey_setup(session, unverified.create(options), "No PIN key")
    else:
        ctx.trace.note(f"registration asks userVerification={asked!r}: a key without UV may "
                       "register")
    ctx.step("Register with a passkey that verifies its user (the control)")
    device = ctx.add_passkey(session)
    holder = Holder(account, session, device)
    pending = _pending(ctx, holder)
    options = ctx.passkeys.begin_passkey_sign_in(pending)
    got = options.get("userVerification", "preferred")
    ctx.check(got == declared, f"the second step asks userVerification={got!r}, declared "
                               f"{declared!r} ([policy] second_step_uv)")
    if declared != "required":  # the request is as declared: nothing here asks for UV
        ctx.trace.note(f"the second step is declared {declared!r} and asks so: a key without UV "
                       "may pass it")
        return
    ctx.step("Sign in without verifying the user, then with it (the control)")
    device.user_verified = False
    with _refused_for(ctx, "passkey_user_verification", "a sign-in without UV"):
        ctx.passkeys.finish_passkey_sign_in(pending, device.get(options))
    device.user_verified = True
    with ctx.accepted("the same passkey verifying its user"):
        ctx.passkey_second_step(account, device)


@contextmanager
def _refused_for(ctx: Context, code: str, why: str) -> Iterator[None]:
    """The block must be refused, with `code` where the deployment tells that reason apart; one
    that does not may refuse it as any bad passkey or code. Each caller then runs a control
    (the same ceremony, the one thing changed back, accepted): that is what shows `code`'s
    reason was the difference, whatever the words."""
    codes = (code,) if ctx.policy.tells(code) else (code, "passkey_invalid", "code_rejected")
    try:
        with ctx.expect(*codes):
            yield
    except Refused as refusal:
        ctx.check(refusal.code in codes, f"{why}: refused with {' or '.join(codes)}, got "
                                         f"{refusal.code}")
        return
    ctx.check(False, f"{why}: refused with {' or '.join(codes)}, but it was accepted")


# -- PASSKEY-FACTOR -----------------------------------------------------------------------------


@scenario("PASSKEY-FACTOR-SECOND-STEP", verifies=["PASSKEY-FACTOR"], level=Level.MUST,
          quote="A verified passkey assertion MUST satisfy the second step of sign-in",
          needs=PASSKEYS)
def passkey_is_a_second_factor(ctx: Context) -> None:
    """A passkey alone turns 2FA on and completes the second step"""
    holder = _holder(ctx)
    ctx.check(ctx.target.security(holder.session).two_factor_enabled,
              "Security does not count the passkey as 2FA")
    ctx.step("Sign in: password, then the passkey")
    with ctx.accepted("the passkey at the second step"):
        session = ctx.passkey_second_step(holder.account, holder.device)
    with ctx.accepted("My Profile after the passkey"):
        ctx.target.profile(session)


@scenario("PASSKEY-FACTOR-ENFORCEMENT", verifies=["PASSKEY-FACTOR"], level=Level.MUST,
          quote="a registered passkey MUST count as 2FA for enforcement", needs=PASSKEYS)
def passkey_satisfies_enforcement(ctx: Context) -> None:
    """Under enforcement, registering a passkey completes enrolment"""
    owner_session = ctx.signed_in(ctx.account("owner"))
    staff = ctx.account("staff")
    ctx.target.set_enforcement(owner_session, True)
    ctx.cleanup(lambda: ctx.target.set_enforcement(owner_session, False), "enforcement off")
    pending = ctx.target.sign_in(staff.email, staff.password)
    ctx.check(pending.stage == "enrolment_required",
              f"under enforcement a user without 2FA got stage {pending.stage}")
    ctx.step("Enrol with a passkey instead of an authenticator app")
    with ctx.accepted("a passkey as the enrolment"):
        device = ctx.add_passkey(pending.session)
    with ctx.accepted("My Profile after enrolling a passkey"):
        ctx.target.profile(pending.session)
    ctx.step("The next sign-in asks for the passkey")
    with ctx.accepted("the passkey at the next sign-in"):
        ctx.passkey_second_step(staff, device)


@scenario("PASSKEY-FACTOR-DISABLE-REMOVES", verifies=["PASSKEY-FACTOR"], level=Level.MUST,
          quote="disabling 2FA (by the user or by the Owner or an Admin) MUST remove the user's "
                "passkeys too", needs=PASSKEYS)
def disable_removes_passkeys(ctx: Context) -> None:
    """Disable 2FA, by the user or by an admin, removes the user's passkeys"""
    admin_session = ctx.signed_in(ctx.account("admin"))
    own, reset = _holder(ctx), _holder(ctx)
    ctx.step("The first user disables 2FA with the password")
    ctx.target.disable_2fa(own.session, own.account.password)
    ctx.step("An admin disables the second user's 2FA from Settings -> Staff")
    ctx.target.disable_2fa_for(admin_session, reset.account.email)
    for label, holder in (("after Disable 2FA", own), ("after the admin's reset", reset)):
        result = ctx.target.sign_in(holder.account.email, holder.account.password)
        ctx.check(result.stage == "signed_in",
                  f"{label} the passkey is still asked for (stage {result.stage})")
        passkeys = ctx.target.security(result.session).passkeys
        ctx.check(not passkeys, f"{label} passkeys {passkeys} are still registered")


# -- PASSKEY-OWN-CREDENTIAL ---------------------------------------------------------------------


@scenario("PASSKEY-OWN-CREDENTIAL-OTHER-USER", verifies=["PASSKEY-OWN-CREDENTIAL"],
          level=Level.MUST,
          quote="accept only a passkey credential registered to that same user, and MUST reject "
                "any other credential even if its signature is valid", needs=PASSKEYS)
def other_users_passkey_refused(ctx: Context) -> None:
    """Another user's valid passkey does not complete this user's second step"""
    victim, attacker = _holder(ctx), _holder(ctx)
    pending = _pending(ctx, victim)
    options = ctx.passkeys.begin_passkey_sign_in(pending)
    allowed = {str(c.get("id")) for c in options.get("allowCredentials", [])}
    ctx.check(_b64url(attacker.device.credential_id) not in allowed,
              "the sign-in options allow another user's passkey")
    ctx.step("Answer with another user's passkey, ignoring the allowed list")
    with _refused_for(ctx, "passkey_unknown_credential", "another user's passkey"):
        ctx.passkeys.finish_passkey_sign_in(
            pending, attacker.device.get(options, ignore_allow_list=True))
    ctx.step("Sign in with the user's own passkey (the control)")
    with ctx.accepted("the user's own passkey"):
        ctx.passkey_second_step(victim.account, victim.device)


@scenario("PASSKEY-OWN-CREDENTIAL-UNREGISTERED", verifies=["PASSKEY-OWN-CREDENTIAL"],
          level=Level.MUST, quote="verify that the identified user account contains a credential "
                                  "record whose id equals credential.rawId.", needs=PASSKEYS)
def unregistered_passkey_refused(ctx: Context) -> None:
    """A passkey the clinic never registered does not complete the second step"""
    holder = _holder(ctx)
    pending = _pending(ctx, holder)
    options = ctx.passkeys.begin_passkey_sign_in(pending)
    rogue = ctx.passkey()
    rogue.mint_unregistered(str(options.get("rpId")))
    ctx.step("Answer with a passkey nobody registered")
    with _refused_for(ctx, "passkey_unknown_credential", "an unregistered passkey"):
        ctx.passkeys.finish_passkey_sign_in(pending, rogue.get(options, ignore_allow_list=True))
    ctx.step("Sign in with the user's own passkey (the control)")
    with ctx.accepted("the user's own passkey"):
        ctx.passkey_second_step(holder.account, holder.device)


# -- SAME-STRENGTH-ALL-PATHS: the passkey second step -------------------------------------------


@scenario("SAME-STRENGTH-PASSKEY-OTHER-USER", verifies=["SAME-STRENGTH-ALL-PATHS"],
          level=Level.MUST, quote="security controls and authentication strength are enforced "
                                  "consistently", needs=PASSKEYS)
def no_session_from_two_peoples_factors(ctx: Context) -> None:
    """One user's password and another user's passkey sign nobody in: whichever account it
    opened, it was opened without the factors that account's own sign-in asks for"""
    victim, attacker = _holder(ctx), _holder(ctx)
    pending = _pending(ctx, victim)
    options = ctx.passkeys.begin_passkey_sign_in(pending)
    ctx.step("Answer one user's second step with another user's passkey")
    ctx.refused_somehow(
        "one user's password with another user's passkey",
        lambda: ctx.passkeys.finish_passkey_sign_in(
            pending, attacker.device.get(options, ignore_allow_list=True)),
        "passkey_unknown_credential", "passkey_rejected")
