/**
 * The one door to the nbprofile server extension: `requestAPI<T>` and a typed
 * function per route. Every request goes through `ServerConnection`, so it
 * carries the token / XSRF cookie and honours `base_url`.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import type {
  CompareResponse,
  DeleteResponse,
  FormatsResponse,
  KernelUsage,
  MetricsResponse,
  ReportFormat,
  RunDetail,
  RunsResponse,
  Scope,
  StatusResponse
} from './types.js';

/** A response other than 2xx; `status` 0 means the server could not be reached. */
export class APIError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message);
    this.name = 'APIError';
  }
}

type Query = Record<string, string | null | undefined>;

function url(settings: ServerConnection.ISettings, path: string[], query: Query): string {
  const base = URLExt.join(
    settings.baseUrl,
    'nbprofile',
    'api',
    ...path.map(part => encodeURIComponent(part))
  );
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== null && value !== undefined) {
      params.set(key, value);
    }
  }
  const qs = params.toString();
  return qs ? `${base}?${qs}` : base;
}

async function send(
  path: string[],
  query: Query,
  settings: ServerConnection.ISettings,
  init: RequestInit = {}
): Promise<Response> {
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url(settings, path, query), init, settings);
  } catch (error) {
    throw new APIError(0, `the Jupyter server cannot be reached: ${String(error)}`);
  }
  if (!response.ok) {
    let message = response.statusText || `HTTP ${response.status}`;
    try {
      const body: unknown = await response.json();
      if (body && typeof body === 'object' && 'message' in body) {
        message = String((body as { message: unknown }).message);
      }
    } catch {
      // not JSON: keep the status text
    }
    throw new APIError(response.status, message);
  }
  return response;
}

/** GET `/nbprofile/api/<path...>?<query>` and parse the JSON answer as `T`. */
export async function requestAPI<T>(
  path: string[],
  query: Query = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const response = await send(path, query, settings);
  return (await response.json()) as T;
}

/** The typed routes. One instance per panel; `settings` is made once. */
export class NbprofileAPI {
  constructor(
    readonly settings: ServerConnection.ISettings = ServerConnection.makeSettings()
  ) {}

  status(): Promise<StatusResponse> {
    return requestAPI<StatusResponse>(['status'], {}, this.settings);
  }

  /** The metric catalog: labels, units, default columns, budgets, peaks. */
  metrics(): Promise<MetricsResponse> {
    return requestAPI<MetricsResponse>(['metrics'], {}, this.settings);
  }

  /** The report formats the export menu offers. */
  formats(): Promise<FormatsResponse> {
    return requestAPI<FormatsResponse>(['formats'], {}, this.settings);
  }

  runs(notebook: string, kernel: string | null, scope: Scope = 'team'): Promise<RunsResponse> {
    return requestAPI<RunsResponse>(['runs'], { notebook, kernel, scope }, this.settings);
  }

  run(runId: string): Promise<RunDetail> {
    return requestAPI<RunDetail>(['runs', runId], {}, this.settings);
  }

  /**
   * Delete a run and its records. The server refuses another user's run (403) and a run
   * a kernel there still writes (409), saying why.
   */
  async deleteRun(runId: string): Promise<DeleteResponse> {
    const response = await send(['runs', runId], {}, this.settings, { method: 'DELETE' });
    return (await response.json()) as DeleteResponse;
  }

  /** A kernel's memory now, read by the server (the status bar's readout). */
  kernelUsage(kernelId: string): Promise<KernelUsage> {
    return requestAPI<KernelUsage>(['kernels', kernelId, 'usage'], {}, this.settings);
  }

  compare(a: string, b: string): Promise<CompareResponse> {
    return requestAPI<CompareResponse>(['compare'], { a, b }, this.settings);
  }

  /** Fetch a report and hand it to the browser as a download (`suffix`: the name's, when the server gives none). */
  async download(runId: string, format: ReportFormat, suffix = `.${format}`): Promise<void> {
    const response = await send(['report'], { run: runId, format }, this.settings);
    const blob = await response.blob();
    const disposition = response.headers.get('Content-Disposition') ?? '';
    const match = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition);
    const name = match ? decodeURIComponent(match[1]) : `nbprofile-${runId}${suffix}`;
    const href = URL.createObjectURL(blob);
    const link = document.createElement('a');
    link.href = href;
    link.download = name;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(href), 10_000);
  }
}
