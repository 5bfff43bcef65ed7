/**
 * What the server says about one notebook, kept fresh by polling: its steps and, while
 * their view is shown, its timeline and the plan of its next run. No DOM here.
 *
 * Polling asks the server with the token of the last answer; when nothing changed the
 * server says so in a few bytes. A Poll runs it only while the panel is shown and the page
 * is visible, and backs off (up to 30 s) while requests fail.
 */
import { Poll } from '@lumino/polling';

import { ApiError, IInvalidCellInfo, IStepRow, ISummary, getSteps } from './api';
import { IPlanStep, getPlan } from './plan';
import { ITimeline, getTimeline } from './timeline';
import { PanelView } from './tokens';

export const POLL_INTERVAL_MS = 1000;
export const POLL_MAX_MS = 30_000;

/** What the poller asks of its owner. */
export interface IPollHost {
  /** Whether the panel is shown: it ticks only then (and while it follows a notebook). */
  shown(): boolean;
  /** The view shown: its data (timeline, plan) is fetched along with the steps. */
  view(): PanelView;
  /** Something below changed. */
  changed(): void;
}

export class StepsPoller {
  constructor(private readonly _host: IPollHost) {
    this._poll = new Poll({
      factory: () => this._fetch(),
      frequency: { interval: POLL_INTERVAL_MS, backoff: true, max: POLL_MAX_MS },
      name: 'mirrorneuron-nb:steps',
      // A refresh fetches even while polling stands by; ticks only while the panel is
      // shown ('when-hidden': and the page is visible).
      standby: () =>
        this._poll.state.phase === 'refreshed'
          ? 'never'
          : !this._disposed && this._host.shown() && this._path !== null
            ? 'when-hidden'
            : true
    });
  }

  get path(): string | null {
    return this._path;
  }
  /** Bumped with every new answer about the steps (a cache key for what derives from them). */
  get version(): number {
    return this._version;
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
  /** Step cells of the saved file whose name the magic refuses (the server's reading). */
  get invalid(): IInvalidCellInfo[] {
    return this._invalid;
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
  get timeline(): ITimeline | null {
    return this._timeline;
  }
  get timelineError(): ApiError | null {
    return this._timelineError;
  }
  get plan(): IPlanStep[] | null {
    return this._plan;
  }
  get planError(): ApiError | null {
    return this._planError;
  }

  /** Follow another notebook (null: none): forget everything known about the last one. */
  setPath(path: string | null): void {
    this._path = path;
    this._token = null;
    this._steps = [];
    this._deleted = [];
    this._summary = null;
    this._invalid = [];
    this._sidecar = false;
    this._error = null;
    this._timeline = null;
    this._timelineError = null;
    this._plan = null;
    this._planError = null;
    this._version++;
  }

  /** Fetch now, whether or not polling is active; never rejects. */
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

  dispose(): void {
    this._disposed = true;
    this._poll.dispose();
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
        this._invalid = answer.invalid_cells ?? [];
        this._sidecar = answer.sidecar;
        this._version++;
        this._emit();
      } else if (hadError) {
        this._emit();
      }
      const view = this._host.view();
      if (view === 'timeline' && (answer.changed || this._timeline === null)) {
        await this._fetchTimeline(path);
      }
      // The steps' token covers the notebook file and the sidecar, all a plan reads.
      if (view === 'plan' && (answer.changed || this._plan === null)) {
        await this._fetchPlan(path);
      }
      return null;
    } catch (error) {
      if (path !== this._path || this._disposed) {
        return null;
      }
      this._error = asApiError(error);
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
      keep(null, asApiError(error));
    }
    this._emit();
  }

  private _emit(): void {
    if (!this._disposed) {
      this._host.changed();
    }
  }

  private _poll: Poll;
  private _path: string | null = null;
  private _token: string | null = null;
  private _version = 0;
  private _steps: IStepRow[] = [];
  private _deleted: IStepRow[] = [];
  private _summary: ISummary | null = null;
  private _invalid: IInvalidCellInfo[] = [];
  private _sidecar = false;
  private _error: ApiError | null = null;
  private _plan: IPlanStep[] | null = null;
  private _planError: ApiError | null = null;
  private _timeline: ITimeline | null = null;
  private _timelineError: ApiError | null = null;
  private _inflight: Promise<void> | null = null;
  private _again = false;
  private _disposed = false;
}

function asApiError(error: unknown): ApiError {
  return error instanceof ApiError ? error : new ApiError(0, 'client_error', `${error}`);
}
