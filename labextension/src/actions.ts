/**
 * What the panel's buttons do, against whichever notebook the panel follows.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { NotebookPanel } from '@jupyterlab/notebook';

import { IMissingInputInfo } from './api';
import { LOAD_CODE, RESUME_CODE, runInKernel } from './execute';
import { jumpToStep, rerunStep, runFromStep, runMissingThenStep } from './notebook';
import { missingSources } from './status';
import { IActionResult, IStepActions, IStepsModel } from './tokens';

export class StepActions implements IStepActions {
  constructor(
    private readonly model: IStepsModel,
    private readonly current: () => NotebookPanel | null
  ) {}

  jump(name: string): void {
    const panel = this.current();
    if (panel) {
      void jumpToStep(panel, name).then(found => {
        if (!found) {
          this.model.setAction({ title: `No cell runs step ${name}`, ok: false, text: '' });
        }
      });
    }
  }

  rerun(name: string): void {
    const panel = this.current();
    if (panel) {
      // Not guarded: the notebook queues executions itself, and a long step should not
      // block the other buttons.
      void rerunStep(panel, name);
    }
  }

  reset(name: string): void {
    void this._guard(`Resetting ${name}`, async () => {
      const answer = await showDialog({
        title: `Reset step ${name}?`,
        body:
          `Its checkpoints are dropped: the next run of ${name} executes the cell ` +
          'again. Variables already in the kernel are not touched.',
        buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Reset' })]
      });
      if (!answer.button.accept) {
        return null;
      }
      const done = await this.model.reset(name);
      return { title: `Reset ${done.reset.join(', ')}`, ok: true, text: '' };
    });
  }

  decide(name: string, approve: boolean, note: string): void {
    void this._guard(approve ? `Approving ${name}` : `Rejecting ${name}`, async () => {
      const done = await this.model.decide(name, approve, note);
      const by = done.approval.decided_by ?? 'you';
      const title = approve
        ? `Approved ${name} (by ${by}): re-run it to continue`
        : `Rejected ${name} (by ${by}): it and later steps do not run`;
      return { title, ok: true, text: '' };
    });
  }

  runMissing(name: string, origins: IMissingInputInfo[]): void {
    void this._guard(`Running the cells ${name} needs`, async () => {
      const panel = this.current();
      if (!panel) {
        return null;
      }
      // The note outlives the kernel that wrote it: a newer one may not have the magic.
      const load = await runInKernel(panel.sessionContext, LOAD_CODE);
      if (!load.ok) {
        return { title: 'Loading mirrorneuron_nb failed', ok: false, text: load.text };
      }
      const ok = await runMissingThenStep(panel, name, origins);
      void this.model.refresh();
      const ran = `${missingSources(origins)}, then ${name}`;
      const title = ok ? `Ran ${ran}` : `Running ${ran} stopped at an error: see the notebook`;
      return { title, ok, text: '' };
    });
  }

  resume(): void {
    void this._guard('Resuming', () => this._resume());
  }

  runFrom(): void {
    void this._guard('Resuming, then running', async () => {
      const panel = this.current();
      const first = this.model.summary?.first_unfinished;
      if (!panel || !first) {
        return null;
      }
      const resumed = await this._resume();
      if (!resumed?.ok) {
        return resumed;
      }
      this.model.setAction(resumed);
      await runFromStep(panel, first);
      return { ...resumed, title: `${resumed.title}; ran from ${first}` };
    });
  }

  private async _resume(): Promise<IActionResult | null> {
    const panel = this.current();
    if (!panel) {
      return null;
    }
    const run = await runInKernel(panel.sessionContext, RESUME_CODE);
    if (run.ok) {
      this.model.setLoaded('loaded');
    }
    void this.model.refresh();
    return { title: run.ok ? 'Resumed' : 'Resume failed', ok: run.ok, text: run.text, resume: true };
  }

  /** One action at a time; its outcome (or error) is shown in the panel's header. */
  private async _guard(
    label: string,
    work: () => Promise<IActionResult | null>
  ): Promise<void> {
    if (this.model.busyAction !== null) {
      return;
    }
    this.model.setBusyAction(label);
    try {
      const result = await work();
      if (result) {
        this.model.setAction(result);
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.model.setAction({ title: `${label} failed`, ok: false, text: message });
    } finally {
      this.model.setBusyAction(null);
    }
  }
}
