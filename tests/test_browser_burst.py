"""burst.py's rounds without a browser: pages that record when each form was told to go."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import pytest

from clinic2fa.scenarios.contract import Refused, Unsupported
from clinic2fa.scenarios.targets.browser.burst import Burst


class _Waited:
    def __init__(self, value: Any) -> None:
        self.value = value

    def __enter__(self) -> _Waited:
        return self


class _Request:
    def __init__(self) -> None:
        self.timing = {"startTime": 1_000.0, "requestStart": 1.0, "responseStart": 9.0}


class _Button:
    def __init__(self, fired: list[tuple[str, float]], name: str) -> None:
        self._fired, self._name = fired, name

    def element_handle(self) -> _Button:
        return self

    def evaluate(self, _script: str, at: float | None = None) -> None:
        if at is not None:  # (else the relay reads the form: none here, so the pages click)
            self._fired.append((self._name, at))  # the moment this page's form was armed for


class _Page:
    main_frame = object()

    def expect_event(self, _name: str) -> _Waited:
        return _Waited(None)

    def expect_request(self, _predicate: Callable[[Any], bool]) -> _Waited:
        return _Waited(_Request())


class _Session:
    page = _Page()
    context = None
    headers: ClassVar[dict[str, str]] = {}


def _sending(burst: list[Burst], name: str, forms: int, fired: list[tuple[str, float]],
             ) -> Callable[[], str]:
    """A call that sends `forms` forms through the burst, as the browser target's does."""
    def call() -> str:
        for _ in range(forms):
            burst[0].park(_Session(), _Button(fired, name))  # type: ignore[arg-type]
        return name
    return call


def test_each_round_sends_the_parked_forms_together_and_shorter_calls_start_later() -> None:
    fired: list[tuple[str, float]] = []
    holder: list[Burst] = []
    calls = [_sending(holder, "reset", 1, fired), _sending(holder, "use-1", 2, fired),
             _sending(holder, "use-2", 2, fired)]
    holder.append(Burst(calls))
    outcomes = holder[0].run()
    assert [o.result for o in outcomes] == ["reset", "use-1", "use-2"]
    assert all(o.on_the_wire and (o.sent, o.answered) == (1.001, 1.009) for o in outcomes)
    assert holder[0].forms() == (1, 2, 2)
    first = {name: at for name, at in fired[:3]}
    assert len(set(first.values())) == 1  # round one: the reset beside the sign-ins' first form

    fired.clear()
    holder[0] = Burst(calls, forms=(1, 2, 2))  # as the burst before showed
    holder[0].run()
    last = {name: at for name, at in fired}  # each call's last form
    assert last["reset"] == last["use-1"] == last["use-2"]  # now with the others' last forms
    assert [name for name, _ in fired].count("reset") == 1


def test_a_refusal_is_an_outcome_and_a_call_without_a_form_is_unsupported() -> None:
    holder: list[Burst] = []
    fired: list[tuple[str, float]] = []

    def refused() -> None:
        raise Refused("code_rejected", None, "a bad code")

    holder.append(Burst([refused, _sending(holder, "use", 1, fired)]))
    outcomes = holder[0].run()
    assert outcomes[0].refusal is not None and outcomes[0].refusal.code == "code_rejected"
    assert outcomes[1].result == "use"
    holder[0] = Burst([lambda: "a passkey's answer", _sending(holder, "use", 1, fired)])
    with pytest.raises(Unsupported, match="without a form the harness could hold"):
        holder[0].run()


def test_two_calls_in_one_session_are_unsupported() -> None:
    holder: list[Burst] = []

    def in_session() -> None:
        holder[0].claim("browser-1")
        holder[0].park(_Session(), _Button([], "x"))  # type: ignore[arg-type]

    holder.append(Burst([in_session, in_session]))
    with pytest.raises(Unsupported, match="one page sends one form at a time"):
        holder[0].run()
