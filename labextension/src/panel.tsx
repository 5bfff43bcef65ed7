/**
 * The Steps panel: a SidePanel in the right sidebar that renders the state. It decides
 * nothing; clicks go to the IStepActions it is given.
 */
import { ReactWidget, SidePanel, listIcon } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import React from 'react';

import { StepsView } from './components/StepsView';
import { IPanelModel, IStepActions } from './tokens';

export const PANEL_ID = 'mirrorneuron-nb-steps';

export class StepsPanel extends SidePanel {
  constructor(
    private readonly model: IPanelModel,
    actions: IStepActions
  ) {
    super();
    this.id = PANEL_ID;
    this.title.icon = listIcon;
    this.title.caption = 'Steps (mirrorneuron_nb)';
    this.addClass('mn-StepsPanel');
    this.addWidget(ReactWidget.create(<StepsView model={model} actions={actions} />));
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.model.setVisible(true);
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this.model.setVisible(false);
  }
}
