"""Carbon: gCO2e = kWh x PUE x grid intensity (g/kWh), location-based.

The intensity comes from CodeCarbon's offline data
(``data/private_infra/global_energy_mix.json``: one annual figure per country,
Our World in Data / Ember; ``carbon_intensity_per_source.json``: the world
average), read as files found through ``importlib.util.find_spec`` so that
codecarbon is never imported (its import takes about a second). Without
codecarbon, a dated copy of the same table ships in ``nbprofile/data/`` (MIT,
CodeCarbon; see ``nbprofile/data/README.md``).

Configured by ``%nbprofile carbon region=FRA pue=1.2 intensity=56`` (parsed by
:func:`parse_carbon_args`) or ``NBPROFILE_CARBON_REGION``, ``NBPROFILE_PUE``,
``NBPROFILE_CARBON_INTENSITY``. No region: the world average, labelled estimated.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from nbprofile.datafiles import BUNDLED, codecarbon_data_dir
from nbprofile.derive.energy import J_PER_KWH
from nbprofile.derive.needs import needs
from nbprofile.readings import Deriver, Reading, Readings, weakest

REGION_ENV = "NBPROFILE_CARBON_REGION"
PUE_ENV = "NBPROFILE_PUE"
INTENSITY_ENV = "NBPROFILE_CARBON_INTENSITY"
VENDORED = BUNDLED / "global_energy_mix.json"
WORLD_NOTE = "no region set: world average; %nbprofile carbon region=FRA"
#: the highest PUE and grid intensity accepted: far above any real data centre (PUE ~1.1-3) or grid
#: (~1000 gCO2e/kWh for coal), and low enough that kWh x PUE x intensity stays a finite float
MAX_PUE = 100.0
MAX_INTENSITY_G_PER_KWH = 100_000.0
USAGE = "%nbprofile carbon region=<ISO-3 code, e.g. FRA> pue=<number >= 1, e.g. 1.2> intensity=<gCO2e/kWh>"


@dataclass(frozen=True)
class CarbonConfig:
    """Where the electricity comes from: a country (ISO 3166 alpha-3), the data centre's PUE,
    and optionally a grid intensity of your own (gCO2e/kWh), which wins over the table."""

    region: str | None = None
    pue: float = 1.0
    intensity_g_per_kwh: float | None = None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> CarbonConfig:
        """From ``NBPROFILE_CARBON_REGION`` / ``NBPROFILE_PUE`` / ``NBPROFILE_CARBON_INTENSITY``.

        Raises ValueError, naming the variable, when one is set to something unusable.
        """
        env = os.environ if environ is None else environ
        args = [f"{key}={env[var]}" for key, var in
                (("region", REGION_ENV), ("pue", PUE_ENV), ("intensity", INTENSITY_ENV)) if env.get(var)]
        try:
            return parse_carbon_args(args, cls())
        except ValueError as exc:
            raise ValueError(f"{exc} (from the environment: {REGION_ENV}, {PUE_ENV}, {INTENSITY_ENV})") from None


@dataclass(frozen=True)
class Intensity:
    """The grid intensity in use, with where it came from."""

    g_per_kwh: float
    region: str | None  # ISO-3, None for the world average
    region_name: str
    source: str
    year: int | None
    pue: float
    world_default: bool

    def describe(self) -> str:
        where = f"{self.region_name} ({self.region})" if self.region else self.region_name
        year = f"{self.year} data, " if self.year else ""
        return f"{self.g_per_kwh:g} gCO2e/kWh ({where}, {year}{self.source}) x PUE {self.pue:g}"


@dataclass(frozen=True)
class IntensityTable:
    countries: dict[str, tuple[str, float, int | None]]  # ISO-3 -> (name, g/kWh, year)
    world_g_per_kwh: float
    world_source: str
    source: str  # "CodeCarbon 3.3.2 global_energy_mix.json" or the vendored copy
    path: Path
    vendored: bool
    fallback_reason: str | None = None  # why CodeCarbon's own file was not used, when it exists


def _codecarbon_version(data: Path) -> str:
    """From ``codecarbon/_version.py``, read as text: importlib.metadata costs ~40 ms to import."""
    try:
        text = (data.parent / "_version.py").read_text()
    except OSError:
        return "?"
    found = re.search(r"""__version__\s*=\s*["']([^"']+)["']""", text)
    return found.group(1) if found else "?"


@lru_cache(maxsize=1)
def load_table() -> IntensityTable:
    """CodeCarbon's table where installed, else the vendored copy (cached: read once)."""
    data = codecarbon_data_dir()
    infra = data / "private_infra" if data is not None else None
    mix = infra / "global_energy_mix.json" if infra is not None else None
    why: str | None = None
    if infra is not None and mix is not None and mix.is_file():
        try:
            return _parse(json.loads(mix.read_text()), mix, infra / "carbon_intensity_per_source.json",
                          f"CodeCarbon {_codecarbon_version(infra.parent)}")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # a broken or reshaped install: the vendored copy is the same table, dated; the doctor says why
            why = f"cannot use {mix}: {type(exc).__name__}: {exc}"
    raw = json.loads(VENDORED.read_text())
    meta = raw["_meta"]
    table = _parse(raw, VENDORED, None, f"CodeCarbon {meta['codecarbon_version']} (copy of {meta['copied_on']})")
    return replace(table, fallback_reason=why)


def _parse(raw: dict[str, Any], path: Path, per_source: Path | None, label: str) -> IntensityTable:
    countries = {
        iso.upper(): (str(e.get("country_name", iso)), float(e["carbon_intensity"]),
                      int(e["year"]) if e.get("year") else None)
        for iso, e in raw.items() if not iso.startswith("_") and e.get("carbon_intensity") is not None
    }
    if per_source is not None:
        world = json.loads(per_source.read_text())
        world_g, world_src = float(world["world_average"]), str(world.get("world_average_source", ""))
    else:
        world_g, world_src = float(raw["_meta"]["world_average"]), str(raw["_meta"]["world_average_source"])
    return IntensityTable(countries, world_g, world_src, f"{label} global_energy_mix.json", path,
                          vendored=per_source is None)


def resolve(config: CarbonConfig) -> Intensity:
    """The intensity a config stands for. Raises ValueError for a region the table lacks."""
    if config.intensity_g_per_kwh is not None:
        name = config.region or "user-set"
        return Intensity(config.intensity_g_per_kwh, config.region, name, "your intensity", None,
                         config.pue, world_default=False)
    table = load_table()
    if config.region is None:
        # IEA's Global Energy & CO2 Status Report 2019 gives 475 g/kWh for 2018 generation
        return Intensity(table.world_g_per_kwh, None, "world average",
                         "IEA Global Energy & CO2 Status Report 2019, via CodeCarbon", 2018,
                         config.pue, world_default=True)
    code = normalise_region(config.region)
    name, g, year = table.countries[code]
    return Intensity(g, code, name, table.source, year, config.pue, world_default=False)


def normalise_region(region: str) -> str:
    """An ISO-3 code (or a country's name) as the table's code; ValueError with close matches."""
    countries = load_table().countries
    key = region.strip().upper()
    if key in countries:
        return key
    by_name = {name.upper(): code for code, (name, _, _) in countries.items()}
    if key in by_name:
        return by_name[key]
    close = difflib.get_close_matches(key, list(countries) + list(by_name), n=4, cutoff=0.6)
    codes = dict.fromkeys(by_name.get(c, c) for c in close)
    fix = "use an ISO 3166 alpha-3 country code, e.g. region=FRA"
    if codes:
        fix = f"did you mean {', '.join(f'{c} ({countries[c][0]})' for c in codes)}? U{fix[1:]}"
    raise ValueError(f"unknown region {region!r}: {fix}")


def parse_carbon_args(args: list[str], current: CarbonConfig) -> CarbonConfig:
    """``["region=FRA", "pue=1.2", "intensity=56"]`` applied to ``current``.

    ``region=world`` (or ``none``) and ``intensity=auto`` (or ``none``) go back to the
    defaults. Raises ValueError with a one-line message naming the bad part and the fix.
    """
    config = current
    for arg in args:
        key, sep, value = arg.partition("=")
        key, value = key.strip().lower(), value.strip()
        if not sep or not value:
            raise ValueError(f"expected key=value, got {arg!r}: {USAGE}")
        if key == "region":
            region = None if value.lower() in ("world", "none") else normalise_region(value)
            config = replace(config, region=region)
        elif key == "pue":
            pue = _number(value, "pue", "a number >= 1.0, e.g. pue=1.2")
            if pue < 1.0:
                raise ValueError(f"pue={value} is below 1.0, which no data centre reaches: e.g. pue=1.2")
            if pue > MAX_PUE:
                raise ValueError(f"pue={value} is above {MAX_PUE:g}, which no data centre reaches: "
                                 "e.g. pue=1.2")
            config = replace(config, pue=pue)
        elif key == "intensity":
            if value.lower() in ("auto", "none"):
                config = replace(config, intensity_g_per_kwh=None)
                continue
            g = _number(value, "intensity", "gCO2e/kWh >= 0, e.g. intensity=56")
            if g < 0:
                raise ValueError(f"intensity={value} is negative: gCO2e/kWh >= 0, e.g. intensity=56")
            if g > MAX_INTENSITY_G_PER_KWH:
                raise ValueError(f"intensity={value} is above {MAX_INTENSITY_G_PER_KWH:,.0f} gCO2e/kWh, "
                                 "which no grid emits: e.g. intensity=56")
            config = replace(config, intensity_g_per_kwh=g)
        else:
            raise ValueError(f"unknown carbon setting {key!r}: {USAGE}")
    return config


def _number(value: str, key: str, want: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{key}={value} is not a number: {want}") from None
    if not math.isfinite(number):
        raise ValueError(f"{key}={value} is not a finite number: {want}")
    return number


def carbon_info(config: CarbonConfig) -> dict[str, Any]:
    """What a run record keeps about its carbon figures."""
    it = resolve(config)
    return {"intensity_g_per_kwh": it.g_per_kwh, "source": it.source, "year": it.year,
            "region": it.region, "region_name": it.region_name, "pue": it.pue,
            "world_default": it.world_default, "note": it.describe()}


# -- the deriver ----------------------------------------------------------------

def derive_carbon(config: CarbonConfig) -> Deriver:
    """A deriver of ``co2_g`` from ``energy_j`` under ``config`` (intensity resolved once, now).

    co2_g = energy_j / 3.6e6 x PUE x g/kWh. Method: the energy's, or estimated when
    the intensity is the world average; the note names intensity, region, source,
    year and PUE.
    """
    it = resolve(config)
    factor = it.pue * it.g_per_kwh / J_PER_KWH
    source = f"{it.source}{f' {it.year}' if it.year else ''}"
    base_note = it.describe() + (f"; {WORLD_NOTE}" if it.world_default else "")

    def derive_co2(readings: Readings) -> Readings:
        energy = readings.get("energy_j")
        if energy is None or energy.value is None:
            return {"co2_g": Reading.unavailable("g", needs("energy_j", energy, "no energy_j reading"), source)}
        method = weakest(energy.method, "estimated") if it.world_default else energy.method
        note = base_note if energy.method == "measured" else f"{base_note}; energy {energy.method}"
        return {"co2_g": Reading(energy.value * factor, "g", method, source, note)}

    derive_co2.intensity = it  # type: ignore[attr-defined]  # for the footer, status, doctor
    return derive_co2
