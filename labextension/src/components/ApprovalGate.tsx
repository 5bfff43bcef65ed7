/**
 * The question of a step waiting at its gate, with the cell widget's two buttons.
 */
import React, { useState } from 'react';

import { IStepRow } from '../api';
import { IStepActions } from '../tokens';

export function ApprovalGate(props: {
  row: IStepRow;
  question: string;
  busy: boolean;
  actions: IStepActions;
}): JSX.Element {
  const { row, question, busy, actions } = props;
  const [note, setNote] = useState('');
  return (
    <div className="mn-Step-approval">
      <div className="mn-Step-question">{question}</div>
      <div className="mn-Step-actions">
        <button
          className="jp-mod-styled jp-mod-accept mn-Step-approve"
          disabled={busy}
          title="Approve: the step runs when its cell runs again"
          onClick={() => actions.decide(row.name, true, note)}
        >
          Approve
        </button>
        <button
          className="jp-mod-styled jp-mod-warn mn-Step-reject"
          disabled={busy}
          title="Reject: this step and every later one stop until it is reset"
          onClick={() => actions.decide(row.name, false, note)}
        >
          Reject
        </button>
        <input
          className="jp-mod-styled mn-Step-approvalNote"
          type="text"
          placeholder="note (optional)"
          aria-label={`note on the decision for ${row.name}`}
          value={note}
          disabled={busy}
          onChange={event => setNote(event.target.value)}
        />
      </div>
    </div>
  );
}
