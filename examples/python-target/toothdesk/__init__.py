"""ToothDesk: a small clinic back office with its own 2FA, the worked example's implementation.

Not the clinic2fa reference: written from the guide, on the system clock (time.time()), with
its own names and errors. `clinic2fa_target.py` beside this package adapts it to the harness.
"""

from toothdesk.desk import Denied, ToothDesk

__all__ = ["Denied", "ToothDesk"]
