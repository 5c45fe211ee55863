"""What the setup screen hands the phone: Key URI, QR code, manual-entry secret, secret size."""

from __future__ import annotations

import base64
import binascii
import math
import re
from urllib.parse import parse_qs, unquote, urlsplit

from clinic2fa.scenarios.contract import SetupScreen
from clinic2fa.scenarios.core.context import Context
from clinic2fa.scenarios.core.model import Level, scenario
from clinic2fa.scenarios.core.params import ALGORITHM, DIGITS, PERIOD, SECRET_BITS
from clinic2fa.scenarios.core.randomness import repeated_bits
from clinic2fa.simulator.virtual.authenticator_app import DeviceError, decode_qr

BASE32 = re.compile(r"[A-Z2-7]+")
SECRET_CHARS = math.ceil(SECRET_BITS / 5)  # base32 characters that carry the secret
# What the Key Uri Format assumes for a parameter left out (KEY-URI), not a choice of ours.
FORMAT_DEFAULTS = {"algorithm": "SHA1", "digits": "6", "period": "30"}
SHORT_GROUP = range(3, 9)  # characters in a "short group" of the manual-entry secret


@scenario("KEY-URI-FORMAT", verifies=["KEY-URI"], level=Level.MUST,
          quote="The QR code MUST encode an otpauth://totp/ Key URI whose label is "
                "<issuer>:<the user's email>")
def key_uri_format(ctx: Context) -> None:
    """The QR code holds otpauth://totp/<declared issuer>:<email> with the agreed parameters"""
    ctx.account("staff")  # a colleague first: the label must name this user, not another
    account = ctx.account("staff")
    setup = _setup(ctx, account.email, account.password)
    ctx.step("Read the QR code as a camera would")
    try:
        scanned = decode_qr(setup.qr_png)
    except DeviceError as exc:
        ctx.check(False, f"the QR code cannot be read: {exc}")
    ctx.check(scanned == setup.uri, "the QR code holds another text than the setup's Key URI")
    parts = urlsplit(scanned)
    ctx.check(parts.scheme == "otpauth" and parts.netloc == "totp",
              f"the URI starts {parts.scheme}://{parts.netloc}, not otpauth://totp")
    label = unquote(parts.path.lstrip("/"))
    issuer, _, email = label.partition(":")
    declared = ctx.policy.issuer
    ctx.check(issuer == declared, f"the label's issuer is {issuer!r}, not the declared issuer "
                                  f"{declared!r}")
    ctx.check(email.strip().casefold() == account.email.casefold(),
              f"the label names {email!r}, not the user's email")
    query = parse_qs(parts.query)
    repeated = sorted(k for k, v in query.items() if len(v) > 1)
    ctx.check(not repeated, f"the URI repeats parameters {repeated}")
    params = {k: v[0] for k, v in query.items()}
    secret = params.get("secret", "")
    ctx.check(bool(BASE32.fullmatch(secret)),
              "the secret parameter is missing or not base32 without padding")
    ctx.check(len(secret) >= SECRET_CHARS, f"the secret has {len(secret)} base32 characters, "
              f"fewer than the {SECRET_CHARS} that carry {SECRET_BITS} bits")
    ctx.check(params.get("issuer") == declared, f"the issuer parameter is "
              f"{params.get('issuer')!r}, not {declared!r} as in the label")
    ctx.check(params.get("digits", FORMAT_DEFAULTS["digits"]) == str(DIGITS),
              f"digits is {params.get('digits')!r}, not {DIGITS}")
    ctx.check(params.get("period", FORMAT_DEFAULTS["period"]) == str(PERIOD),
              f"period is {params.get('period')!r}, not {PERIOD}")
    ctx.check(params.get("algorithm", FORMAT_DEFAULTS["algorithm"]).upper() == ALGORITHM,
              f"algorithm is {params.get('algorithm')!r}, not {ALGORITHM}")


@scenario("MANUAL-SECRET-SAME-SECRET", verifies=["MANUAL-SECRET"], level=Level.MUST,
          quote="a manual-entry secret that decodes to the same secret as the QR code, written in "
                "base32 in short groups")
def manual_entry_is_the_qr_secret(ctx: Context) -> None:
    """The manual-entry secret is the QR code's secret, in short base32 groups"""
    account = ctx.account("staff")
    setup = _setup(ctx, account.email, account.password)
    typed = setup.manual_entry.strip()
    groups = re.split(r"[\s-]+", typed)  # groups apart by spaces or dashes ("K3FB-TY54-...")
    ctx.check(len(groups) > 1 and all(len(g) in SHORT_GROUP for g in groups),
              f"the manual-entry secret is not in short groups: group sizes "
              f"{[len(g) for g in groups]}")
    joined = "".join(groups).upper().rstrip("=")
    ctx.check(bool(BASE32.fullmatch(joined)), "the manual-entry secret is not base32")
    raw = _raw(joined)
    ctx.check(raw is not None and raw == _raw(_uri_secret(setup.uri)),
              "the manual-entry secret differs from the QR code's secret")


@scenario("TOTP-SECRET-SIZE-160-BITS", verifies=["TOTP-SECRET-SIZE"], level=Level.MUST,
          quote="generate each TOTP secret as 160 bits (20 bytes)")
def secret_is_160_bits(ctx: Context) -> None:
    """The secret in the Key URI decodes to exactly 20 bytes, with no repeating structure"""
    account = ctx.account("staff")
    setup = _setup(ctx, account.email, account.password)
    raw = _raw(_uri_secret(setup.uri))
    ctx.check(raw is not None, "the Key URI's secret is not valid base32")
    ctx.check(raw is not None and len(raw) * 8 == SECRET_BITS,
              f"the secret has {len(raw or b'') * 8} bits, not {SECRET_BITS}")
    ctx.step(f"The {SECRET_BITS} bits look random: no bits repeat at a fixed distance")
    repeated = repeated_bits(raw or b"")
    ctx.check(repeated is None, f"the secret is {SECRET_BITS} bits long but not {SECRET_BITS} "
                                f"random bits: {repeated}")


@scenario("TOTP-SECRET-SIZE-UNIQUE", verifies=["TOTP-SECRET-SIZE"], level=Level.MUST,
          quote="unique to the user and to that setup")
def secret_unique(ctx: Context) -> None:
    """Two users, and two setups of one user, never share a secret"""
    first, second = ctx.account("staff"), ctx.account("staff")
    session = ctx.signed_in(first)
    setups = [ctx.target.start_authenticator_setup(session),
              ctx.target.start_authenticator_setup(session),
              _setup(ctx, second.email, second.password)]
    secrets = [_raw(_uri_secret(s.uri)) for s in setups]
    ctx.check(len(set(secrets)) == 3, "two setups showed the same secret")


def _setup(ctx: Context, email: str, password: str) -> SetupScreen:
    result = ctx.target.sign_in(email, password)
    ctx.check(result.stage == "signed_in", f"sign-in should complete, got {result.stage}")
    ctx.step('Click "Set up authenticator app"')
    return ctx.target.start_authenticator_setup(result.session)


def _uri_secret(uri: str) -> str:
    return parse_qs(urlsplit(uri).query).get("secret", [""])[0].upper().rstrip("=")


def _raw(secret: str) -> bytes | None:
    try:
        return base64.b32decode(secret + "=" * (-len(secret) % 8))
    except (binascii.Error, ValueError):
        return None
