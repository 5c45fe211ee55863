"""Measuring child processes: wall time and peak RSS of a run, start-up and peak RSS of a server."""

from __future__ import annotations

import os
import platform
import re
import signal
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
CLINIC2FA = str(ROOT / ".venv" / "bin" / "clinic2fa")
BANNER = re.compile(r"on (http://\S+)")
READY_TIMEOUT = 60.0  # seconds for a server to answer its first request


@dataclass(frozen=True)
class Run:
    """One finished child process."""

    seconds: float
    exit_code: int
    peak_rss_kib: int


def run_child(argv: list[str]) -> Run:
    """Run to the end; its own peak RSS from wait4 (not the maximum over every child so far)."""
    started = time.perf_counter()
    child = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL,  # noqa: S603
                             stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    return Run(time.perf_counter() - started, child.returncode, usage.ru_maxrss)


@dataclass
class Server:
    """A `clinic2fa serve` child: where it answers, and how long it took to first answer."""

    url: str
    pid: int
    startup_seconds: float

    def peak_rss_kib(self) -> int:
        """VmHWM: the most resident memory the process ever had."""
        status = Path(f"/proc/{self.pid}/status").read_text(encoding="utf-8")
        return int(re.search(r"VmHWM:\s+(\d+)", status).group(1))  # type: ignore[union-attr]


@contextmanager
def serving(*options: str) -> Iterator[Server]:
    """`clinic2fa serve --port 0 ...` from process start to its first answer, then Ctrl-C."""
    started = time.perf_counter()
    child = subprocess.Popen([CLINIC2FA, "serve", "--port", "0", "--log-level", "warning",  # noqa: S603
                              *options], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True,
                             env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert child.stdout is not None
        found = BANNER.search(child.stdout.readline())
        if not found:
            raise RuntimeError("clinic2fa serve printed no URL")
        url = found.group(1)
        # the socket listens before the banner: this one request waits for the app, no polling
        if httpx.get(f"{url}/healthz", timeout=READY_TIMEOUT).status_code != 200:
            raise RuntimeError("clinic2fa serve did not answer /healthz")
        yield Server(url, child.pid, time.perf_counter() - started)
    finally:
        child.send_signal(signal.SIGINT)
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def median(measure: Callable[[], float], times: int) -> float:
    return statistics.median(measure() for _ in range(times))


def machine() -> dict[str, str]:
    """What the figures came from."""
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
                if line.startswith("model name")), platform.processor() or "unknown")
    mem = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text(encoding="utf-8"))
    return {"date": datetime.now(UTC).strftime("%Y-%m-%d"), "cpu": cpu,
            "cores (nproc)": str(len(os.sched_getaffinity(0))),
            "memory": f"{int(mem.group(1)) / 2**20:.1f} GiB" if mem else "unknown",
            "python": platform.python_version(), "os": platform.platform()}
