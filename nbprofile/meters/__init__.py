"""Meters: one module per source of measurements (see :mod:`nbprofile.meters.base`)."""

from nbprofile.meters.base import METHODS, Availability, Meter, Method, Reading, Readings

__all__ = ["METHODS", "Availability", "Meter", "Method", "Reading", "Readings"]
