/**
 * The Steps panel's state: the steps of one notebook (polled from the server, poll.ts),
 * the labels derived from them and the live notebook (labels.ts), what the panel knows
 * about that notebook's kernel and its last action, and the requests its buttons make.
 * No DOM here.
 */
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
  resetStep
} from './api';
import { StepLabels } from './labels';
import { IInvalidCell, ILiveCell, ILiveRow } from './live';
import { IPlanStep } from './plan';
import { StepsPoller } from './poll';
import { ITimeline } from './timeline';
import {
  IActionResult,
  IPanelModel,
  IStepsModel,
  KernelState,
  PanelView,
  StateLoaded
} from './tokens';

export class StepsModel implements IStepsModel, IPanelModel {
  constructor() {
    this._server = new StepsPoller({
      shown: () => this._visible,
      view: () => this._view,
      changed: () => this._emit()
    });
    this._labels = new StepLabels(this._server);
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }
  get path(): string | null {
    return this._server.path;
  }
  get steps(): ILiveRow[] {
    return this._labels.merged().steps;
  }
  get deleted(): IStepRow[] {
    return this._labels.merged().deleted;
  }
  get invalid(): IInvalidCell[] {
    return this._labels.merged().invalid;
  }
  get summary(): ISummary | null {
    return this._labels.merged().summary;
  }
  get timeline(): ITimeline | null {
    return this._server.timeline;
  }
  get timelineError(): ApiError | null {
    return this._server.timelineError;
  }
  get resumed(): IActionResult | null {
    return this._resumed;
  }
  get sidecar(): boolean {
    return this._server.sidecar;
  }
  get loading(): boolean {
    return this._server.loading;
  }
  get error(): ApiError | null {
    return this._server.error;
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
    return this._server.plan;
  }
  get planError(): ApiError | null {
    return this._server.planError;
  }
  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Follow another notebook (null: none is active). */
  setNotebook(path: string | null): void {
    if (path === this._server.path) {
      return;
    }
    this._server.setPath(path);
    this._lastAction = null;
    this._resumed = null;
    this._labels.forgetLive();
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
    if (this._labels.setLiveCells(cells)) {
      this._emit();
    }
  }

  setBusyAction(name: string | null): void {
    this._busyAction = name;
    this._emit();
  }

  /** Fetch now, whether or not polling is active (after an action, a cell run, a save). */
  refresh(): Promise<void> {
    return this._server.refresh();
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
    return this._labels.headline(this._kernel, this._loaded);
  }

  kernelText(): string {
    return this._labels.kernelText(this._kernel, this._loaded);
  }

  dispose(): void {
    this._disposed = true;
    this._server.dispose();
    Signal.clearData(this);
  }

  private _requirePath(): string {
    const path = this._server.path;
    if (path === null) {
      throw new ApiError(0, 'no_notebook', 'no notebook is active');
    }
    return path;
  }

  private _emit(): void {
    if (!this._disposed) {
      this._changed.emit();
    }
  }

  private _changed = new Signal<this, void>(this);
  private readonly _server: StepsPoller;
  private readonly _labels: StepLabels;
  private _kernel: KernelState = 'none';
  private _loaded: StateLoaded = 'unknown';
  private _lastAction: IActionResult | null = null;
  private _busyAction: string | null = null;
  private _visible = false;
  private _view: PanelView = 'steps';
  private _resumed: IActionResult | null = null;
  private _disposed = false;
}
