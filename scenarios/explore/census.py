"""How many seeded defects `clinic2fa explore` finds at a budget: explore against each one.

    python -m clinic2fa.scenarios.explore.census [--examples N] [--seed S] [--jobs J] [NAME...]

Each defect is explored on memory (a defect of the web layer's answers only, which memory
cannot show, is counted as not found). Prints one line per defect as it ends and the total;
exit 0. A measurement, not a test: tests/test_explore.py checks chosen defects one by one.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor, as_completed

from clinic2fa.scenarios.explore.explorer import CI_SEED, DEFAULT_EXAMPLES, explore
from clinic2fa.scenarios.selfcheck import defects


def found(name: str, examples: int, seed_value: int) -> tuple[str, bool, float, int]:
    """(name, found, seconds, steps of the shortest sequence) for one defect on memory."""
    began = time.monotonic()
    if not defects.CATALOGUE[name].shows("memory"):
        return name, False, 0.0, 0
    finding = explore(f"memory+defect:{name}", examples=examples, seed_value=seed_value)
    return name, finding is not None, time.monotonic() - began, len(finding.steps) if finding else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clinic2fa.scenarios.explore.census")
    parser.add_argument("--examples", type=int, default=DEFAULT_EXAMPLES)
    parser.add_argument("--seed", type=int, default=CI_SEED)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("names", nargs="*")
    args = parser.parse_args(argv)
    names = args.names or sorted(defects.CATALOGUE)
    print(f"explore --examples {args.examples} --seed {args.seed} on {len(names)} defects",
          flush=True)
    results = []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(found, n, args.examples, args.seed) for n in names]
        for future in as_completed(futures):
            name, hit, seconds, steps = future.result()
            results.append((name, hit))
            how = f"found in {seconds:.0f} s, {steps} steps" if hit else (
                "web layer only" if not seconds else f"missed ({seconds:.0f} s)")
            print(f"  {name}: {how}", flush=True)
    hits = sorted(n for n, hit in results if hit)
    print(f"found {len(hits)} of {len(names)}; missed: "
          f"{', '.join(sorted(n for n, hit in results if not hit)) or 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
