/** What a view fetched: a placeholder while idle or loading, the error, or the data rendered. */
import * as React from 'react';

import type { Loadable } from '../state.js';
import { EmptyBox } from './empty-state.js';

export function Loading<T>(props: {
  value: Loadable<T>;
  empty: React.ReactNode;
  children: (data: T) => JSX.Element;
}): JSX.Element {
  const { value } = props;
  switch (value.kind) {
    case 'idle':
      return <div className="nbp-empty">{props.empty}</div>;
    case 'loading':
      return <div className="nbp-empty">Loading…</div>;
    case 'error':
      return (
        <EmptyBox kind="error" title="Cannot read the records">
          {value.message}
        </EmptyBox>
      );
    case 'ok':
      return props.children(value.data);
  }
}
