"""The deployment's declared choices, each inside the bounds the spec allows for it."""

from __future__ import annotations

from collections.abc import Callable

from clinic2fa import spec
from clinic2fa.scenarios.core.context import Context
from clinic2fa.scenarios.core.model import Level, scenario
from clinic2fa.scenarios.core.policy import PARAMETERS


def _checks(req: spec.Requirement, keys: list[str]) -> Callable[[Context], None]:
    def run(ctx: Context) -> None:
        for key in keys:
            parameter = req.parameters[PARAMETERS[key][1]]
            value = ctx.policy.value(key)
            said = "declared" if ctx.policy.is_declared(key) else "the reference's, not declared"
            ctx.step(f"{key} = {value!r} ({said}); the spec allows {parameter.bounds}")
            ctx.check(parameter.allows(value),
                      f"the declared {key} = {value!r} is outside the spec's bounds "
                      f"({parameter.bounds}): {parameter.reason}")

    run.__doc__ = (f"The declared {', '.join(keys)} "
                   f"{'is' if len(keys) == 1 else 'are'} inside the spec's bounds")
    return run


def _register() -> None:
    """One scenario per requirement with choices a deployment declares: <ID>-DECLARED."""
    loaded = spec.load()
    by_requirement: dict[str, list[str]] = {}
    for key, (req_id, _) in PARAMETERS.items():
        by_requirement.setdefault(req_id, []).append(key)
    for req in loaded.requirements:
        keys = by_requirement.get(req.id)
        if keys:
            run = _checks(req, keys)
            run.__name__ = f"declared_{req.id.lower().replace('-', '_')}"
            scenario(f"{req.id}-DECLARED", verifies=[req.id], level=Level(req.level),
                     quote=req.statement)(run)


_register()
