"""The reference implementation of the guide's 2FA flow, in memory, with its virtual devices."""

from simulator.clinic import Clinic, SecurityStatus, Setup, SignIn, StaffEntry, Stage
from simulator.clock import Clock, FakeClock, SystemClock
from simulator.errors import ErrorCode, Reason, TwoFactorError
from simulator.policy import FAST_HASH, HashCost, Policy
from simulator.users import Role

__all__ = [
    "FAST_HASH", "Clinic", "Clock", "ErrorCode", "FakeClock", "HashCost", "Policy", "Reason",
    "Role", "SecurityStatus", "Setup", "SignIn", "StaffEntry", "Stage", "SystemClock",
    "TwoFactorError",
]
