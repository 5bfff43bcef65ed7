/**
 * Typed client of the server extension's REST API (mirrorneuron_nb/server).
 *
 * The types mirror mirrorneuron_nb/server/api_models.py; keep the two in step.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

export type StatusName =
  | 'pending'
  | 'running'
  | 'checkpointing'
  | 'succeeded'
  | 'cached'
  | 'failed'
  | 'retrying'
  | 'interrupted'
  | 'stale'
  | 'awaiting_approval'
  | 'approved'
  | 'rejected'
  | 'sleeping';

export type ApprovalState = 'pending' | 'approved' | 'rejected';

export interface IApprovalInfo {
  question: string;
  status: ApprovalState;
  requested_at: number;
  decided_at: number | null;
  decided_by: string | null;
  note: string | null;
}

/** An input the step's last run found missing from the kernel, and where it is defined. */
export interface IMissingInputInfo {
  name: string;
  step: string | null;
  cell_index: number | null;
  cell_id: string | null;
  label: string;
}

/** The live process running a step now (it holds the step's lease); times are epoch seconds. */
export interface ILeaseOwnerInfo {
  run_id: string;
  kind: string;
  host: string;
  pid: number;
  since: number;
  heartbeat: number;
}

/** A kernel or run waiting for a step's owner to finish. */
export interface ILeaseWaiterInfo {
  run_id: string;
  kind: string;
  host: string;
  pid: number;
  since: number;
}

export interface IStepRow {
  name: string;
  status: StatusName;
  kind: string;
  once: boolean;
  position: number | null;
  duration: number | null;
  attempts: number;
  checkpoint_bytes: number | null;
  last_run: number | null;
  error: string | null;
  stale_reason: string | null;
  in_notebook: boolean;
  unsaved: string[];
  approval: IApprovalInfo | null;
  durable_recorded: number;
  durable_failed: number;
  durable_unsaved: number;
  missing_inputs: IMissingInputInfo[];
  /** Unix time a `sleeping` step wakes up (parked by a batch run's --max-sleep). */
  wake_at: number | null;
  owner: ILeaseOwnerInfo | null;
  waiting: ILeaseWaiterInfo[];
}

export interface ISummary {
  total: number;
  good: number;
  first_unfinished: string | null;
  text: string;
}

export interface IStepsResponse {
  path: string;
  token: string;
  changed: boolean;
  sidecar: boolean;
  steps: IStepRow[] | null;
  deleted: IStepRow[] | null;
  summary: ISummary | null;
  invalid_cells: IInvalidCellInfo[] | null;
}

/** A `%%mn_step` cell whose name the magic refuses: no step, a warning on the cell. */
export interface IInvalidCellInfo {
  cell: number;
  cell_id: string | null;
  name: string;
  error: string;
}

export interface IVariableInfo {
  name: string;
  type_name: string;
  size: number;
  serializer: string | null;
  saved: boolean;
  error: string | null;
}

export interface IOutputInfo {
  output_type: string;
  summary: string;
}

export interface IAttemptInfo {
  number: number;
  run_id: string;
  status: string;
  started_at: number;
  ended_at: number | null;
  error: string | null;
}

export interface ICheckpointInfo {
  id: number;
  created_at: number;
  duration: number;
  size: number;
  inputs: string[];
}

export interface IStepDetail {
  path: string;
  step: IStepRow;
  traceback: string | null;
  code: string | null;
  checkpoint: ICheckpointInfo | null;
  variables: IVariableInfo[];
  outputs: IOutputInfo[];
  attempts: IAttemptInfo[];
}

export interface IResetResponse {
  path: string;
  reset: string[];
}

export interface IApproveResponse {
  path: string;
  name: string;
  approval: IApprovalInfo;
}

/**
 * A failed request: the server's {code, message}, or a network failure (status 0).
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const API_PREFIX = ['mirrorneuron', 'api'];

/**
 * Call an endpoint and return its JSON body as T, or throw an ApiError.
 */
export async function requestAPI<T>(
  endpoint: string,
  query: Record<string, string | number | undefined> = {},
  init: RequestInit = {}
): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) {
      params.set(key, String(value));
    }
  }
  const search = params.toString();
  const url =
    URLExt.join(settings.baseUrl, ...API_PREFIX, endpoint) +
    (search ? `?${search}` : '');
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ApiError(0, 'network_error', `cannot reach the server: ${error}`);
  }
  const text = await response.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    const err = (body ?? {}) as { code?: string; message?: string };
    throw new ApiError(
      response.status,
      err.code ?? `http_${response.status}`,
      err.message ?? `the server answered ${response.status} ${response.statusText}`
    );
  }
  if (body === null) {
    throw new ApiError(response.status, 'bad_response', 'the server sent no JSON');
  }
  return body as T;
}

export function getSteps(path: string, since?: string): Promise<IStepsResponse> {
  return requestAPI<IStepsResponse>('steps', { path, since });
}

export function getStep(path: string, name: string): Promise<IStepDetail> {
  return requestAPI<IStepDetail>('step', { path, name });
}

export function resetStep(path: string, name: string): Promise<IResetResponse> {
  return requestAPI<IResetResponse>(
    'reset',
    {},
    { method: 'POST', body: JSON.stringify({ path, name }) }
  );
}

/** Approve (or reject) a step waiting at its `--approve` gate; 409 if it is not waiting. */
export function approveStep(
  path: string,
  name: string,
  approve: boolean,
  note?: string
): Promise<IApproveResponse> {
  return requestAPI<IApproveResponse>(
    'approve',
    {},
    { method: 'POST', body: JSON.stringify({ path, name, approve, note: note || null }) }
  );
}

export interface IEventInfo {
  id: number;
  ts: number;
  run_id: string | null;
  step: string | null;
  kind: string;
  detail: Record<string, unknown>;
}

export interface IEventsResponse {
  path: string;
  events: IEventInfo[];
  next_after: number;
  has_more: boolean;
}

/** A step's events, oldest first (one page of up to 500). */
export function getStepEvents(path: string, step: string): Promise<IEventsResponse> {
  return requestAPI<IEventsResponse>('events', { path, step, limit: 500 });
}
