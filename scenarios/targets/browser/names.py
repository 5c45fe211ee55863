"""Passkey names where a site asks for the name before the browser's prompt, not after it.

The contract names a passkey when its setup finishes; a site that wants the nickname first gets
one from its mapping's `begin_passkey_setup` function, which returns the name it typed. These
names are then shown to the scenario as the ones it chose, and turned back when it removes one.
"""

from __future__ import annotations


class PasskeyNames:
    """The names a site was given for passkeys, and the scenario's names for them."""

    def __init__(self) -> None:
        self._typed: str | None = None
        self._chosen: dict[str, str] = {}  # the site's name -> the scenario's

    def typed(self, answer: object) -> None:
        """What a begin_passkey_setup function returned: the name it typed, if a name."""
        self._typed = answer if isinstance(answer, str) and answer else None

    def chosen(self, name: str) -> None:
        """The scenario names the passkey whose setup finishes now."""
        if self._typed is not None:
            self._chosen[self._typed] = name
            self._typed = None

    def shown(self, names: tuple[str, ...]) -> tuple[str, ...]:
        """The site's list of passkeys, in the scenario's names."""
        return tuple(self._chosen.get(n, n) for n in names)

    def on_site(self, name: str) -> str:
        """The site's name for the passkey the scenario calls `name`."""
        return next((site for site, chosen in self._chosen.items() if chosen == name), name)
