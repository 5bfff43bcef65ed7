/**
 * A list of step rows (the notebook's steps, or those whose cell was deleted).
 */
import React from 'react';

import { IStepRow } from '../api';
import { IStepActions, IStepsState } from '../tokens';
import { StepRow } from './StepRow';

export function StepList(props: {
  rows: IStepRow[];
  model: IStepsState;
  actions: IStepActions;
  deleted?: boolean;
}): JSX.Element {
  return (
    <ul className="mn-StepList">
      {props.rows.map(row => (
        <StepRow
          key={row.name}
          row={row}
          model={props.model}
          actions={props.actions}
          deleted={props.deleted ?? false}
        />
      ))}
    </ul>
  );
}
