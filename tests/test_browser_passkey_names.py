"""A site that asks for a passkey's name before the browser's prompt: the scenario's names."""

from __future__ import annotations

from clinic2fa.scenarios.targets.browser.names import PasskeyNames


def test_a_name_typed_before_the_prompt_is_shown_as_the_scenarios() -> None:
    names = PasskeyNames()
    names.typed("key-1a2b")  # begin_passkey_setup typed it
    names.chosen("Laptop")  # the scenario's name, when the setup finishes
    assert names.shown(("key-1a2b", "left over")) == ("Laptop", "left over")
    assert names.on_site("Laptop") == "key-1a2b"
    assert names.on_site("Phone") == "Phone"  # never typed: the site has the scenario's name


def test_without_a_typed_name_the_scenarios_name_is_the_sites() -> None:
    names = PasskeyNames()
    names.typed(None)  # a TOML flow, or a function that returned nothing
    names.chosen("Laptop")
    assert names.shown(("Laptop",)) == ("Laptop",)
    assert names.on_site("Laptop") == "Laptop"
