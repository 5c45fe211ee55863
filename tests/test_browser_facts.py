"""Facts read the deployment's way: a count of what a page lists (its backup codes left)."""

from __future__ import annotations

from typing import Any

import pytest

from clinic2fa.scenarios.errors import UsageError
from clinic2fa.scenarios.targets.browser import locators
from clinic2fa.scenarios.targets.browser.facts import read


class _Found:
    """Enough of a Playwright Locator for `read`: so many visible elements."""

    def __init__(self, visible: int) -> None:
        self.visible = visible

    def filter(self, **_: Any) -> _Found:
        return self

    def count(self) -> int:
        return self.visible


def test_a_number_may_be_the_count_of_what_the_page_lists() -> None:
    mapping = locators.parse({"facts": {"backup_codes_left": {"count": {"css": "ul > li"}}}})
    fact = mapping.facts["backup_codes_left"]
    assert read(fact, lambda what: _Found(7)) == 7
    assert read(fact, lambda what: _Found(0)) == 0


def test_only_a_number_is_counted() -> None:
    with pytest.raises(UsageError, match="two_factor is a bool; read it with") as error:
        locators.parse({"facts": {"two_factor": {"count": {"css": "li"}}}})
    assert "\n" not in str(error.value)
