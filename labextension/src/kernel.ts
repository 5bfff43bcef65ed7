/**
 * The notebook side of the panel: its kernel's state, and what the panel does in it
 * (resume, re-run a step, run from a step, jump to a step's cell).
 *
 * The panel reads step states from the server, never from the kernel, so it keeps working
 * while the kernel is dead, restarting or busy; only these actions need the kernel.
 */
import { ISessionContext } from '@jupyterlab/apputils';
import { Cell } from '@jupyterlab/cells';
import { Notebook, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';
import { KernelMessage } from '@jupyterlab/services';

import { KernelState, StepsModel } from './model';

const STEP_LINE = /^%%mn_step\s+([A-Za-z0-9_][A-Za-z0-9_-]{0,127})(\s|$)/;

/**
 * What `%mn_resume` needs: the extension loaded once (a fresh kernel has not loaded it).
 * Sent as an execute request, so it works whatever cell is active.
 */
export const RESUME_CODE = [
  'if "mirrorneuron_nb" not in get_ipython().extension_manager.loaded:',
  '    %load_ext mirrorneuron_nb',
  '%mn_resume'
].join('\n');

/** The step name of a `%%mn_step NAME` cell (as the kernel parses it), else null. */
export function stepName(source: string): string | null {
  const match = STEP_LINE.exec(source.trimStart());
  return match ? match[1] : null;
}

export function cellStepName(cell: Cell): string | null {
  return cell.model.type === 'code' ? stepName(cell.model.sharedModel.getSource()) : null;
}

export function findStepCell(notebook: Notebook, name: string): number {
  return notebook.widgets.findIndex(cell => cellStepName(cell) === name);
}

/** Make the step's cell active and scroll to it; false if no cell carries that name. */
export async function jumpToStep(panel: NotebookPanel, name: string): Promise<boolean> {
  const notebook = panel.content;
  const index = findStepCell(notebook, name);
  if (index < 0) {
    return false;
  }
  notebook.deselectAll();
  notebook.activeCellIndex = index;
  await notebook.scrollToCell(notebook.widgets[index], 'center');
  return true;
}

/** Execute exactly the step's cell, as Shift+Enter would (its output lands in the cell). */
export async function rerunStep(panel: NotebookPanel, name: string): Promise<boolean> {
  if (!(await jumpToStep(panel, name))) {
    return false;
  }
  return NotebookActions.run(panel.content, panel.sessionContext);
}

/** Execute the step's cell and every cell below it. */
export async function runFromStep(panel: NotebookPanel, name: string): Promise<boolean> {
  if (!(await jumpToStep(panel, name))) {
    return false;
  }
  return NotebookActions.runAllBelow(panel.content, panel.sessionContext);
}

export interface IKernelRun {
  ok: boolean;
  text: string;
}

/**
 * Run code in the notebook's kernel (starting it if it is dead) and collect what it
 * printed. Not stored in the kernel's history; nothing is added to the notebook.
 */
export async function runInKernel(session: ISessionContext, code: string): Promise<IKernelRun> {
  if (!session.session?.kernel || session.hasNoKernel) {
    throw new Error('this notebook has no kernel: select one first');
  }
  if (session.session.kernel.status === 'dead') {
    await session.restartKernel();
  }
  const kernel = session.session?.kernel;
  if (!kernel) {
    throw new Error('the kernel did not start');
  }
  const chunks: string[] = [];
  const future = kernel.requestExecute({
    code,
    silent: false,
    store_history: false,
    allow_stdin: false,
    stop_on_error: true
  });
  future.onIOPub = (msg: KernelMessage.IIOPubMessage): void => {
    if (KernelMessage.isStreamMsg(msg)) {
      chunks.push(msg.content.text);
    } else if (KernelMessage.isErrorMsg(msg)) {
      chunks.push(`${msg.content.ename}: ${msg.content.evalue}\n`);
    } else if (KernelMessage.isExecuteResultMsg(msg) || KernelMessage.isDisplayDataMsg(msg)) {
      const plain = msg.content.data['text/plain'];
      if (typeof plain === 'string') {
        chunks.push(plain + '\n');
      }
    }
  };
  const reply = await future.done;
  return { ok: reply.content.status === 'ok', text: chunks.join('').trimEnd() };
}

/**
 * Feeds one notebook's kernel state into the model: its status, and whether the steps'
 * variables are loaded (unknown until a restart; loaded after a resume or a step ran).
 */
export class KernelWatcher {
  constructor(
    private readonly panel: NotebookPanel,
    private readonly model: StepsModel
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
    // A step that ran or was served from its checkpoint has put its variables back.
    if (args.success && this.model.loaded === 'not-loaded') {
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
