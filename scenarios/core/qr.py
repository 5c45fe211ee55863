"""A QR image read as a standard reader reads it: on its own, whatever it is shown on.

QR-READABLE: an image must carry its own light background and quiet zone. So each image is
put on black before it is read (a transparent one then shows black on black, as a reader
that takes transparency for black sees it), read with zxing-cpp, and its quiet zone measured
in modules. SVG is drawn with CairoSVG; without it (or its cairo library) an SVG is not read.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import zxingcpp
from PIL import Image, UnidentifiedImageError

SVG_SCALE = 3  # an SVG drawn at 3 pixels per unit: whole pixels, so no grey rim at the edges
DARK_LIMIT = 128  # a grey level below this is a dark module
FINDER_MODULES = 7  # a finder pattern's width (ISO/IEC 18004)


class Unreadable(Exception):
    """The image cannot even be drawn (not a PNG, or an SVG the renderer cannot draw)."""


class NoRenderer(Unreadable):
    """No SVG renderer on this machine: the SVG is not judged here."""


@dataclass(frozen=True)
class Reading:
    """What a reader made of one image."""

    text: str | None  # the QR code's text, None when no symbol was found
    quiet_zone: float  # modules of light between the symbol and the image's nearest edge


def from_png(data: bytes) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError):
        raise Unreadable("not an image a reader can open") from None
    return image


def from_svg(svg: str) -> Image.Image:
    """The SVG drawn as it is, transparency kept; Unreadable without CairoSVG here."""
    try:
        import cairosvg  # lazily: it loads the system's cairo library
    except (ImportError, OSError) as exc:
        raise NoRenderer(f"no SVG renderer here (CairoSVG: {exc})") from None
    try:
        png = cairosvg.svg2png(bytestring=svg.encode("utf-8"), scale=SVG_SCALE)
    except Exception as exc:  # CairoSVG raises many kinds for a broken document
        raise Unreadable(f"the SVG cannot be drawn: {type(exc).__name__}") from None
    return from_png(png)


def on_dark(image: Image.Image) -> Image.Image:
    """The image over black: only what it paints itself stays light."""
    rgba = image.convert("RGBA")
    ground = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
    ground.alpha_composite(rgba)
    return ground.convert("L")


def read(image: Image.Image) -> Reading:
    """Read the image over black, and measure its quiet zone."""
    grey = on_dark(image)
    found = zxingcpp.read_barcodes(grey, formats=zxingcpp.BarcodeFormat.QRCode)
    if not found:
        return Reading(None, 0.0)
    return Reading(found[0].text, quiet_zone(grey))


def quiet_zone(grey: Image.Image) -> float:
    """Whole modules of light between the dark modules and the nearest edge of the image.

    The dark pixels' bounding box is the symbol; a module is a seventh of the top edge of
    its top-left finder pattern (ISO/IEC 18004), taken as the longest dark run in the box's
    first rows (an image scaled by a fraction, as a screenshot of a page is, blurs its first
    row or column of pixels). A quiet zone is a whole number of modules, so the measure is
    rounded: 3.9 measured on such an image is the 4 it was drawn with.
    """
    dark = grey.point(lambda v: 255 if v < DARK_LIMIT else 0)
    box = dark.getbbox()
    if box is None:
        return 0.0
    left, top, right, bottom = box
    margin = min(left, top, grey.width - right, grey.height - bottom)
    edge = max((_run(dark, left, right, y) for y in range(top, min(top + 4, bottom))),
               default=0)
    size = edge / FINDER_MODULES
    return float(round(margin / size)) if size > 0 else 0.0


def _run(dark: Image.Image, left: int, right: int, y: int) -> int:
    """The length of the first run of dark pixels in row y, from the box's left edge on."""
    x = left
    while x < right and not dark.getpixel((x, y)):
        x += 1
        if x - left > 2:  # the finder starts at the box's edge: a blurred pixel or two at most
            return 0
    start = x
    while x < right and dark.getpixel((x, y)):
        x += 1
    return x - start
