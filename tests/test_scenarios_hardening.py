"""The hardening's scenarios (issue 16) pass on the reference and fail on their seeded defects.

In memory here; over HTTP and in the browser `clinic2fa defects --check` and the runs against
`clinic2fa serve --defect NAME` show the same. The timing check is a scenario's own bounded
sample (SIGNIN-NO-ENUMERATION's parameters); this file asserts only the verdict it gives.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest
from memory_support import CATALOGUE, memory, run_body

from clinic2fa.scenarios.contract import Inconclusive, Refused, SignInResult
from clinic2fa.scenarios.core import qr
from clinic2fa.scenarios.core.context import Context, NonConformance
from clinic2fa.scenarios.core.trace import Trace
from clinic2fa.scenarios.selfcheck import defects
from clinic2fa.scenarios.targets.memory import MemoryTarget
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


class ThrottleTheRightPasswordKeeps(MemoryTarget):
    """As django-allauth's login_failed limit: five wrong passwords per email, then every
    sign-in of that email is throttled (the right one too) until the reset hook clears it."""

    def __init__(self) -> None:
        reference = memory()
        super().__init__(reference.clinic, reference.clock)
        self.failures: Counter[str] = Counter()
        self.resets = 0

    def sign_in(self, email: str, password: str) -> SignInResult:
        if self.failures[email] >= 5:
            raise Refused("locked_out", None, "Too many failed login attempts.")
        try:
            return super().sign_in(email, password)
        except Refused as refusal:
            if refusal.code == "invalid_credentials":
                self.failures[email] += 1
            raise

    def reset(self) -> None:
        self.failures.clear()
        self.resets += 1


@pytest.mark.parametrize("hook", [True, False], ids=["reset-hook", "no-hook"])
def test_a_password_throttle_in_the_timing_sample_is_lifted_by_the_reset_hook(hook: bool) -> None:
    target = ThrottleTheRightPasswordKeeps()
    trace = Trace()
    ctx = Context(target, trace, frozenset(target.capabilities),
                  reset=target.reset if hook else None)
    try:
        if not hook:  # a throttled answer is never read as a timing
            with pytest.raises(Inconclusive, match="throttled during the timing sample"):
                CATALOGUE["SIGNIN-NO-ENUMERATION-TIMING"].run(ctx)
            return
        CATALOGUE["SIGNIN-NO-ENUMERATION-TIMING"].run(ctx)
    finally:
        assert not ctx.run_cleanups()
    lifted = [e.text for e in trace.entries if e.kind == "note" and "reset hook lifts" in e.text]
    assert len(lifted) >= 3  # 16 wrong passwords for the account, five at a time
    assert target.resets == len(lifted) + 1  # and once after, for the scenarios that follow
    assert any(e.text.startswith("median of 15: known account") for e in trace.entries)
