/**
 * nbprofile's metric catalog and report formats, as the server sends them
 * (`GET /nbprofile/api/metrics`, `GET /nbprofile/api/formats`). The panel
 * keeps no table of its own: labels, units, tooltips, the default columns,
 * the budget a limit checks and whether a run adds a metric up or takes its
 * largest cell all come from here.
 */
import { APIError, NbprofileAPI } from './api.js';
import type { FormatsResponse, MetricSpec, MetricsResponse, ReportFormatSpec } from './types.js';

/** What the panel needs to show a reading key, known to the catalog or not. */
export interface MetricInfo {
  key: string;
  label: string;
  unit: string;
  /** The column header's tooltip. */
  title: string;
  /** A run's figure is its largest cell (a peak), not the cells' sum. */
  peak: boolean;
  /** The catalog's entry; `null` for a key it does not know. */
  spec: MetricSpec | null;
}

const FAMILY = '{i}';

/** A family key (`gpu{i}_energy_j`) as a pattern over the keys it stands for, capturing the device. */
function familyPattern(key: string): RegExp {
  const escape = (part: string) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${key.split(FAMILY).map(escape).join('(\\d+)')}$`);
}

export class Catalog {
  constructor(metrics: MetricsResponse, formats: FormatsResponse) {
    this._metrics = metrics.metrics;
    this.regressionFraction = metrics.regression_fraction;
    this.formats = formats.formats;
    this._columns = this._metrics.filter(m => m.column && !m.key.includes(FAMILY)).map(m => m.key);
    for (const spec of this._metrics) {
      if (spec.key.includes(FAMILY)) {
        this._families.push([familyPattern(spec.key), spec]);
      } else if (!this._byKey.has(spec.key)) {
        this._byKey.set(spec.key, spec);
      }
      if (spec.budget !== null && !this._byBudget.has(spec.budget)) {
        this._byBudget.set(spec.budget, spec);
      }
    }
  }

  /** The share of a change that makes a regression (with each metric's floor). */
  readonly regressionFraction: number;
  /** The report formats, in the order the export menu lists them. */
  readonly formats: readonly ReportFormatSpec[];

  /** Every entry, in catalog order (families as their `{i}` key). */
  get metrics(): readonly MetricSpec[] {
    return this._metrics;
  }

  /** The entry of a reading key; `gpu3_energy_j` finds `gpu{i}_energy_j`. */
  metric(key: string): MetricSpec | null {
    return this._find(key)?.[0] ?? null;
  }

  /**
   * How to show a reading key. A key the catalog does not know is labelled by
   * the key itself, in `unit` (the reading's own unit field, when there is one).
   */
  info(key: string, unit = ''): MetricInfo {
    const found = this._find(key);
    if (found === null) {
      return { key, label: key, unit, title: key, peak: false, spec: null };
    }
    const [spec, device] = found;
    // A family member names its device: `GPU energy [1]`, "energy of GPU 1".
    const label = device === null ? spec.label : `${spec.label} [${device}]`;
    const title = device === null ? spec.description : spec.description.replace(/\bi\b/g, device);
    return { key, label, unit: spec.unit, title, peak: spec.aggregate === 'max', spec };
  }

  /** The metrics shown as columns by default, in catalog order (one array: React's memo sees no change). */
  columns(): readonly string[] {
    return this._columns;
  }

  /** The metric a budget key limits: `time` → `wall_s`. */
  budgetMetric(budgetKey: string): MetricSpec | null {
    return this._byBudget.get(budgetKey) ?? null;
  }

  /** Peaks do not add up: a run's peak RAM is its largest cell's, not the sum. */
  isPeak(key: string): boolean {
    return this.metric(key)?.aggregate === 'max';
  }

  format(name: string): ReportFormatSpec | null {
    return this.formats.find(f => f.name === name) ?? null;
  }

  /** The entry of a key, and the device a family member stands for. */
  private _find(key: string): [MetricSpec, string | null] | null {
    const found = this._byKey.get(key);
    if (found !== undefined) {
      return [found, null];
    }
    for (const [pattern, spec] of this._families) {
      const match = pattern.exec(key);
      if (match !== null) {
        return [spec, match[1] ?? null];
      }
    }
    return null;
  }

  private readonly _metrics: readonly MetricSpec[];
  private readonly _columns: readonly string[];
  private readonly _byKey = new Map<string, MetricSpec>();
  private readonly _byBudget = new Map<string, MetricSpec>();
  private readonly _families: [RegExp, MetricSpec][] = [];
}

/** The catalog and the formats, fetched together; a server without the routes is named for what it is. */
export async function fetchCatalog(api: NbprofileAPI): Promise<Catalog> {
  try {
    const [metrics, formats] = await Promise.all([api.metrics(), api.formats()]);
    return new Catalog(metrics, formats);
  } catch (error) {
    // The routes came with the panel: a server without them predates it (not restarted since the upgrade?).
    if (error instanceof APIError && error.status === 404) {
      throw new APIError(
        404,
        `the nbprofile server extension has no metric catalog (${error.message}): ` +
          'restart JupyterLab after installing or upgrading nbprofile'
      );
    }
    throw error;
  }
}

