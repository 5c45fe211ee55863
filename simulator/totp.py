"""TOTP secrets, Key URIs, QR codes and step matching (RFC 6238 / RFC 4226) on top of pyotp."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import io
import secrets
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs, urlsplit

import pyotp
import zxingcpp
from PIL import Image

Algorithm = Literal["SHA1", "SHA256", "SHA512"]


@dataclass(frozen=True)
class TotpParams:
    """What the Key URI announces; SHA1/6/30 because many apps ignore anything else (KEY-URI)."""

    algorithm: Algorithm = "SHA1"
    digits: int = 6
    period: int = 30


def new_secret() -> str:
    """A fresh 160-bit secret from the OS CSPRNG, base32 without padding (TOTP-SECRET-SIZE)."""
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii")


def _otp(secret: str, params: TotpParams) -> pyotp.TOTP:
    digest = getattr(hashlib, params.algorithm.lower())
    return pyotp.TOTP(secret, digits=params.digits, digest=digest, interval=params.period)


def provisioning_uri(secret: str, account: str, issuer: str, params: TotpParams) -> str:
    """The otpauth:// Key URI with the issuer in the label and as a parameter (KEY-URI)."""
    uri = _otp(secret, params).provisioning_uri(name=account, issuer_name=issuer)
    # pyotp leaves out values equal to its defaults; KEY-URI states all three explicitly.
    stated = parse_qs(urlsplit(uri).query)
    extra = [f"{key}={value}" for key, value in (("algorithm", params.algorithm),
             ("digits", params.digits), ("period", params.period)) if key not in stated]
    return "&".join([uri, *extra])


def manual_entry(secret: str) -> str:
    """The secret in groups of four, the way a person types it (MANUAL-SECRET)."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@functools.lru_cache(maxsize=32)
def _matrix(uri: str) -> tuple[tuple[bool, ...], ...]:
    """The Key URI's QR code (error correction M) as rows of modules, True for dark; encoded
    once for both images.

    zxing-cpp encodes in C++ (its writer is Zint's, which chooses the mask as ISO 18004 says):
    choosing the mask in pure Python (segno) was most of what a setup cost. The images are
    drawn here from the modules, so what they look like stays ours (QR-READABLE).
    """
    code = zxingcpp.create_barcode(uri, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    image = code.to_image(scale=1, add_quiet_zones=False)  # one pixel a module, 0 for dark
    height, width = image.shape
    pixels = bytes(memoryview(image))
    return tuple(tuple(pixels[y * width + x] == 0 for x in range(width)) for y in range(height))


QUIET_ZONE = 4  # modules of light around the symbol (ISO/IEC 18004; QR-READABLE)
DARK, LIGHT = "#000", "#fff"  # both painted: the image never relies on what it is shown on


def qr_svg(uri: str, scale: int = 4) -> str:
    """SVG of the Key URI's QR code: dark modules on its own white, quiet zone included.

    The modules are filled rectangles (a run of dark modules per row, one path), not segno's
    stroked lines: every renderer fills a rectangle alike, while some (ImageMagick's, which
    zbarimg reads SVG with) draw half-pixel strokes so that no reader finds the symbol.
    """
    matrix = _matrix(uri)
    size = len(matrix) + 2 * QUIET_ZONE
    runs = []
    for y, row in enumerate(matrix):
        x = 0
        while x < len(row):
            if row[x]:
                start = x
                while x < len(row) and row[x]:
                    x += 1
                runs.append(f"M{start + QUIET_ZONE} {y + QUIET_ZONE}h{x - start}v1h-{x - start}z")
            else:
                x += 1
    pixels = size * scale
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{pixels}" height="{pixels}" '
            f'viewBox="0 0 {size} {size}" shape-rendering="crispEdges">'
            f'<rect width="{size}" height="{size}" fill="{LIGHT}"/>'
            f'<path fill="{DARK}" d="{"".join(runs)}"/></svg>')


def qr_png(uri: str, scale: int = 4) -> bytes:
    """PNG of the Key URI's QR code, on its own white with the quiet zone."""
    matrix = _matrix(uri)
    size = len(matrix) + 2 * QUIET_ZONE
    image = Image.new("1", (size, size), 1)  # opaque white, no alpha: nothing shows through
    image.putdata([1] * (size * QUIET_ZONE)
                  + [bit for row in matrix
                     for bit in ([1] * QUIET_ZONE + [0 if dark else 1 for dark in row]
                                 + [1] * QUIET_ZONE)]
                  + [1] * (size * QUIET_ZONE))
    out = io.BytesIO()
    image.resize((size * scale, size * scale), Image.Resampling.NEAREST).save(out, "PNG")
    return out.getvalue()


def step_of(at: float, params: TotpParams) -> int:
    """The RFC 6238 time step T = floor(t / X) with T0 = 0 (64-bit safe in Python), in whole
    numbers: a float quotient rounds up to the next step within a rounding error of its start."""
    return int(at) // params.period


def code_at_step(secret: str, step: int, params: TotpParams) -> str:
    """The code for one counter value (HOTP) or time step (TOTP)."""
    return _otp(secret, params).generate_otp(step)


def match_step(secret: str, code: str, around: int, reach: int, params: TotpParams) -> int | None:
    """The step within `reach` steps of `around` whose code equals `code`, else None.

    Every candidate is compared in constant time and the loop never exits early, so timing does
    not reveal which step matched.
    """
    found: int | None = None
    candidate = code.encode("ascii", "replace")
    for step in range(max(0, around - reach), around + reach + 1):  # no steps before 1970
        expected = code_at_step(secret, step, params).encode("ascii")
        if hmac.compare_digest(expected, candidate) and found is None:
            found = step
    return found
