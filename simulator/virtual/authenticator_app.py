"""A virtual authenticator app: scans the QR code or takes the typed secret, on a skewable clock."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlparse

import pyotp
import zxingcpp
from PIL import Image, UnidentifiedImageError

MIN_SECRET_BITS = 112  # NIST SP 800-63B; pyotp 2.12 enforces the same floor


class DeviceError(Exception):
    """The device could not add the account: a bad image, a bad URI, a broken camera."""


@dataclass(frozen=True)
class Account:
    """One entry in the app, with every parameter the Key URI carried."""

    secret: str
    issuer: str
    account: str
    algorithm: str = "SHA1"
    digits: int = 6
    period: int = 30


def parse_uri(uri: str) -> Account:
    """Read an otpauth://totp Key URI, refusing anything malformed with a clear reason."""
    parts = urlparse(uri)
    if parts.scheme != "otpauth" or parts.netloc != "totp":
        raise DeviceError(f"not an otpauth://totp URI: {parts.scheme}://{parts.netloc}")
    label = unquote(parts.path.lstrip("/"))
    label_issuer, _, account = label.rpartition(":")
    parsed = parse_qs(parts.query, strict_parsing=False)
    repeated = sorted(k for k, v in parsed.items() if len(v) > 1)
    if repeated:
        raise DeviceError(f"the URI repeats {', '.join(repeated)}: ambiguous")
    query = {k: v[0] for k, v in parsed.items()}
    if "secret" not in query:
        raise DeviceError("the URI has no secret")
    issuer = query.get("issuer", label_issuer)
    if label_issuer and issuer != label_issuer:
        raise DeviceError(f"issuer {issuer!r} differs from the label's {label_issuer!r}")
    algorithm = query.get("algorithm", "SHA1").upper()
    if algorithm not in ("SHA1", "SHA256", "SHA512"):
        raise DeviceError(f"unsupported algorithm {algorithm}")
    try:
        digits, period = int(query.get("digits", "6")), int(query.get("period", "30"))
    except ValueError as exc:
        raise DeviceError(f"digits and period must be numbers: {exc}") from None
    if digits not in (6, 7, 8) or period <= 0:
        raise DeviceError(f"unusable digits={digits} or period={period}")
    return Account(_clean_secret(query["secret"]), issuer, account, algorithm, digits, period)


def _clean_secret(typed: str) -> str:
    """Accept the secret as a person types it: groups, spaces, lower case."""
    secret = "".join(typed.split()).replace("-", "").upper().rstrip("=")
    try:
        key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    except (binascii.Error, ValueError):
        raise DeviceError("the secret is not valid base32") from None
    if len(key) * 8 < MIN_SECRET_BITS:  # pyotp refuses these too, but only when asked a code
        raise DeviceError(f"the secret is too short: {len(key) * 8} bits, "
                          f"at least {MIN_SECRET_BITS} needed")
    return secret


def decode_qr(image: bytes) -> str:
    """The text of the one QR code in a PNG (or screenshot), via zxing-cpp."""
    try:
        picture = Image.open(io.BytesIO(image))
    except (UnidentifiedImageError, OSError):
        raise DeviceError("the image is not a picture the camera can read") from None
    found = zxingcpp.read_barcodes(picture)
    if not found:
        raise DeviceError("no QR code found in the image")
    return found[0].text


class AuthenticatorApp:
    """A phone with an authenticator app. `offset` is how far its clock is from true time."""

    def __init__(self, clock: Callable[[], float] = time.time, offset: float = 0.0,
                 camera_works: bool = True) -> None:
        self._clock = clock
        self.offset = offset
        self.camera_works = camera_works
        self.accounts: list[Account] = []

    def now(self) -> float:
        return self._clock() + self.offset

    def scan(self, image: bytes) -> Account:
        """Tap +, Scan QR code: decode the picture and add what the Key URI says."""
        if not self.camera_works:
            raise DeviceError("camera issues: the QR code won't scan")
        return self.add_uri(decode_qr(image))

    def add_uri(self, uri: str) -> Account:
        account = parse_uri(uri)
        self.accounts.append(account)
        return account

    def type_secret(self, secret: str, issuer: str = "", account: str = "") -> Account:
        """Manual entry: the app assumes SHA1 / 6 digits / 30 s, as real apps do."""
        entry = Account(_clean_secret(secret), issuer, account)
        self.accounts.append(entry)
        return entry

    def sync_clock(self) -> None:
        """The guide's fix for a rejected code: sync the phone's clock."""
        self.offset = 0.0

    def code(self, account: Account | None = None) -> str:
        """The 6-digit code the app shows now, on its own (possibly skewed) clock."""
        entry = account or self.accounts[-1]
        return self._otp(entry).at(self.now())

    def code_at_step(self, step: int, account: Account | None = None) -> str:
        """The code for any time step, to try codes from other steps inside a window."""
        return self._otp(account or self.accounts[-1]).generate_otp(step)

    def step(self, account: Account | None = None) -> int:
        return int(self.now() // (account or self.accounts[-1]).period)

    @staticmethod
    def _otp(entry: Account) -> pyotp.TOTP:
        digest = getattr(hashlib, entry.algorithm.lower())
        return pyotp.TOTP(entry.secret, digits=entry.digits, digest=digest, interval=entry.period)
