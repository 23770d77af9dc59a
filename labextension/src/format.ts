/**
 * Pure formatters: a port of `nbprofile/format.py`, which is the truth. Each
 * takes a number in its base unit (seconds, bytes, joules, grams, dollars,
 * tokens, a count of things) and returns the string Python would, to the character;
 * test/format_parity.test.mjs checks that against cases Python wrote.
 * They never see a missing number: callers show `n/a` with its reason.
 */

export const UNAVAILABLE = 'n/a';

/** The unit of a count of things (tasks, workers): `COUNT` in `nbprofile/readings.py`. */
export const COUNT = 'count';

/** Python's `str()` of a float that is not finite. */
function nonFinite(x: number): string {
  return Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf';
}

/** `|x| = mantissa * 2 ** exponent`, exactly (x finite). */
function decompose(x: number): [bigint, number] {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(x));
  const high = view.getUint32(0);
  const mantissa = (BigInt(high & 0xfffff) << 32n) | BigInt(view.getUint32(4));
  const exponent = (high >>> 20) & 0x7ff;
  return exponent === 0 ? [mantissa, -1074] : [mantissa | (1n << 52n), exponent - 1075];
}

/**
 * Python's `f"{x:.{decimals}f}"`: the exact binary value rounded half to even,
 * where `toFixed` rounds ties away from zero (`42.25` is `42.2`, not `42.3`), and
 * plain digits however large (`toFixed` turns to exponents from 1e21). Keeps
 * the sign of a negative number that rounds to zero, and of -0, as Python does.
 */
export function fixed(x: number, decimals: number): string {
  if (!Number.isFinite(x)) {
    return nonFinite(x);
  }
  // Fast path: `toFixed` rounds the exact value too, and agrees with Python
  // wherever the value is not a tie (a tie's scaled value is exact below 2 ** 52).
  const scaledFloat = Math.abs(x) * 10 ** decimals;
  if (scaledFloat < 2 ** 52 && scaledFloat % 1 !== 0.5 && !Object.is(x, -0)) {
    return x.toFixed(decimals);
  }
  const negative = x < 0 || Object.is(x, -0);
  const [mantissa, exponent] = decompose(x);
  const scaled = mantissa * 10n ** BigInt(decimals);
  let n: bigint;
  if (exponent >= 0) {
    n = scaled << BigInt(exponent);
  } else {
    const shift = BigInt(-exponent);
    n = scaled >> shift;
    const rest = scaled - (n << shift);
    const half = 1n << (shift - 1n);
    if (rest > half || (rest === half && (n & 1n) === 1n)) {
      n += 1n;
    }
  }
  let digits = n.toString();
  if (decimals > 0) {
    digits = digits.padStart(decimals + 1, '0');
    digits = `${digits.slice(0, -decimals)}.${digits.slice(-decimals)}`;
  }
  return negative ? `-${digits}` : digits;
}

/** Python's `f"{x:,.{decimals}f}"`: thousands separated by commas. */
function fixedGrouped(x: number, decimals = 2): string {
  const text = fixed(x, decimals);
  const sign = text.startsWith('-') ? '-' : '';
  const [whole, fraction] = text.slice(sign.length).split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+$)/g, ',');
  return fraction === undefined ? `${sign}${grouped}` : `${sign}${grouped}.${fraction}`;
}

/** Python's `round()` of a float to an integer: ties go to the even neighbour. */
function roundHalfEven(x: number): number {
  return Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : Math.round(x);
}

/**
 * Three significant figures at 1 and above; two below 1, without trailing
 * zeros and never an exponent, so that 0.0042 stays `0.0042` (not `0.00`).
 */
function sig(value: number): string {
  const a = Math.abs(value);
  if (a >= 100) {
    return fixed(value, 0);
  }
  if (a >= 10) {
    return fixed(value, 1);
  }
  if (a >= 1 || a === 0) {
    return fixed(value, 2);
  }
  const decimals = 1 - Math.floor(Math.log10(a));
  return fixed(value, decimals).replace(/0+$/, '').replace(/\.$/, '');
}

/** `0.0000123` → `12.3 µs`; `2.314` → `2.31 s`; `3725` → `1 h 02 min`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) {
    return nonFinite(seconds);
  }
  const sign = seconds < 0 ? '-' : '';
  const s = Math.abs(seconds);
  if (s === 0) {
    return '0 s';
  }
  if (s < 1e-6) {
    return `${sign}${sig(s * 1e9)} ns`;
  }
  if (s < 1e-3) {
    return `${sign}${sig(s * 1e6)} µs`;
  }
  if (s < 1) {
    return `${sign}${sig(s * 1e3)} ms`;
  }
  if (s < 60) {
    return `${sign}${sig(s)} s`;
  }
  const r = BigInt(roundHalfEven(s)); // exact, as Python's int, however long
  if (s < 3600) {
    return `${sign}${r / 60n} min ${String(r % 60n).padStart(2, '0')} s`;
  }
  return `${sign}${r / 3600n} h ${String((r % 3600n) / 60n).padStart(2, '0')} min`;
}

const BINARY: [string, number][] = [
  ['TiB', 1024 ** 4],
  ['GiB', 1024 ** 3],
  ['MiB', 1024 ** 2],
  ['KiB', 1024]
];

/** Binary units: `1288490188` → `1.20 GiB`; `signed` adds `+` to positives. */
export function formatBytes(n: number, options: { signed?: boolean } = {}): string {
  const sign = n < 0 ? '-' : options.signed && n > 0 ? '+' : '';
  const a = Math.abs(n);
  for (const [unit, size] of BINARY) {
    if (a >= size) {
      return `${sign}${sig(a / size)} ${unit}`;
    }
  }
  return `${sign}${fixed(a, 0)} B`;
}

/** `0.5` → `500 mJ`; `42` → `42.0 J`; `5400` → `1.50 Wh`; `9e6` → `2.50 kWh`. */
export function formatEnergy(joules: number): string {
  const sign = joules < 0 ? '-' : '';
  const j = Math.abs(joules);
  if (j === 0) {
    return '0 J';
  }
  if (j < 1) {
    return `${sign}${sig(j * 1e3)} mJ`;
  }
  if (j < 3600) {
    return `${sign}${sig(j)} J`;
  }
  if (j < 3.6e6) {
    return `${sign}${sig(j / 3600)} Wh`;
  }
  return `${sign}${sig(j / 3.6e6)} kWh`;
}

/** `0.0123` → `12.3 mg CO2e`; `3.2` → `3.20 g CO2e`; `4500` → `4.50 kg CO2e`. */
export function formatCO2(grams: number): string {
  const sign = grams < 0 ? '-' : '';
  const g = Math.abs(grams);
  if (g === 0) {
    return '0 g CO2e';
  }
  if (g < 1e-8) {
    return `${sign}<0.01 µg CO2e`;
  }
  if (g < 1e-3) {
    return `${sign}${sig(g * 1e6)} µg CO2e`;
  }
  if (g < 1) {
    return `${sign}${sig(g * 1e3)} mg CO2e`;
  }
  if (g < 1000) {
    return `${sign}${sig(g)} g CO2e`;
  }
  return `${sign}${sig(g / 1000)} kg CO2e`;
}

/** Cents matter for LLM calls: `0.000412` → `$0.000412`; `12.5` → `$12.50`. */
export function formatUSD(dollars: number): string {
  const sign = dollars < 0 ? '-' : '';
  const d = Math.abs(dollars);
  if (d === 0) {
    return '$0';
  }
  if (d >= 1) {
    return `${sign}$${fixedGrouped(d)}`;
  }
  if (d < 1e-6) {
    return `${sign}<$0.000001`; // beyond a millionth of a dollar, digits only hide the point
  }
  // three significant figures, then trailing zeros trimmed to at least cents
  const decimals = Math.max(2, 2 - Math.floor(Math.log10(d)));
  let text = fixed(d, decimals).replace(/0+$/, '');
  if ((text.split('.')[1] ?? '').length < 2) {
    text = fixed(d, 2);
  }
  return `${sign}$${text}`;
}

const COUNT_SUFFIXES: [string, number][] = [
  ['T', 1e12],
  ['G', 1e9],
  ['M', 1e6],
  ['k', 1e3]
];

/** Token and FLOP counts: `950` → `950`; `12400` → `12.4k`; `3.2e6` → `3.20M`. */
export function formatCount(n: number): string {
  const sign = n < 0 ? '-' : '';
  const a = Math.abs(n);
  for (const [suffix, size] of COUNT_SUFFIXES) {
    if (a >= size) {
      return `${sign}${sig(a / size)}${suffix}`;
    }
  }
  return `${sign}${fixed(a, 0)}`;
}

/**
 * A count of things (tasks, workers): `2` → `2`; `1234` → `1,234`; from a
 * million compact, as tokens are: `3.2e6` → `3.20M`. Never `2.00`: a count has
 * no decimals, and a value that is not whole (a mean) keeps only the ones it needs (`2.5`).
 */
export function formatWhole(n: number): string {
  if (Math.abs(n) >= 1e6) {
    return formatCount(n);
  }
  if (Math.abs(n) >= 100 || Number.isInteger(n)) {
    return fixedGrouped(n, 0);
  }
  const text = sig(n);
  return text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
}

/** A fraction as a percentage: `0.1234` → `12.3%`; with `signed`, `+12.3%` / `-4.00%`. */
export function formatPercent(fraction: number, options: { signed?: boolean } = {}): string {
  const pct = fraction * 100;
  const text = `${sig(pct)}%`;
  return options.signed && pct > 0 ? `+${text}` : text;
}

const BY_UNIT: Record<string, (v: number) => string> = {
  s: formatDuration,
  B: n => formatBytes(n),
  J: formatEnergy,
  g: formatCO2,
  USD: formatUSD,
  tokens: formatCount,
  FLOP: formatCount,
  [COUNT]: formatWhole,
  calls: n => `${formatCount(n)} ${n === 1 ? 'call' : 'calls'}` // a count: never "0.00 calls"
};

/** A value by its base unit, e.g. `formatValue(1.5, 's')` is `1.50 s`; other units print plainly. */
export function formatValue(value: number, unit: string): string {
  const formatter = Object.prototype.hasOwnProperty.call(BY_UNIT, unit) ? BY_UNIT[unit] : undefined;
  return formatter ? formatter(value) : `${sig(value)} ${unit}`.trim();
}

/** A signed difference: `+1.20 s`, `-3.00 MiB`. */
export function formatDelta(value: number, unit: string): string {
  const text = formatValue(value, unit);
  return value > 0 ? `+${text}` : text;
}
