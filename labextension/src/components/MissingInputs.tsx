/**
 * A step stopped because inputs from cells nobody checkpointed are not in the kernel: which
 * names, from which cells, and a button that runs those cells and then the step.
 */
import React from 'react';

import { IStepRow } from '../api';
import { canRunMissing, missingGroups, runMissingLabel } from '../status';
import { IStepActions } from '../tokens';

export function MissingInputs(props: {
  row: IStepRow;
  disabled: boolean;
  actions: IStepActions;
}): JSX.Element {
  const { row, disabled, actions } = props;
  const origins = row.missing_inputs;
  const groups = missingGroups(origins);
  return (
    <div className="mn-Step-missingInputs">
      <div className="mn-Step-note mn-Step-missing" title="not in this kernel: run the cells that define them">
        needs{' '}
        {groups.map((group, g) => (
          <React.Fragment key={g}>
            {g > 0 && '; '}
            {group.names.map((name, i) => (
              <React.Fragment key={name}>
                {i > 0 && ', '}
                <code>{name}</code>
              </React.Fragment>
            ))}{' '}
            {group.where}
          </React.Fragment>
        ))}
      </div>
      {canRunMissing(origins) && (
        <div className="mn-Step-actions">
          <button
            className="jp-mod-styled jp-mod-accept mn-Step-runMissing"
            disabled={disabled}
            title="Execute those cells in the notebook, then this step's cell"
            onClick={() => actions.runMissing(row.name, origins)}
          >
            {runMissingLabel(origins)}
          </button>
        </div>
      )}
    </div>
  );
}
