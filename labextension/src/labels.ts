/**
 * The labels the panel derives from the server's answer and the live notebook: the rows
 * (saved or not, edited or not), the headline and the kernel's line. Cached per answer
 * and per state of the live cells. No DOM here.
 */
import { IInvalidCellInfo, IStepRow, ISummary } from './api';
import { ILiveCell, ILiveSteps, mergeLive } from './live';
import { kernelText } from './status';
import { KernelState, StateLoaded } from './tokens';

const GOOD = new Set(['succeeded', 'cached']);

/** The server's answer as the labels need it (the poller's). */
export interface IServerSteps {
  /** Changes with every new answer. */
  readonly version: number;
  readonly steps: IStepRow[];
  readonly deleted: IStepRow[];
  readonly summary: ISummary | null;
  readonly invalid: IInvalidCellInfo[];
}

export class StepLabels {
  constructor(private readonly _server: IServerSteps) {}

  /** The followed notebook's code cells as they are now (null: no live model); false when
   * they are the same as before. */
  setLiveCells(cells: ILiveCell[] | null): boolean {
    const key = cells === null ? null : JSON.stringify(cells);
    if (key === this._liveKey) {
      return false;
    }
    this._liveKey = key;
    this._live = cells;
    this._cache = null;
    return true;
  }

  /** Another notebook: its live cells are not known yet. */
  forgetLive(): void {
    this._live = null;
    this._cache = null;
  }

  /** The server's rows merged with the live cells. */
  merged(): ILiveSteps {
    if (this._cache === null || this._cacheVersion !== this._server.version) {
      const { steps, deleted, summary, invalid } = this._server;
      this._cache = mergeLive({ steps, deleted, summary, invalid }, this._live);
      this._cacheVersion = this._server.version;
    }
    return this._cache;
  }

  /** "state loaded", "kernel restarted — state not loaded", ... */
  kernelText(kernel: KernelState, loaded: StateLoaded): string {
    const { summary, deleted } = this.merged();
    const hasGood = (summary?.good ?? 0) > 0 || deleted.some(r => GOOD.has(r.status));
    return kernelText(kernel, loaded, hasGood);
  }

  /** "6 of 9 steps good; kernel restarted — state not loaded" */
  headline(kernel: KernelState, loaded: StateLoaded): string {
    const summary = this.merged().summary;
    if (summary === null) {
      return '';
    }
    return [summary.text, this.kernelText(kernel, loaded)].filter(Boolean).join('; ');
  }

  private _live: ILiveCell[] | null = null;
  private _liveKey: string | null = null;
  private _cache: ILiveSteps | null = null;
  private _cacheVersion = -1;
}
