// Turning whatever went wrong into one sentence a person can act on.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

interface ErrorBody {
  error?: { code?: unknown; message?: unknown };
}

/** The API's `{"error": {"code", "message"}}`, or a message that says what the status means. */
export function apiErrorFrom(status: number, bodyText: string): ApiError {
  try {
    const body = JSON.parse(bodyText) as ErrorBody;
    const message = body.error?.message;
    const code = body.error?.code;
    if (typeof message === "string" && message) {
      return new ApiError(status, typeof code === "string" ? code : "error", message);
    }
  } catch {
    // Not JSON: a proxy's error page, or an empty body. Fall through.
  }
  return new ApiError(status, "http_error", fallbackMessage(status));
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
  if (error instanceof ApiError) return error.message;
  if (error instanceof DOMException && error.name === "AbortError") return "Cancelled.";
  if (error instanceof TypeError) return fallbackMessage(0);
  if (error instanceof Error && error.message) return error.message;
  return "Something went wrong. Try again.";
}
