"""Why a derived reading is unavailable: the input it needs, and that input's reason, said once.

A derived reading built on another derived one (``co2_g`` on ``energy_j`` on ``cpu_energy_j``)
passes the root reason on instead of wrapping it, so that ``%nbprofile last`` and the full
footer give each row one short "needs cpu_energy_j: <why>" rather than nested copies of it.
"""

from __future__ import annotations

from nbprofile.readings import Reading

NEEDS = "needs "


def reason(reading: Reading | None, missing: str = "no meter for it") -> str:
    """Why an input has no value: its note, or ``missing`` when there is no reading at all."""
    return missing if reading is None else (reading.note or "unavailable")


def needs(key: str, reading: Reading | None, missing: str = "no meter for it") -> str:
    """``needs <key>: <its reason>``; an input whose own reason already says what it needs
    (it is derived) is passed on as is, never nested."""
    why = reason(reading, missing)
    return why if why.startswith(NEEDS) else f"{NEEDS}{key}: {why}"
