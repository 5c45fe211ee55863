"""Rules seen from behaviour where the store or the wiring cannot be read: BACKUP-HASHED from codes
shown again in a later session, SAME-STRENGTH-ALL-PATHS from a second step that takes two
people's factors. Each fails on a clinic that breaks it and claims nothing it did not see."""

from __future__ import annotations

import pytest
from browser_support import outcome
from memory_support import memory, run_body
from playwright.sync_api import Browser

from clinic2fa.scenarios.core.context import NonConformance


def test_codes_read_back_in_a_later_session_fail_backup_hashed() -> None:
    run_body("BACKUP-HASHED-NOT-READ-BACK", memory())
    with pytest.raises(NonConformance, match="Security shows a backup code again in a later"):
        run_body("BACKUP-HASHED-NOT-READ-BACK", memory("backup-codes-retrievable"))


def test_codes_kept_plain_but_never_shown_are_not_seen_from_outside() -> None:
    # behaviour cannot show this store: the check that reads the store does
    trace = run_body("BACKUP-HASHED-NOT-READ-BACK", memory("backup-codes-plain"))
    assert any("for the store to show" in e.text for e in trace.entries)
    with pytest.raises(NonConformance):
        run_body("BACKUP-HASHED-STORAGE", memory("backup-codes-plain"))


def test_another_users_passkey_at_the_second_step_fails_same_strength() -> None:
    run_body("SAME-STRENGTH-PASSKEY-OTHER-USER", memory())
    with pytest.raises(NonConformance, match="another user's passkey: should be refused, but"):
        run_body("SAME-STRENGTH-PASSKEY-OTHER-USER", memory("passkey-other-users-credential"))


def test_in_the_browser_another_users_passkey_reaches_the_server(browser: Browser) -> None:
    # the attacker's browser drops the allow list: the reference's refusal is what is seen
    result = outcome(browser, "SAME-STRENGTH-PASSKEY-OTHER-USER")
    assert result.outcome.value == "pass", result.message
