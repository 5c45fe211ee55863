"""Every built-in target keeps the one contract (scenarios/contract.py), capabilities included."""

from __future__ import annotations

import inspect

import pytest

from clinic2fa.scenarios.contract import (
    CAPABILITY_PROTOCOLS,
    Needs,
    PasskeyCeremonies,
    Provider,
    Target,
)
from clinic2fa.scenarios.targets.browser.provider import OFFERED
from clinic2fa.scenarios.targets.browser.target import BrowserTarget
from clinic2fa.scenarios.targets.http import HttpTarget
from clinic2fa.scenarios.targets.memory import MemoryProvider, MemoryTarget


def methods(protocol: type) -> set[str]:
    """The methods a protocol asks for (not what typing.Protocol itself brings)."""
    return {name for name, value in vars(protocol).items()
            if inspect.isfunction(value) and not name.startswith("_")}


@pytest.mark.parametrize(("kind", "may_declare"), [
    (MemoryTarget, frozenset(Needs) - {Needs.HTTP}), (HttpTarget, frozenset(Needs)),
    (BrowserTarget, OFFERED)])
def test_each_target_has_every_action_of_the_contract_and_of_what_it_may_declare(
        kind: type, may_declare: frozenset[Needs]) -> None:
    wanted = methods(Target).union(*(methods(CAPABILITY_PROTOCOLS[n]) for n in may_declare
                                     if n in CAPABILITY_PROTOCOLS))
    missing = sorted(name for name in wanted if not callable(getattr(kind, name, None)))
    assert missing == [], f"{kind.__name__} lacks {missing}"


def test_every_capability_but_parallel_names_its_protocol() -> None:
    assert set(CAPABILITY_PROTOCOLS) == set(Needs) - {Needs.PARALLEL}
    assert "new_passkey" in methods(PasskeyCeremonies)


def test_the_memory_target_declares_what_it_offers_and_where_its_passkeys_live() -> None:
    target = MemoryTarget()
    assert isinstance(target, Target)
    assert target.capabilities == frozenset(Needs) - {Needs.HTTP}  # nothing travels
    assert target.origin == "http://localhost"
    device = target.new_passkey()
    options = target.begin_passkey_setup(target.sign_in(*_signed_up(target)).session)
    assert device.create(options)["type"] == "public-key"


def test_a_provider_needs_only_its_target_the_hooks_have_defaults() -> None:
    class Minimal(Provider):
        name, kind = "minimal", "minimal"

        def target(self) -> MemoryTarget:
            return MemoryTarget()

    minimal = Minimal()
    minimal.open()
    assert minimal.inapplicable(object()) is None  # type: ignore[arg-type]
    assert minimal.evidence(minimal.target(), object()) == {}  # type: ignore[arg-type]
    assert (minimal.details(), minimal.clock(), minimal.secrets()) == (None, None, set())
    with pytest.raises(NotImplementedError):
        Provider().target()
    assert MemoryProvider().clock().source == "memory"


def _signed_up(target: MemoryTarget) -> tuple[str, str]:
    account = target.account("staff")
    return account.email, account.password
