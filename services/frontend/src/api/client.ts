// Typed calls to the Stemdeck API. Every type comes from schema.d.ts, which is
// generated from the service's OpenAPI schema (make gen-client), never copied by hand.
import { apiErrorFrom, type ApiError } from "../lib/errors";
import { endsSession } from "../auth/session";
import type { components } from "./schema";

export type Job = components["schemas"]["JobPublic"];
export type JobStatus = Job["status"];
export type JobStage = Job["stage"];
export type JobList = components["schemas"]["JobsPublic"];
export type Stem = components["schemas"]["StemPublic"];
export type Strategy = components["schemas"]["StrategyPublic"];
export type Model = components["schemas"]["ModelPublic"];
export type Format = components["schemas"]["FormatPublic"];
export type FormatId = components["schemas"]["FormatId"];
export type User = components["schemas"]["UserPublic"];
/** Who a request acts for: the user, the server's STEMDECK_AUTH, and how it proved it. */
export type Me = components["schemas"]["MePublic"];
/** How one signs in here: passwords, and the OpenID Connect provider's button if any. */
export type SignInMethods = components["schemas"]["SignInMethodsPublic"];

// For the Account page: the caller's own sessions, API tokens and use of each quota.
export type AccountSession = components["schemas"]["SessionPublic"];
export type TokenScope = components["schemas"]["Scope"];
export type ApiToken = components["schemas"]["TokenPublic"];
export type NewApiToken = components["schemas"]["TokenCreate"];
/** The token's value is in this answer only: the server keeps just its hash. */
export type CreatedApiToken = components["schemas"]["TokenCreated"];
export type Usage = components["schemas"]["UsagePublic"];
/** allowed null: unlimited. */
export type Quota = components["schemas"]["QuotaUsagePublic"];

// For the admin Users page and the invite page.
/** A user's own limits; null: the server's default (STEMDECK_QUOTA_*), 0: unlimited. */
export type UserQuotas = components["schemas"]["QuotaOverridesPublic"];
/** first_admin: STEMDECK_ADMIN_EMAIL, whom the server refuses to disable or demote. */
export type AdminUser = components["schemas"]["AdminUserPublic"];
export type UserChange = components["schemas"]["AdminUserUpdate"];
export type NewInvite = components["schemas"]["InviteCreate"];
export type Invite = components["schemas"]["InvitePublic"];
/** The link is in this answer only: the server keeps just its token's hash. */
export type CreatedInvite = components["schemas"]["InviteCreated"];

// For the admin System page: the workers, the queues and the latest failures.
export type SystemStatus = components["schemas"]["SystemStatus"];
export type WorkerPresence = components["schemas"]["WorkerPresence"];
export type QueueStatus = components["schemas"]["QueueStatus"];
export type Failure = components["schemas"]["FailureStatus"];

// For webhooks on the Account page: endpoints, their delivery logs, the callbacks' secret.
export type Webhook = components["schemas"]["WebhookPublic"];
export type WebhookEvent = Webhook["events"][number];
/** The secret is in this answer only. */
export type CreatedWebhook = components["schemas"]["WebhookCreated"];
export type NewWebhook = components["schemas"]["WebhookCreate"];
export type Delivery = components["schemas"]["DeliveryPublic"];
export type DeliveryPage = components["schemas"]["DeliveriesPublic"];
export type CreatedCallbackSecret = components["schemas"]["CallbackSecretCreated"];

// For several links at once: one batch, its jobs, and a zip of them all at the end.
export type Batch = components["schemas"]["BatchPublic"];
export type BatchStatus = Batch["status"];

export interface WaveformPeaks {
  version: number;
  sample_rate: number;
  samples_per_bin: number;
  bins: number;
  /** Flat [min_0, max_0, min_1, max_1, …]. */
  data: number[];
}

let sessionLost: (error: ApiError) => void = () => undefined;

/**
 * The one place that learns of a lost session: every call below (fetch, the upload's XHR,
 * and the polling that replaces a failed event stream) fails through `failure`.
 */
export function whenSessionLost(handler: (error: ApiError) => void): void {
  sessionLost = handler;
}

function failure(status: number, body: string, retryAfter: string | null): ApiError {
  const error = apiErrorFrom(status, body, retryAfter);
  if (endsSession(error.status, error.code)) sessionLost(error);
  return error;
}

async function request<T>(path: string, init?: RequestInit): Promise<T> {
  const response = await fetch(path, { ...init, headers: { Accept: "application/json", ...init?.headers } });
  if (!response.ok) throw failure(response.status, await response.text(), response.headers.get("Retry-After"));
  return (response.status === 204 ? undefined : await response.json()) as T;
}

function postJson<T>(path: string, body: unknown): Promise<T> {
  return request<T>(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

export const api = {
  strategies: () => request<Strategy[]>("/api/strategies"),
  formats: () => request<Format[]>("/api/formats"),
  jobs: (limit: number, offset: number) => request<JobList>(`/api/jobs?limit=${limit}&offset=${offset}`),
  job: (id: string) => request<Job>(`/api/jobs/${encodeURIComponent(id)}`),
  deleteJob: (id: string) => request<void>(`/api/jobs/${encodeURIComponent(id)}`, { method: "DELETE" }),
  /** Never removes a job: one that finished meanwhile answers 409 and stays. */
  cancelJob: (id: string) => request<Job>(`/api/jobs/${encodeURIComponent(id)}/cancel`, { method: "POST" }),
  submitUrl: (url: string, strategy: string | null, formats: readonly FormatId[]) =>
    postJson<Job>("/api/jobs", { url, strategy, formats }),
  me: () => request<Me>("/api/auth/me"),
  signInMethods: () => request<SignInMethods>("/api/auth/methods"),
  login: (email: string, password: string) => postJson<Me>("/api/auth/login", { email, password }),
  logout: () => request<void>("/api/auth/logout", { method: "POST" }),
  sessions: () => request<AccountSession[]>("/api/account/sessions"),
  endSession: (id: string) => request<void>(`/api/account/sessions/${encodeURIComponent(id)}`, { method: "DELETE" }),
  /** The current session too. */
  endAllSessions: () => request<void>("/api/account/sessions", { method: "DELETE" }),
  tokens: () => request<ApiToken[]>("/api/account/tokens"),
  createToken: (token: NewApiToken) => postJson<CreatedApiToken>("/api/account/tokens", token),
  revokeToken: (id: string) => request<void>(`/api/account/tokens/${encodeURIComponent(id)}`, { method: "DELETE" }),
  /** The user's other sessions end; this one stays. */
  changePassword: (current_password: string, new_password: string) =>
    postJson<void>("/api/account/password", { current_password, new_password }),
  usage: () => request<Usage>("/api/account/usage"),
  adminUsers: () => request<AdminUser[]>("/api/admin/users"),
  /** 409 when an admin would demote or disable themself, or the first admin. */
  changeUser: (id: string, change: UserChange) =>
    request<AdminUser>(`/api/admin/users/${encodeURIComponent(id)}`, {
      method: "PATCH",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(change),
    }),
  invites: () => request<Invite[]>("/api/admin/invites"),
  system: () => request<SystemStatus>("/api/system"),
  createInvite: (invite: NewInvite) => postJson<CreatedInvite>("/api/admin/invites", invite),
  revokeInvite: (id: string) => request<void>(`/api/admin/invites/${encodeURIComponent(id)}`, { method: "DELETE" }),
  /** Signs the new user in, as login does. */
  acceptInvite: (token: string, password: string) => postJson<Me>("/api/auth/accept-invite", { token, password }),
  /** One batch of several links, with one strategy and set of formats for all. */
  submitBatch: (urls: readonly string[], strategy: string | null, formats: readonly FormatId[]) =>
    postJson<Batch>("/api/batches", { urls, strategy, formats }),
  batch: (id: string) => request<Batch>(`/api/batches/${encodeURIComponent(id)}`),
  webhooks: () => request<components["schemas"]["WebhooksPublic"]>("/api/webhooks").then((page) => page.data),
  createWebhook: (webhook: NewWebhook) => postJson<CreatedWebhook>("/api/webhooks", webhook),
  deleteWebhook: (id: string) => request<void>(`/api/webhooks/${encodeURIComponent(id)}`, { method: "DELETE" }),
  deliveries: (webhookId: string, limit: number) =>
    request<DeliveryPage>(`/api/webhooks/${encodeURIComponent(webhookId)}/deliveries?limit=${limit}&offset=0`),
  /** Deliveries to the callback_url jobs were given, newest first. */
  callbackDeliveries: (limit: number) =>
    request<DeliveryPage>(`/api/webhooks/callback-deliveries?limit=${limit}&offset=0`),
  /** The same delivery (same webhook-id and body) tried again from now. */
  redeliver: (deliveryId: string) =>
    request<Delivery>(`/api/webhooks/deliveries/${encodeURIComponent(deliveryId)}/redeliver`, { method: "POST" }),
  /** Makes or replaces the secret that signs deliveries to jobs' callback_url. */
  rotateCallbackSecret: () => postJson<CreatedCallbackSecret>("/api/webhooks/callback-secret", {}),
  waveform: (stem: Stem, signal?: AbortSignal) => request<WaveformPeaks>(stem.waveform_url, { signal }),
};

export function eventsUrl(jobId: string): string {
  return `/api/jobs/${encodeURIComponent(jobId)}/events`;
}

export interface UploadHandle {
  done: Promise<Job>;
  cancel: () => void;
}

/**
 * POST a file as multipart with upload progress (fetch cannot report it, XHR can).
 * `cancel` aborts the transfer; the API stores nothing of an interrupted upload.
 */
export function uploadFile(
  file: File,
  strategy: string | null,
  formats: readonly FormatId[],
  onProgress: (fraction: number) => void,
): UploadHandle {
  const xhr = new XMLHttpRequest();
  const done = new Promise<Job>((resolve, reject) => {
    xhr.open("POST", "/api/jobs");
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    xhr.onload = () => {
      if (xhr.status === 202) resolve(JSON.parse(xhr.responseText) as Job);
      else reject(failure(xhr.status, xhr.responseText, xhr.getResponseHeader("Retry-After")));
    };
    xhr.onerror = () => reject(failure(0, "", null));
    xhr.onabort = () => reject(new DOMException("Upload cancelled", "AbortError"));
    const form = new FormData();
    if (strategy) form.append("strategy", strategy);
    if (formats.length) form.append("formats", formats.join(","));
    form.append("file", file, file.name);
    xhr.send(form);
  });
  return { done, cancel: () => xhr.abort() };
}
