/**
 * The interfaces the panel's parts meet at. The view reads an IStepsState (the panel
 * widget an IPanelModel) and sends clicks to an IStepActions; the actions and the kernel
 * watcher change an IStepsModel. None of them knows the classes behind these (model.ts,
 * actions.ts).
 */
import type { ISignal } from '@lumino/signaling';

import type {
  ApiError,
  IApproveResponse,
  IEventInfo,
  IMissingInputInfo,
  IResetResponse,
  IStepDetail,
  IStepRow,
  ISummary
} from './api';
import type { IInvalidCell, ILiveCell, ILiveRow } from './live';
import type { IPlanStep } from './plan';
import type { ITimeline } from './timeline';

/** What the panel shows: the steps' state, or the plan of the next run. */
export type PanelView = 'steps' | 'plan' | 'timeline';

/** The kernel as far as the panel can tell from JupyterLab's session. */
export type KernelState = 'none' | 'starting' | 'idle' | 'busy' | 'restarting' | 'dead';

/** Whether this kernel holds the steps' variables: known only after a restart or a load. */
export type StateLoaded = 'unknown' | 'loaded' | 'not-loaded';

/** What the last panel action (resume, run, reset) printed or answered. */
export interface IActionResult {
  title: string;
  ok: boolean;
  text: string;
  /** Set on a resume's result: what it printed (the resume summary). */
  resume?: boolean;
}

/** What the panel shows: the steps of the followed notebook and its kernel's state. */
export interface IStepsState {
  /** Emitted whenever anything below changes. */
  readonly changed: ISignal<IStepsState, void>;
  /** The followed notebook's path on the server; null when no notebook is active. */
  readonly path: string | null;
  /** The live notebook's steps (saved or not), with the sidecar's state of each. */
  readonly steps: ILiveRow[];
  /** Steps in the sidecar whose cell is gone from the live notebook. */
  readonly deleted: IStepRow[];
  /** Cells whose `%%mn_step` name the magic rejects: never steps, never counted. */
  readonly invalid: IInvalidCell[];
  /** The last resume in this kernel (gone once the kernel restarts). */
  readonly resumed: IActionResult | null;
  readonly timeline: ITimeline | null;
  readonly timelineError: ApiError | null;
  /** "state loaded", "kernel restarted — state not loaded", ... */
  kernelText(): string;
  readonly summary: ISummary | null;
  /** False until a step of this notebook has run (no sidecar yet). */
  readonly sidecar: boolean;
  /** No answer yet for the current notebook. */
  readonly loading: boolean;
  readonly error: ApiError | null;
  readonly kernel: KernelState;
  readonly loaded: StateLoaded;
  readonly lastAction: IActionResult | null;
  /** The action in progress (its buttons are disabled), if any. */
  readonly busyAction: string | null;
  /** "6 of 9 steps good; kernel restarted — state not loaded" */
  headline(): string;
  /** One step's details (traceback, checkpoint, variables). */
  detail(name: string): Promise<IStepDetail>;
  /** One step's events, oldest first. */
  events(name: string): Promise<IEventInfo[]>;
  readonly view: PanelView;
  /** The plan of the next run, fetched while the plan view is shown (null: none yet). */
  readonly plan: IPlanStep[] | null;
  readonly planError: ApiError | null;
  /** Show the steps or the plan (the plan is fetched, then refreshed with each poll). */
  setView(view: PanelView): void;
}

/** The state as the panel widget holds it: told when it is shown or hidden (to poll or not). */
export interface IPanelModel extends IStepsState {
  setVisible(visible: boolean): void;
}

/** The panel's state as the actions and the kernel watcher change it. */
export interface IStepsModel extends IStepsState {
  setKernel(state: KernelState): void;
  setLoaded(loaded: StateLoaded): void;
  setAction(result: IActionResult | null): void;
  setLiveCells(cells: ILiveCell[] | null): void;
  setBusyAction(name: string | null): void;
  /** Fetch now, whether or not polling is active; never rejects. */
  refresh(): Promise<void>;
  reset(name: string): Promise<IResetResponse>;
  /** Decide on a step waiting at its approval gate. */
  decide(name: string, approve: boolean, note: string): Promise<IApproveResponse>;
}

/** What the panel's buttons do. */
export interface IStepActions {
  jump(name: string): void;
  rerun(name: string): void;
  reset(name: string): void;
  decide(name: string, approve: boolean, note: string): void;
  /** Run the cells that define the step's missing inputs, then the step. */
  runMissing(name: string, origins: IMissingInputInfo[]): void;
  resume(): void;
  runFrom(): void;
}
