"""Meters: one module (or package) per source of readings; see :mod:`nbprofile.meters.base`."""
