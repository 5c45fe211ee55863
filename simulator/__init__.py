"""The reference implementation of the guide's 2FA flow, in memory, with its virtual devices.

Import what you need from its modules (`clinic2fa.simulator.clinic`, `.virtual.passkey`, ...):
this package imports nothing itself, so a virtual device comes without the clinic's cost.
"""
