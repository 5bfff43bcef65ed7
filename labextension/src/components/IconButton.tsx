/**
 * A small icon button with a tooltip and an accessible name; keyboard-reachable (a real
 * <button>: Tab, Enter and Space work).
 */
import { LabIcon } from '@jupyterlab/ui-components';
import React from 'react';

export function IconButton(props: {
  icon: LabIcon;
  label: string;
  className: string;
  onClick: () => void;
  disabled?: boolean;
  expanded?: boolean;
}): JSX.Element {
  const { icon, label, className, onClick, disabled, expanded } = props;
  return (
    <button
      type="button"
      className={`mn-IconButton ${className}`}
      title={label}
      aria-label={label}
      aria-expanded={expanded}
      disabled={disabled}
      onClick={event => {
        event.stopPropagation();
        onClick();
      }}
    >
      <icon.react tag="span" elementSize="small" />
    </button>
  );
}
