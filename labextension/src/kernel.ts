/**
 * The notebook's kernel as the panel sees it: its state, and whether the steps' variables
 * are in it.
 *
 * The panel reads step states from the server, never from the kernel, so it keeps working
 * while the kernel is dead, restarting or busy; only the panel's actions need the kernel.
 */
import { ISessionContext } from '@jupyterlab/apputils';
import { Cell } from '@jupyterlab/cells';
import { Notebook, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';

import { cellStepName } from './notebook';
import { IStepsModel, KernelState } from './tokens';

/**
 * Feeds one notebook's kernel state into the model: its status, and whether the steps'
 * variables are loaded (unknown until a restart; loaded after a resume or a step ran).
 */
export class KernelWatcher {
  constructor(
    private readonly panel: NotebookPanel,
    private readonly model: IStepsModel
  ) {
    const session = panel.sessionContext;
    session.statusChanged.connect(this._onStatus, this);
    session.kernelChanged.connect(this._onKernelChanged, this);
    NotebookActions.executed.connect(this._onExecuted, this);
    this._onStatus();
  }

  dispose(): void {
    const session = this.panel.sessionContext;
    session.statusChanged.disconnect(this._onStatus, this);
    session.kernelChanged.disconnect(this._onKernelChanged, this);
    NotebookActions.executed.disconnect(this._onExecuted, this);
  }

  private _onStatus(): void {
    const session = this.panel.sessionContext;
    const status = session.session?.kernel?.status ?? null;
    if (status === 'restarting' || status === 'autorestarting') {
      this.model.setLoaded('not-loaded');
    }
    this.model.setKernel(kernelState(status, session.hasNoKernel));
  }

  private _onKernelChanged(
    _: ISessionContext,
    change: { oldValue: unknown; newValue: unknown }
  ): void {
    // A kernel replaced by another one starts empty; the first kernel may be one that
    // JupyterLab reconnected to, whose state we cannot know.
    if (change.oldValue && change.newValue) {
      this.model.setLoaded('not-loaded');
    }
    this._onStatus();
  }

  private _onExecuted(
    _: unknown,
    args: { notebook: Notebook; cell: Cell; success: boolean }
  ): void {
    if (args.notebook !== this.panel.content || cellStepName(args.cell) === null) {
      return;
    }
    // A step that ran or was served from its checkpoint in this kernel has put its
    // variables there (and restored the inputs it needed).
    if (args.success && this.model.loaded !== 'loaded') {
      this.model.setLoaded('loaded');
    }
    void this.model.refresh();
  }
}

function kernelState(status: string | null, noKernel: boolean): KernelState {
  if (noKernel || status === null) {
    return 'none';
  }
  switch (status) {
    case 'idle':
      return 'idle';
    case 'busy':
      return 'busy';
    case 'dead':
      return 'dead';
    case 'restarting':
    case 'autorestarting':
      return 'restarting';
    default:
      return 'starting';
  }
}
