// Turning whatever went wrong into one sentence a person can act on.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** From a 429's Retry-After: seconds until the server takes the request again. */
    readonly retryAfterS: number | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

interface ErrorBody {
  error?: { code?: unknown; message?: unknown };
}

/** The API's `{"error": {"code", "message"}}`, or a message that says what the status means. */
export function apiErrorFrom(status: number, bodyText: string, retryAfter: string | null = null): ApiError {
  const wait = retryAfterSeconds(retryAfter);
  try {
    const body = JSON.parse(bodyText) as ErrorBody;
    const message = body.error?.message;
    const code = body.error?.code;
    if (typeof message === "string" && message) {
      return new ApiError(status, typeof code === "string" ? code : "error", message, wait);
    }
  } catch {
    // Not JSON: a proxy's error page, or an empty body. Fall through.
  }
  return new ApiError(status, "http_error", fallbackMessage(status), wait);
}

/** Retry-After as seconds from now: either form HTTP allows (seconds, or a date), null if absent. */
export function retryAfterSeconds(header: string | null, now: number = Date.now()): number | null {
  const value = header?.trim();
  if (!value) return null;
  if (/^\d+$/.test(value)) return Number(value);
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now) / 1000));
}

/** "Try again in 3 minutes." — rounded up, so trying at the time said never fails again. */
export function tryAgainText(seconds: number): string {
  if (seconds <= 0) return "Try again now.";
  let [amount, unit] = [seconds, "second"];
  if (seconds >= 5400) [amount, unit] = [Math.ceil(seconds / 3600), "hour"];
  else if (seconds >= 60) [amount, unit] = [Math.ceil(seconds / 60), "minute"];
  return `Try again in ${amount} ${unit}${amount === 1 ? "" : "s"}.`;
}

export function fallbackMessage(status: number): string {
  if (status === 0) return "The server cannot be reached. Check that Stemdeck is running, then try again.";
  if (status === 413) return "The file is larger than the server accepts.";
  if (status === 502 || status === 503 || status === 504)
    return "The server is unavailable right now. Try again in a minute.";
  if (status >= 500) return `The server failed (HTTP ${status}). Try again; report it if it keeps happening.`;
  return `The request was refused (HTTP ${status}).`;
}

/** The sentence to show next to the control that caused `error`. */
export function errorText(error: unknown): string {
  if (error instanceof ApiError) {
    // Retry-After says when, unless the server's message already does.
    const saysWhen = error.retryAfterS === null || /try again in/i.test(error.message);
    return saysWhen ? error.message : `${error.message} ${tryAgainText(error.retryAfterS)}`;
  }
  if (error instanceof DOMException && error.name === "AbortError") return "Cancelled.";
  if (error instanceof TypeError) return fallbackMessage(0);
  if (error instanceof Error && error.message) return error.message;
  return "Something went wrong. Try again.";
}
