"""Scenarios run ahead on worker threads, their results handed to pytest in catalogue order.

With `-j N` the scenarios start in the order of the run on N threads, and pytest's items each
wait for their own result, so the progress lines, the reports and the exit code come in the
order and with the verdicts a serial run gives. A result that would stop a serial run (the
target dropped; a blocking failure under -x) stops new scenarios from starting; every scenario
before it in the order had already started, so each result pytest still asks for is there.

A scenario that measures the target (a race's overlapping requests, a timing's medians) runs
`alone`: the scenarios before it finish first, and none starts beside it, so what it measures
is the target, not its neighbours' load.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError, Future

from clinic2fa.scenarios.core.model import Needs, Scenario
from clinic2fa.scenarios.core.verdicts import ScenarioResult

THREAD_NAME = "clinic2fa-scenario"


class Ahead:
    """`jobs` worker threads running `scenarios` in order with `run`.

    `stops(result)` says whether a result ends the run (no new scenario starts after it);
    `leave()` runs in each worker thread as it ends (what the thread opened for itself, such as
    a browser connection, is closed in the thread that opened it).
    """

    def __init__(self, scenarios: Sequence[Scenario], run: Callable[[Scenario], ScenarioResult],
                 jobs: int, *, stops: Callable[[ScenarioResult], bool] = lambda _: False,
                 leave: Callable[[], None] = lambda: None,
                 alone: Callable[[Scenario], bool] = lambda _: False) -> None:
        self._run = run
        self._stops = stops
        self._leave = leave
        self._alone = alone
        self._jobs = max(1, min(jobs, len(scenarios)))
        self._queue: deque[tuple[Scenario, Future[ScenarioResult]]] = deque()
        self._futures: dict[int, Future[ScenarioResult]] = {}
        for scenario in scenarios:
            future: Future[ScenarioResult] = Future()
            self._futures[id(scenario)] = future
            self._queue.append((scenario, future))
        self._lock = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._stopped = False
        self._running = 0  # scenarios started and not finished
        self._alone_running = False

    def start(self) -> None:
        for number in range(1, self._jobs + 1):
            thread = threading.Thread(target=self._work, name=f"{THREAD_NAME}-{number}",
                                      daemon=True)
            self._threads.append(thread)
            thread.start()

    def __contains__(self, scenario: Scenario) -> bool:
        return id(scenario) in self._futures

    def result(self, scenario: Scenario) -> ScenarioResult:
        """The scenario's result, once it has run; a scenario stopped before it started runs
        now, in the caller's thread (a run goes on after a stop only when pytest says so)."""
        try:
            return self._futures[id(scenario)].result()
        except CancelledError:
            return self._run(scenario)

    def stop(self) -> None:
        """No scenario starts from now on; those running finish."""
        with self._lock:
            self._stopped = True
            while self._queue:
                self._queue.popleft()[1].cancel()
            self._lock.notify_all()

    def close(self) -> None:
        """Stop, and wait for the running scenarios (their cleanups put the target back)."""
        self.stop()
        for thread in self._threads:
            thread.join()

    def _next(self) -> tuple[Scenario, Future[ScenarioResult]] | None:
        """The next scenario in the order, once it may start (alone: once nothing runs)."""
        with self._lock:
            while self._queue and not self._stopped:
                scenario, future = self._queue[0]
                alone = self._alone(scenario)
                if self._alone_running or (alone and self._running):
                    self._lock.wait()
                    continue
                self._queue.popleft()
                if future.set_running_or_notify_cancel():
                    self._running += 1
                    self._alone_running = alone
                    return scenario, future
            return None

    def _done(self) -> None:
        with self._lock:
            self._running -= 1
            self._alone_running = False
            self._lock.notify_all()

    def _work(self) -> None:
        try:
            while (item := self._next()) is not None:
                scenario, future = item
                try:
                    result = self._run(scenario)
                except BaseException as exc:  # run_scenario raises only to interrupt
                    future.set_exception(exc)
                    self.stop()
                    continue
                finally:
                    self._done()
                future.set_result(result)
                if self._stops(result):
                    self.stop()
        finally:
            self._leave()


def measures_the_target(scenario: Scenario) -> bool:
    """A race (its requests must overlap on the target alone) or a timing (`alone=True`)."""
    return scenario.alone or Needs.PARALLEL in scenario.needs
