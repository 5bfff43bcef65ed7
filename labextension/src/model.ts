/**
 * The Steps panel's state: the steps of one notebook, read from the server by polling,
 * plus what the panel knows about that notebook's kernel. No DOM here.
 *
 * Polling asks the server with the token of the last answer; when nothing changed the
 * server says so in a few bytes. It runs only while the panel is shown and the page is
 * visible, and backs off (up to 30 s) while requests fail.
 */
import { ISignal, Signal } from '@lumino/signaling';

import {
  ApiError,
  IApproveResponse,
  IResetResponse,
  IStepDetail,
  IStepRow,
  ISummary,
  approveStep,
  getStep,
  getSteps,
  resetStep
} from './api';

export const POLL_INTERVAL_MS = 1000;
export const POLL_MAX_MS = 30_000;

/** The kernel as far as the panel can tell from JupyterLab's session. */
export type KernelState = 'none' | 'starting' | 'idle' | 'busy' | 'restarting' | 'dead';

/** Whether this kernel holds the steps' variables: known only after a restart or a load. */
export type StateLoaded = 'unknown' | 'loaded' | 'not-loaded';

/** What the last panel action (resume, run, reset) printed or answered. */
export interface IActionResult {
  title: string;
  ok: boolean;
  text: string;
}

const GOOD = new Set(['succeeded', 'cached']);

export class StepsModel {
  get changed(): ISignal<this, void> {
    return this._changed;
  }
  get path(): string | null {
    return this._path;
  }
  get steps(): IStepRow[] {
    return this._steps;
  }
  get deleted(): IStepRow[] {
    return this._deleted;
  }
  get summary(): ISummary | null {
    return this._summary;
  }
  /** False until a step of this notebook has run (no sidecar yet). */
  get sidecar(): boolean {
    return this._sidecar;
  }
  /** No answer yet for the current notebook. */
  get loading(): boolean {
    return this._path !== null && this._token === null && this._error === null;
  }
  get error(): ApiError | null {
    return this._error;
  }
  get kernel(): KernelState {
    return this._kernel;
  }
  get loaded(): StateLoaded {
    return this._loaded;
  }
  get lastAction(): IActionResult | null {
    return this._lastAction;
  }
  /** The action in progress (its buttons are disabled), if any. */
  get busyAction(): string | null {
    return this._busyAction;
  }
  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Follow another notebook (null: none is active). */
  setNotebook(path: string | null): void {
    if (path === this._path) {
      return;
    }
    this._path = path;
    this._token = null;
    this._steps = [];
    this._deleted = [];
    this._summary = null;
    this._sidecar = false;
    this._error = null;
    this._failures = 0;
    this._lastAction = null;
    this._emit();
    void this.refresh();
  }

  setVisible(visible: boolean): void {
    this._visible = visible;
    this._reschedule(0);
  }

  setPageVisible(visible: boolean): void {
    this._pageVisible = visible;
    this._reschedule(0);
  }

  setKernel(state: KernelState): void {
    if (state !== this._kernel) {
      this._kernel = state;
      this._emit();
    }
  }

  setLoaded(loaded: StateLoaded): void {
    if (loaded !== this._loaded) {
      this._loaded = loaded;
      this._emit();
    }
  }

  setAction(result: IActionResult | null): void {
    this._lastAction = result;
    this._emit();
  }

  setBusyAction(name: string | null): void {
    this._busyAction = name;
    this._emit();
  }

  /** Fetch now, whether or not polling is active (after an action, a cell run, a save). */
  async refresh(): Promise<void> {
    if (this._inflight) {
      this._again = true;
      return this._inflight;
    }
    this._clearTimer();
    this._inflight = this._fetch().finally(() => {
      this._inflight = null;
      if (this._again) {
        this._again = false;
        void this.refresh();
      } else {
        this._reschedule(this._delay());
      }
    });
    return this._inflight;
  }

  detail(name: string): Promise<IStepDetail> {
    return getStep(this._requirePath(), name);
  }

  async reset(name: string): Promise<IResetResponse> {
    const answer = await resetStep(this._requirePath(), name);
    await this.refresh();
    return answer;
  }

  /** Decide on a step waiting at its approval gate; the row updates with the next answer. */
  async decide(name: string, approve: boolean, note: string): Promise<IApproveResponse> {
    const answer = await approveStep(this._requirePath(), name, approve, note.trim());
    await this.refresh();
    return answer;
  }

  /** "6 of 9 steps good; kernel restarted — state not loaded" */
  headline(): string {
    if (this._summary === null) {
      return '';
    }
    const parts = [this._summary.text];
    const hasGood = this._summary.good > 0 || this._deleted.some(r => GOOD.has(r.status));
    switch (this._kernel) {
      case 'none':
        parts.push('no kernel');
        break;
      case 'dead':
        parts.push('kernel dead — state not loaded');
        break;
      case 'starting':
      case 'restarting':
        parts.push('kernel restarting');
        break;
      default:
        if (this._loaded === 'not-loaded' && hasGood) {
          parts.push('kernel restarted — state not loaded');
        } else if (this._loaded === 'loaded') {
          parts.push('state loaded');
        }
        if (this._kernel === 'busy') {
          parts.push('kernel busy');
        }
    }
    return parts.join('; ');
  }

  dispose(): void {
    this._disposed = true;
    this._clearTimer();
    Signal.clearData(this);
  }

  private async _fetch(): Promise<void> {
    const path = this._path;
    if (path === null || this._disposed) {
      return;
    }
    try {
      const answer = await getSteps(path, this._token ?? undefined);
      if (path !== this._path || this._disposed) {
        return; // the panel moved on to another notebook meanwhile
      }
      this._failures = 0;
      const hadError = this._error !== null;
      this._error = null;
      if (answer.changed) {
        this._token = answer.token;
        this._steps = answer.steps ?? [];
        this._deleted = answer.deleted ?? [];
        this._summary = answer.summary;
        this._sidecar = answer.sidecar;
        this._emit();
      } else if (hadError) {
        this._emit();
      }
    } catch (error) {
      if (path !== this._path || this._disposed) {
        return;
      }
      this._failures += 1;
      this._error =
        error instanceof ApiError
          ? error
          : new ApiError(0, 'client_error', `${error}`);
      // Forget the token: after an error the next good answer must be a full one.
      this._token = null;
      this._emit();
    }
  }

  private _delay(): number {
    if (this._failures === 0) {
      return POLL_INTERVAL_MS;
    }
    return Math.min(POLL_MAX_MS, POLL_INTERVAL_MS * 2 ** this._failures);
  }

  private _active(): boolean {
    return !this._disposed && this._visible && this._pageVisible && this._path !== null;
  }

  private _reschedule(delay: number): void {
    this._clearTimer();
    if (!this._active() || this._inflight) {
      return; // a running fetch reschedules itself when it ends
    }
    this._timer = window.setTimeout(() => void this.refresh(), delay);
  }

  private _clearTimer(): void {
    if (this._timer !== null) {
      window.clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private _requirePath(): string {
    if (this._path === null) {
      throw new ApiError(0, 'no_notebook', 'no notebook is active');
    }
    return this._path;
  }

  private _emit(): void {
    if (!this._disposed) {
      this._changed.emit();
    }
  }

  private _changed = new Signal<this, void>(this);
  private _path: string | null = null;
  private _token: string | null = null;
  private _steps: IStepRow[] = [];
  private _deleted: IStepRow[] = [];
  private _summary: ISummary | null = null;
  private _sidecar = false;
  private _error: ApiError | null = null;
  private _kernel: KernelState = 'none';
  private _loaded: StateLoaded = 'unknown';
  private _lastAction: IActionResult | null = null;
  private _busyAction: string | null = null;
  private _visible = false;
  private _pageVisible = true;
  private _failures = 0;
  private _timer: number | null = null;
  private _inflight: Promise<void> | null = null;
  private _again = false;
  private _disposed = false;
}
