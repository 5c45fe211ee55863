"""The hardening's scenarios (issue 16) pass on the reference and fail on their seeded defects.

In memory here; over HTTP and in the browser `clinic2fa defects --check` and the runs against
`clinic2fa serve --defect NAME` show the same. The timing check is a scenario's own bounded
sample (SIGNIN-NO-ENUMERATION's parameters); this file asserts only the verdict it gives.
"""

from __future__ import annotations

import re

import pytest
from memory_support import CATALOGUE, memory, run_body

from clinic2fa.scenarios.core import qr
from clinic2fa.scenarios.core.context import NonConformance
from clinic2fa.scenarios.selfcheck import defects
from clinic2fa.simulator.clinic import Clinic

# (seeded defect, the scenario that must catch it); each scenario passes on the reference.
PAIRS: list[tuple[str, str]] = [
    ("session-kept", "SESSION-NEW-TOKEN-SECOND-STEP"),
    ("session-kept", "SESSION-NEW-TOKEN-ENROLMENT"),
    ("password-not-throttled", "PASSWORD-RATE-LIMIT-SIGN-IN"),
    ("reentry-not-throttled", "PASSWORD-RATE-LIMIT-REENTRY"),
    ("unknown-email-skips-hash", "SIGNIN-NO-ENUMERATION-TIMING"),
    ("unknown-email-not-throttled", "SIGNIN-NO-ENUMERATION-THROTTLE"),
    ("no-failure-cap", "RATE-LIMIT-CAP-SECOND-STEP"),
    ("skew-oracle", "TOTP-SKEW-NO-ORACLE-LATER"),
    ("unicode-digits", "TOTP-ASCII-DIGITS-OTHER-SCRIPTS"),
    ("qr-svg-without-background", "QR-READABLE-EVERY-FORM"),
]


@pytest.mark.parametrize(("name", "scenario_id"), PAIRS, ids=[f"{n}-{s}" for n, s in PAIRS])
def test_passes_on_the_reference_fails_on_its_defect(name: str, scenario_id: str) -> None:
    assert set(defects.CATALOGUE[name].violates) & set(CATALOGUE[scenario_id].verifies)
    run_body(scenario_id, memory())
    with pytest.raises(NonConformance):
        run_body(scenario_id, memory(name))


def test_the_timing_check_says_what_it_measured_and_nothing_secret() -> None:
    trace = run_body("SIGNIN-NO-ENUMERATION-TIMING", memory())
    notes = [e.text for e in trace.entries if e.kind == "note"]
    assert any(n.startswith("median of 15: known account") for n in notes)
    assert all("not-" not in n for n in notes)  # the wrong passwords stay out of the notes


def test_every_hardening_scenario_is_paired_with_a_defect() -> None:
    modules = {"sessions", "throttling", "codes"}
    new = {s.id for s in CATALOGUE.values() if s.module.rsplit(".", 1)[-1] in modules}
    assert new == {s for _, s in PAIRS if s in new}
    assert {"QR-READABLE-EVERY-FORM"} <= {s for _, s in PAIRS}


class UndrawableSvg(Clinic):
    """Serves an SVG QR code of no size: a renderer cannot draw it."""

    def _qr_images(self, uri: str) -> tuple[str, bytes]:
        svg, png = super()._qr_images(uri)
        svg = re.sub(r'viewBox="[^"]*"', 'viewBox="0 0 0 0"', svg)
        return re.sub(r'(width|height)="\d+"', r'\1="0"', svg, count=2), png


def test_an_svg_the_renderer_cannot_draw_fails_qr_readable() -> None:
    with pytest.raises(NonConformance, match="SVG is not an image that can be drawn"):
        run_body("QR-READABLE-EVERY-FORM", memory(clinic=UndrawableSvg))


def test_without_an_svg_renderer_the_svg_is_not_verified_not_passed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def no_renderer(svg: str) -> None:
        raise qr.NoRenderer("no SVG renderer here (CairoSVG: test)")
    monkeypatch.setattr(qr, "from_svg", no_renderer)
    trace = run_body("QR-READABLE-EVERY-FORM", memory())
    assert trace.not_verified == ["the QR code's SVG: not verified here: no SVG renderer here "
                                  "(CairoSVG: test)"]
