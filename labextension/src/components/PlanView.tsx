/**
 * "Next run": each step of the notebook with what the next run does with it (restore,
 * run and why, approval, sleep, blocked), from the server's plan.
 */
import React from 'react';

import { PLAN_ICON, PLAN_LABEL, planHeadline } from '../plan';
import { IStepsState } from '../tokens';

export function PlanView(props: { model: IStepsState }): JSX.Element {
  const { model } = props;
  const plan = model.plan;
  if (model.planError) {
    return (
      <div className="mn-Steps-error" role="alert">
        {model.planError.message}
      </div>
    );
  }
  if (plan === null) {
    return <p className="mn-Steps-note">Planning the next run…</p>;
  }
  return (
    <div className="mn-Plan">
      <div className="mn-Plan-headline">{planHeadline(plan)}</div>
      <ul className="mn-Plan-list">
        {plan.map(step => (
          <li
            key={step.name}
            className={`mn-Plan-step mn-plan-${step.action}`}
            data-step={step.name}
            data-action={step.action}
          >
            <div className="mn-Plan-main">
              <span className="mn-Plan-icon" aria-hidden="true">
                {PLAN_ICON[step.action]}
              </span>
              <span className="mn-Plan-name">{step.name}</span>
              <span className="mn-Plan-action">{PLAN_LABEL[step.action]}</span>
            </div>
            <div className="mn-Plan-reason">
              {step.reason}
              {step.detail ? `: ${step.detail}` : ''}
            </div>
          </li>
        ))}
      </ul>
    </div>
  );
}
