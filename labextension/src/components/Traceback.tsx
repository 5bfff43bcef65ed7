/**
 * A failed step's traceback, fetched when its error line is expanded.
 */
import React from 'react';

import { IStepDetail } from '../api';

/** The detail, the message of the failed request for it, or null while it loads. */
export type TracebackDetail = IStepDetail | string | null;

export function Traceback(props: { detail: TracebackDetail }): JSX.Element {
  const { detail } = props;
  if (detail === null) {
    return <div className="mn-Step-note">Loading the traceback…</div>;
  }
  if (typeof detail === 'string') {
    return <div className="mn-Steps-error">{detail}</div>;
  }
  return <pre className="mn-Step-traceback">{detail.traceback ?? 'no traceback recorded'}</pre>;
}
