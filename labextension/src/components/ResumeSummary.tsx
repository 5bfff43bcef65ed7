/**
 * What the last resume restored: a compact two-column list (name, size), with the full
 * text %mn_resume printed behind a "details" toggle.
 */
import React, { useState } from 'react';

import { parseResume } from '../resume';
import { IActionResult } from '../tokens';

export function ResumeSummary(props: { result: IActionResult }): JSX.Element {
  const { result } = props;
  const [open, setOpen] = useState(false);
  const parsed = parseResume(result.text);
  return (
    <div className={`mn-Steps-output mn-Resume ${result.ok ? '' : 'mn-mod-error'}`}>
      <div className="mn-Steps-outputTitle">{result.title}</div>
      {parsed.headline && <div className="mn-Resume-headline">{parsed.headline}</div>}
      {parsed.rows.length > 0 && (
        <dl className="mn-Resume-list">
          {parsed.rows.map(row => (
            <React.Fragment key={row.name}>
              <dt title={`${row.name}: ${row.type} (step ${row.step})`}>{row.name}</dt>
              <dd>{row.size}</dd>
            </React.Fragment>
          ))}
        </dl>
      )}
      {parsed.notes.map((note, i) => (
        <div key={i} className="mn-Resume-note">
          {note}
        </div>
      ))}
      {result.text && (
        <>
          <button
            type="button"
            className="mn-LinkButton mn-Resume-toggle"
            aria-expanded={open}
            onClick={() => setOpen(!open)}
          >
            {open ? 'hide details' : 'details'}
          </button>
          {open && <pre className="mn-Resume-text">{result.text}</pre>}
        </>
      )}
    </div>
  );
}
