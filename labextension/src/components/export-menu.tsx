/** Download a report of a run, in one of the formats the server offers. */
import * as React from 'react';

import type { NbprofileAPI } from '../api.js';
import type { ReportFormatSpec } from '../types.js';

export function ExportMenu(props: {
  api: NbprofileAPI;
  runId: string;
  formats: readonly ReportFormatSpec[];
}): JSX.Element {
  const { api, runId, formats } = props;
  const [error, setError] = React.useState<string | null>(null);
  return (
    <label className="nbp-field" title={error ?? 'download a report of this run'}>
      <select
        className="nbp-select"
        aria-label="export a report of this run"
        value=""
        onChange={e => {
          const format = formats.find(f => f.name === e.target.value);
          if (format) {
            api.download(runId, format.name, format.suffix).then(
              () => setError(null),
              (err: unknown) => setError(`export failed: ${String(err)}`)
            );
          }
        }}
      >
        <option value="">Export…</option>
        {formats.map(format => (
          <option key={format.name} value={format.name}>
            {format.label}
          </option>
        ))}
      </select>
    </label>
  );
}
