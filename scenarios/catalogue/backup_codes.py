"""Backup codes: ten of them, each once, shown once, replaced on request, hard to guess, kept."""

from __future__ import annotations

import math
from typing import Any

from clinic2fa.scenarios.contract import Account, NotApplicable
from clinic2fa.scenarios.core import params, stored
from clinic2fa.scenarios.core.context import Context, staff_page
from clinic2fa.scenarios.core.model import Level, Needs, scenario


@scenario("BACKUP-COUNT-TEN", verifies=["BACKUP-COUNT"], level=Level.MUST,
          quote="whenever they are regenerated, it MUST issue exactly its declared number of "
                "them (the guide's 10)")
def ten_codes(ctx: Context) -> None:
    """Each list of backup codes holds the declared number (the guide's 10), at enrolment or on
    request, and again when regenerated"""
    enrolled = ctx.enrol(ctx.account("staff"))
    count = ctx.policy.backup_codes
    when = "confirmation" if ctx.policy.backup_codes_issued == "at_enrolment" else \
        "generating them on request"
    ctx.check(len(enrolled.backup_codes) == count,
              f"{when} issued {len(enrolled.backup_codes)} backup codes, not {count}")
    ctx.step("Regenerate backup codes")
    with ctx.accepted("regenerating backup codes with the password"):
        codes = ctx.target.regenerate_backup_codes(enrolled.session, enrolled.account.password)
    ctx.check(len(codes) == count, f"regenerating issued {len(codes)} backup codes, not {count}")


@scenario("BACKUP-SINGLE-USE-ONCE", verifies=["BACKUP-SINGLE-USE"], level=Level.MUST,
          quote="accept each backup code in place of the 6-digit code at the second step of "
                "sign-in, and MUST refuse that code for ever once it has been used successfully")
def each_code_once(ctx: Context) -> None:
    """A backup code signs in once; used again it is refused, while the others still work"""
    enrolled = ctx.enrol(ctx.account("staff"))
    code = enrolled.backup_codes[0]
    ctx.step("Sign in with a backup code instead of the 6-digit code")
    _backup_sign_in(ctx, enrolled.account, code)
    ctx.step("Sign in again with the same backup code")
    pending = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
    with ctx.refused("code_rejected", ("wrong_code", "already_used"),
                     why="a backup code used a second time"):
        ctx.target.use_backup_code(pending.session, code)
    ctx.step("Another backup code still works")
    with ctx.accepted("an unused backup code"):
        done = ctx.target.use_backup_code(pending.session, enrolled.backup_codes[1])
    left, count = ctx.target.security(done.session).backup_codes_left, ctx.policy.backup_codes
    ctx.check(left == count - 2, f"after two of {count} backup codes, Security counts {left} "
                                 f"left, not {count - 2}")


@scenario("BACKUP-SHOWN-ONCE-NEVER-AGAIN", verifies=["BACKUP-SHOWN-ONCE"], level=Level.MUST,
          quote="no later page, API response, export or log MUST ever contain them again")
def never_shown_again(ctx: Context) -> None:
    """After they are shown, no response contains the backup codes; Security shows a count"""
    admin_session = ctx.signed_in(ctx.account("admin"))
    enrolled = ctx.enrol(ctx.account("staff"))
    codes = enrolled.backup_codes
    ctx.step("Open every page the user and an admin can reach")
    security = ctx.target.security(enrolled.session)
    ctx.check(security.backup_codes_left == ctx.policy.backup_codes,
              f"Security shows {security.backup_codes_left} codes left, not a count of "
              f"{ctx.policy.backup_codes}")
    seen: dict[str, Any] = {
        "Security": security,
        "My Profile": ctx.target.profile(enrolled.session),
        **staff_page(ctx, admin_session),
    }
    pending = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
    seen["the sign-in answer"] = pending
    seen["the second step's answer"] = ctx.target.use_backup_code(pending.session, codes[0])
    seen["Security after a backup code"] = ctx.target.security(enrolled.session)
    ctx.step("Regenerate: the new list must not repeat the old codes")
    seen["the regenerated list"] = ctx.target.regenerate_backup_codes(
        enrolled.session, enrolled.account.password)
    for where, value in seen.items():
        ctx.check(not _mentions_any(value, codes), f"{where} shows a backup code again")


@scenario("BACKUP-REGENERATE-REPLACES", verifies=["BACKUP-REGENERATE"], level=Level.MUST,
          quote="the deployment MUST make every earlier backup code invalid before showing the "
                "new list")
def regenerate_replaces(ctx: Context) -> None:
    """After regenerating, an old backup code is refused and a new one works"""
    enrolled = ctx.enrol(ctx.account("staff"))
    old = enrolled.backup_codes
    ctx.step("Regenerate backup codes")
    with ctx.accepted("regenerating backup codes with the password"):
        new = ctx.target.regenerate_backup_codes(enrolled.session, enrolled.account.password)
    left, count = ctx.target.security(enrolled.session).backup_codes_left, ctx.policy.backup_codes
    ctx.check(left == count, f"after regenerating, Security counts {left} codes, not {count}")
    ctx.step("Sign in with an old code, then a new one")
    pending = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
    with ctx.refused("code_rejected", why="an old backup code after regenerating"):
        ctx.target.use_backup_code(pending.session, old[0])
    with ctx.accepted("a regenerated backup code"):
        ctx.target.use_backup_code(pending.session, new[0])


@scenario("BACKUP-REGENERATE-PASSWORD", verifies=["BACKUP-REGENERATE"], level=Level.MUST,
          quote="MUST require the user's password to do so")
def regenerate_needs_password(ctx: Context) -> None:
    """Regenerating with a wrong password is refused and leaves the old codes valid"""
    enrolled = ctx.enrol(ctx.account("staff"))
    ctx.step("Regenerate with a wrong password")
    with ctx.refused("password_required", why="regenerating with a wrong password"):
        ctx.target.regenerate_backup_codes(enrolled.session, enrolled.account.password + "x")
    ctx.step("The old codes still work")
    _backup_sign_in(ctx, enrolled.account, enrolled.backup_codes[0])


@scenario("BACKUP-ENTROPY-20-BITS", verifies=["BACKUP-ENTROPY"], level=Level.MUST,
          quote="with at least 20 bits of entropy")
def at_least_20_bits(ctx: Context) -> None:
    """Twenty codes are distinct, and their length and characters allow at least 20 bits each"""
    enrolled = ctx.enrol(ctx.account("staff"))
    codes = enrolled.backup_codes + ctx.target.regenerate_backup_codes(
        enrolled.session, enrolled.account.password)
    normal = [_normal(c) for c in codes]
    ctx.check(len(set(normal)) == len(normal), f"two of {len(normal)} backup codes are the same")
    # The alphabet is estimated from the characters seen (never larger than the real one), so
    # the estimate can only err low. Randomness itself (a CSPRNG) cannot be seen from outside.
    alphabet = set("".join(normal))
    length = min(len(c) for c in normal)
    bits = length * math.log2(max(len(alphabet), 1))
    ctx.trace.note(f"{length} characters from an alphabet of at least {len(alphabet)}: "
                   f"{bits:.1f} bits at most")
    least = params.BACKUP_ENTROPY_MIN_BITS
    ctx.check(bits >= least, f"{length} characters from {len(alphabet)} symbols give "
                             f"{bits:.1f} bits, under {least}")


@scenario("BACKUP-HASHED-NOT-READ-BACK", verifies=["BACKUP-HASHED"], level=Level.MUST,
          quote="MUST NOT store, log or cache them in plain or reversibly encrypted form")
def not_read_back(ctx: Context) -> None:
    """A later session shows none of the codes the user never typed again: a code shown there
    was kept where it can be read back, which a salted hash cannot be. Seeing none does not
    show how they are kept (BACKUP-HASHED-STORAGE reads the store)"""
    enrolled = ctx.enrol(ctx.account("staff"))
    ctx.step("Sign out, sign in again with the app's code, open Security and My Profile")
    ctx.target.sign_out(enrolled.session)
    session = ctx.second_step(enrolled)
    seen = {"Security": ctx.target.security(session), "My Profile": ctx.target.profile(session)}
    for where, value in seen.items():
        ctx.check(not _mentions_any(value, enrolled.backup_codes),
                  f"{where} shows a backup code again in a later session: the codes are kept "
                  "where they can be read back, not only as salted hashes")
    ctx.trace.note("none was read back; how they are kept is for the store to show")


@scenario("BACKUP-HASHED-STORAGE", verifies=["BACKUP-HASHED"], level=Level.MUST,
          quote="The deployment MUST store backup codes only as salted argon2id password hashes",
          needs=frozenset({Needs.INSPECT}))
def stored_hashed(ctx: Context) -> None:
    """Backup codes are kept only as salted argon2id hashes of the codes, one salt each"""
    enrolled = ctx.enrol(ctx.account("staff"))
    codes = enrolled.backup_codes
    ctx.step("Read how the clinic stores the ten backup codes it just showed")
    kept = [h for h in ctx.stored_credentials(enrolled.account.email).get("backup_codes") or []
            if h is not None]
    ctx.check(len(kept) == len(codes),
              f"{len(kept)} backup-code records kept for {len(codes)} codes shown")
    found = [stored.parse(h) for h in kept]
    ctx.check(all(f is not None for f in found),
              "a backup code is stored as something other than an argon2id hash")
    salts = [f.salt for f in found if f is not None]
    least = params.BACKUP_SALT_MIN_BITS
    ctx.check(all(len(s) * 8 >= least for s in salts),
              f"a backup code's salt is under {least} bits")
    ctx.check(len(set(salts)) == len(salts), "backup codes share a salt")
    ctx.check(not any(stored.plain(str(h), c) for h in kept for c in codes),
              "a backup code is stored in plain")
    ctx.step("The first and the last code shown each match a stored hash")
    forms = stored.spellings(codes[0])
    form = next((i for i in range(len(forms))
                 if any(stored.matches(h, forms[i]) for h in kept)), None)
    ctx.check(form is not None, "the first backup code shown matches no stored hash")
    if form is not None:
        last = stored.spellings(codes[-1])[form]
        ctx.check(any(stored.matches(h, last) for h in kept),
                  "the last backup code shown matches no stored hash")


@scenario("BACKUP-PASSKEY-FIRST-ISSUED", verifies=["BACKUP-PASSKEY-FIRST"], level=Level.SHOULD,
          quote="it SHOULD hand that user backup codes too, its declared number of them (the "
                "guide's 10)", needs=(Needs.PASSKEYS,))
def passkey_first_codes(ctx: Context) -> None:
    """A user whose first second factor is a passkey gets the declared number of backup codes,
    and one of them signs in, as the lost-device way back in"""
    if ctx.policy.passkey_first != "offered":
        raise NotApplicable("the deployment declares passkeys only beside an authenticator app "
                            f"(passkey_first = {ctx.policy.passkey_first!r}): no user has a "
                            "passkey as the first second factor", binds=False)
    account = ctx.account("staff")
    session = ctx.signed_in(account)
    ctx.step("Set up passkey as the first second factor")
    options = ctx.passkeys.begin_passkey_setup(session)
    with ctx.accepted("a passkey as the first second factor"):
        codes = ctx.passkeys.finish_passkey_setup(session, ctx.passkey().create(options),
                                                  "Phone passkey")
    when = "with the passkey"
    if ctx.policy.backup_codes_issued == "on_request":
        ctx.step("Generate backup codes (this deployment hands them out on request)")
        codes = ctx.target.regenerate_backup_codes(session, account.password)
        when = "when asked for after the passkey"
    count = ctx.policy.backup_codes
    ctx.check(len(codes) == count, f"{len(codes)} backup codes were handed out {when}, not "
                                   f"{count}: a lost passkey leaves the account locked")
    if codes:
        ctx.step("Sign in with a backup code instead of the passkey")
        _backup_sign_in(ctx, account, codes[0])


@scenario("BACKUP-PASSKEY-FIRST-KEPT", verifies=["BACKUP-PASSKEY-FIRST"], level=Level.SHOULD,
          quote="adding a passkey to an account that already has backup codes SHOULD leave those "
                "codes working", needs=(Needs.PASSKEYS,))
def passkey_keeps_codes(ctx: Context) -> None:
    """Adding a passkey after the authenticator app leaves the saved backup codes working"""
    enrolled = ctx.enrol(ctx.account("staff"))
    ctx.step("Set up passkey beside the authenticator app")
    ctx.add_passkey(enrolled.session)
    ctx.step("Sign in with a backup code saved at the authenticator app's confirmation")
    _backup_sign_in(ctx, enrolled.account, enrolled.backup_codes[0])


def _backup_sign_in(ctx: Context, account: Account, code: str) -> None:
    pending = ctx.target.sign_in(account.email, account.password)
    ctx.check(pending.stage == "second_step", f"expected the second step, got {pending.stage}")
    with ctx.accepted("a backup code at the second step"):
        done = ctx.target.use_backup_code(pending.session, code)
    ctx.check(done.stage == "signed_in", f"the backup code should sign in, got {done.stage}")


def _normal(code: str) -> str:
    """A code as the deployment matches it: no case, spaces or hyphens."""
    return "".join(code.split()).replace("-", "").lower()


def _mentions_any(value: Any, codes: list[str]) -> bool:
    text = _normal(repr(value))
    return any(_normal(c) in text for c in codes)
