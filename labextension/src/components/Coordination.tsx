/**
 * Who holds a step, who waits for it, and until when it sleeps: lines under its row,
 * shown only when the server sends those fields.
 */
import React from 'react';

import { IStepRow } from '../api';
import { CoordinatedRow, ownerText, waitingText, wakeText } from '../plan';

export function Coordination(props: { row: IStepRow }): JSX.Element | null {
  const row: CoordinatedRow = props.row;
  const owner = row.owner ?? null;
  const waiting = waitingText(row.waiting ?? []);
  const wakeAt = row.wake_at ?? null;
  if (owner === null && waiting === null && wakeAt === null) {
    return null;
  }
  return (
    <>
      {owner && (
        <div className="mn-Step-note mn-Step-owner" title={`run ${owner.run_id}`}>
          {ownerText(owner)}
        </div>
      )}
      {waiting && (
        <div className="mn-Step-note mn-Step-waiting" title={waiting.title}>
          {waiting.text}
        </div>
      )}
      {wakeAt !== null && <div className="mn-Step-note mn-Step-wake">{wakeText(wakeAt)}</div>}
    </>
  );
}
