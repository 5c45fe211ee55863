"""Races from the pages (burst.py): the forms of many browsers sent at one moment.

A race scenario in the browser passes on the reference only with timing as evidence (the
wire's, relayed; the browser's own, clicked), fails on the no-locking defect, and is
unsupported where pages cannot send the burst (one session's forms in parallel).
"""

from __future__ import annotations

import pytest
from browser_support import outcome
from playwright.sync_api import Browser

from clinic2fa.scenarios.catalogue import races
from clinic2fa.scenarios.core.verdicts import Outcome
from clinic2fa.scenarios.targets.browser import relay

BROWSERS = 6  # a burst of six browsers proves what twenty do, in a third of the time


def _evidence(result: object) -> list[str]:
    return [e.text for e in result.trace.entries  # type: ignore[attr-defined]
            if e.kind == "note" and "requests " in e.text and "in flight" in e.text]


@pytest.mark.parametrize("relaying", [True, False], ids=["relayed", "clicked"])
def test_one_backup_code_from_many_browsers_signs_in_once(browser: Browser,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          relaying: bool) -> None:
    """Relayed (the harness sends the pages' forms), or, where a form cannot be relayed, each
    page clicking at one moment."""
    monkeypatch.setattr(races, "PARALLEL", BROWSERS)
    sent: list[int] = []
    send = relay.send
    monkeypatch.setattr(relay, "send", lambda forms, timeout: sent.append(len(forms)) or
                        send(forms, timeout))
    if not relaying:
        monkeypatch.setattr(relay.Form, "read", lambda *_: None)
    clean = outcome(browser, "RACE-BACKUP-CODE-ONCE")
    assert clean.outcome is Outcome.PASS, clean.message
    assert (BROWSERS in sent) is relaying
    seen = _evidence(clean)
    assert seen and f"the {BROWSERS} requests overlapped" in seen[-1], seen
    # the wire's times (relayed) or the browser's Resource Timing (clicked), not guesses
    assert "(as the target saw them)" in seen[-1]
    broken = outcome(browser, "RACE-BACKUP-CODE-ONCE", defect="no-locking")
    assert broken.outcome is Outcome.FAIL, broken.message
    assert "parallel uses of one backup code signed in, not exactly 1" in broken.message


def test_one_sessions_forms_in_parallel_are_unsupported(browser: Browser) -> None:
    done = outcome(browser, "RACE-SETUP-ONE-PENDING-SECRET")
    assert done.outcome is Outcome.UNSUPPORTED, done.message
    assert "one page sends one form at a time" in done.message
