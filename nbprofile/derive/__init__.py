"""Derived readings: pure functions from a window's readings to readings that combine them.

Total energy (:mod:`~nbprofile.derive.energy`), CO2e (:mod:`~nbprofile.derive.carbon`),
dollars (:mod:`~nbprofile.derive.cost`), MFU (:mod:`~nbprofile.derive.mfu`) and the
VRAM peak over devices (:mod:`~nbprofile.derive.vram`). Each is a
:data:`~nbprofile.readings.Deriver`; the engine runs them in order after every window.
"""
