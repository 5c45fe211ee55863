"""Where parallel (race) and load traffic may go: loopback, or a host the config names."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from clinic2fa.scenarios.targets.config import TargetConfig

LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: by the name itself, never by asking DNS."""
    name = host.strip().lower().strip("[]")
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_of(url: str) -> str:
    """The host of http://HOST:PORT/..., lower case, without brackets ("" if there is none)."""
    return (urlsplit(url).hostname or "").lower()


def may_flood(url: str, config: TargetConfig | None) -> bool:
    """Many requests at once only to this machine or to a host the config names explicitly:
    a burst of sign-ins at someone else's server is an attack, not a test."""
    host = host_of(url)
    if not host:
        return False
    return is_loopback(host) or host in (config.hosts if config else ())


def refusal(url: str) -> str:
    """The one line that says why traffic to `url` is refused."""
    return (f"refusing to send parallel or load traffic to {host_of(url) or url!r}: only "
            "loopback (127.0.0.1, ::1, localhost) or a host the config names under "
            "[target] hosts")
