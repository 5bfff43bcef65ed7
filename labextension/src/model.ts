/**
 * The Steps panel's state: the steps of one notebook, read from the server by polling,
 * plus what the panel knows about that notebook's kernel. No DOM here.
 *
 * Polling asks the server with the token of the last answer; when nothing changed the
 * server says so in a few bytes. A Poll runs it only while the panel is shown and the page
 * is visible, and backs off (up to 30 s) while requests fail.
 */
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import {
  ApiError,
  IApproveResponse,
  IEventInfo,
  IResetResponse,
  IStepDetail,
  IStepRow,
  ISummary,
  approveStep,
  getStep,
  getStepEvents,
  getSteps,
  resetStep
} from './api';
import { IInvalidCell, ILiveCell, ILiveRow, ILiveSteps, mergeLive } from './live';
import { IPlanStep, getPlan } from './plan';
import { kernelText } from './status';
import { ITimeline, getTimeline } from './timeline';
import {
  IActionResult,
  IPanelModel,
  IStepsModel,
  KernelState,
  PanelView,
  StateLoaded
} from './tokens';

export const POLL_INTERVAL_MS = 1000;
export const POLL_MAX_MS = 30_000;

const GOOD = new Set(['succeeded', 'cached']);

export class StepsModel implements IStepsModel, IPanelModel {
  constructor() {
    this._poll = new Poll({
      factory: () => this._fetch(),
      frequency: { interval: POLL_INTERVAL_MS, backoff: true, max: POLL_MAX_MS },
      name: 'mirrorneuron-nb:steps',
      // A refresh fetches even while polling stands by; ticks only while the panel is
      // shown ('when-hidden': and the page is visible).
      standby: () =>
        this._poll.state.phase === 'refreshed' ? 'never' : this._active() ? 'when-hidden' : true
    });
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }
  get path(): string | null {
    return this._path;
  }
  get steps(): ILiveRow[] {
    return this._merged().steps;
  }
  get deleted(): IStepRow[] {
    return this._merged().deleted;
  }
  get invalid(): IInvalidCell[] {
    return this._merged().invalid;
  }
  get summary(): ISummary | null {
    return this._merged().summary;
  }
  get timeline(): ITimeline | null {
    return this._timeline;
  }
  get timelineError(): ApiError | null {
    return this._timelineError;
  }
  get resumed(): IActionResult | null {
    return this._resumed;
  }
  get sidecar(): boolean {
    return this._sidecar;
  }
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
  get busyAction(): string | null {
    return this._busyAction;
  }
  get view(): PanelView {
    return this._view;
  }
  get plan(): IPlanStep[] | null {
    return this._plan;
  }
  get planError(): ApiError | null {
    return this._planError;
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
    this._lastAction = null;
    this._resumed = null;
    this._live = null;
    this._mergedCache = null;
    this._timeline = null;
    this._timelineError = null;
    this._plan = null;
    this._planError = null;
    this._emit();
    void this.refresh();
  }

  setView(view: PanelView): void {
    if (view !== this._view) {
      this._view = view;
      this._emit();
      if (view !== 'steps') {
        void this.refresh();
      }
    }
  }

  /** The panel was shown or hidden: polling runs only while it is shown. */
  setVisible(visible: boolean): void {
    this._visible = visible;
    if (visible) {
      void this.refresh();
    }
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
      if (loaded === 'not-loaded') {
        // What an earlier resume restored is gone with that kernel.
        this._resumed = null;
        if (this._lastAction?.resume) {
          this._lastAction = null;
        }
      }
      this._emit();
    }
  }

  setAction(result: IActionResult | null): void {
    this._lastAction = result;
    if (result?.resume) {
      this._resumed = result;
    }
    this._emit();
  }

  /** The followed notebook's code cells as they are now (null: no live model). */
  setLiveCells(cells: ILiveCell[] | null): void {
    const key = cells === null ? null : JSON.stringify(cells);
    if (key === this._liveKey) {
      return;
    }
    this._liveKey = key;
    this._live = cells;
    this._mergedCache = null;
    this._emit();
  }

  setBusyAction(name: string | null): void {
    this._busyAction = name;
    this._emit();
  }

  /** Fetch now, whether or not polling is active (after an action, a cell run, a save). */
  async refresh(): Promise<void> {
    if (this._disposed) {
      return;
    }
    if (this._inflight) {
      // The answer on its way may predate what the caller changed: ask once more after it.
      this._again = true;
      return this._inflight.catch(() => undefined);
    }
    // Through the poll, so that a failure backs it off and its next tick waits a full
    // interval; the poll's next tick comes once this fetch has ended.
    await this._poll.refresh();
    await this._poll.tick.catch(() => undefined);
  }

  detail(name: string): Promise<IStepDetail> {
    return getStep(this._requirePath(), name);
  }

  async events(name: string): Promise<IEventInfo[]> {
    return (await getStepEvents(this._requirePath(), name)).events;
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

  headline(): string {
    const summary = this.summary;
    if (summary === null) {
      return '';
    }
    return [summary.text, this.kernelText()].filter(Boolean).join('; ');
  }

  kernelText(): string {
    const hasGood = (this.summary?.good ?? 0) > 0 || this.deleted.some(r => GOOD.has(r.status));
    return kernelText(this._kernel, this._loaded, hasGood);
  }

  dispose(): void {
    this._disposed = true;
    this._poll.dispose();
    Signal.clearData(this);
  }

  /**
   * The poll's factory: one request at a time, repeated while a refresh was asked for
   * during it. Rejects when the (last) request failed, which backs the poll off.
   */
  private _fetch(): Promise<void> {
    const run = async (): Promise<void> => {
      let failure: ApiError | null;
      do {
        this._again = false;
        failure = await this._request();
      } while (this._again && !this._disposed);
      if (failure !== null) {
        throw failure;
      }
    };
    const inflight = run().finally(() => {
      this._inflight = null;
    });
    this._inflight = inflight;
    return inflight;
  }

  /** Ask for the steps of the followed notebook; the error if the request failed. */
  private async _request(): Promise<ApiError | null> {
    const path = this._path;
    if (path === null || this._disposed) {
      return null;
    }
    try {
      const answer = await getSteps(path, this._token ?? undefined);
      if (path !== this._path || this._disposed) {
        return null; // the panel moved on to another notebook meanwhile
      }
      const hadError = this._error !== null;
      this._error = null;
      if (answer.changed) {
        this._token = answer.token;
        this._steps = answer.steps ?? [];
        this._deleted = answer.deleted ?? [];
        this._summary = answer.summary;
        this._sidecar = answer.sidecar;
        this._mergedCache = null;
        this._emit();
      } else if (hadError) {
        this._emit();
      }
      if (this._view === 'timeline' && (answer.changed || this._timeline === null)) {
        await this._fetchTimeline(path);
      }
      // The steps' token covers the notebook file and the sidecar, all a plan reads.
      if (this._view === 'plan' && (answer.changed || this._plan === null)) {
        await this._fetchPlan(path);
      }
      return null;
    } catch (error) {
      if (path !== this._path || this._disposed) {
        return null;
      }
      this._error =
        error instanceof ApiError
          ? error
          : new ApiError(0, 'client_error', `${error}`);
      // Forget the token: after an error the next good answer must be a full one.
      this._token = null;
      this._emit();
      return this._error;
    }
  }

  private _fetchPlan(path: string): Promise<void> {
    return this._fetchView(path, getPlan, (answer, error) => {
      this._plan = answer?.steps ?? this._plan;
      this._planError = error;
    });
  }

  private _fetchTimeline(path: string): Promise<void> {
    return this._fetchView(path, getTimeline, (answer, error) => {
      this._timeline = answer ?? this._timeline;
      this._timelineError = error;
    });
  }

  /** Fetch what a view shows; `keep` gets the answer, or the error (answer null). */
  private async _fetchView<T>(
    path: string,
    get: (path: string) => Promise<T>,
    keep: (answer: T | null, error: ApiError | null) => void
  ): Promise<void> {
    try {
      const answer = await get(path);
      if (path !== this._path || this._disposed) {
        return;
      }
      keep(answer, null);
    } catch (error) {
      if (path !== this._path || this._disposed) {
        return;
      }
      keep(null, error instanceof ApiError ? error : new ApiError(0, 'client_error', `${error}`));
    }
    this._emit();
  }

  private _merged(): ILiveSteps {
    if (this._mergedCache === null) {
      const server = { steps: this._steps, deleted: this._deleted, summary: this._summary };
      this._mergedCache = mergeLive(server, this._live);
    }
    return this._mergedCache;
  }

  private _active(): boolean {
    return !this._disposed && this._visible && this._path !== null;
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
  private _poll: Poll;
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
  private _view: PanelView = 'steps';
  private _plan: IPlanStep[] | null = null;
  private _timeline: ITimeline | null = null;
  private _timelineError: ApiError | null = null;
  private _resumed: IActionResult | null = null;
  private _live: ILiveCell[] | null = null;
  private _liveKey: string | null = null;
  private _mergedCache: ILiveSteps | null = null;
  private _planError: ApiError | null = null;
  private _inflight: Promise<void> | null = null;
  private _again = false;
  private _disposed = false;
}
