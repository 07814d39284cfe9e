// The output formats the server offers (GET /api/formats): the new-job page's choices,
// which of them start ticked, and every format's label. Asked once per page load and
// shared, because the player shows labels in every stem's downloads.
import { useEffect, useState } from "react";
import { api, type Format, type FormatId } from "../api/client";
import { errorText } from "./errors";

/** `load` called once and its answer shared; a failure is forgotten, so the next caller asks again. */
export function sharedLoad<T>(load: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | null = null;
  return () => {
    pending ??= load().catch((error: unknown) => {
      pending = null;
      throw error;
    });
    return pending;
  };
}

const loadFormats = sharedLoad(() => api.formats());

export interface LoadedFormats {
  /** null until they have come. */
  formats: Format[] | null;
  error: string | null;
}

export function useFormats(): LoadedFormats {
  const [loaded, setLoaded] = useState<LoadedFormats>({ formats: null, error: null });
  useEffect(() => {
    let current = true;
    loadFormats().then(
      (formats) => current && setLoaded({ formats, error: null }),
      (error: unknown) => current && setLoaded({ formats: null, error: errorText(error) }),
    );
    return () => {
      current = false;
    };
  }, []);
  return loaded;
}

/** A format's label; its id until the labels have come (or if they cannot be had). */
export function formatLabel(formats: readonly Format[] | null, id: FormatId): string {
  return formats?.find((format) => format.id === id)?.label ?? id;
}

/** What a job gets when it names no format (STEMDECK_DEFAULT_FORMATS). */
export function defaultFormats(formats: readonly Format[]): FormatId[] {
  return formats.filter((format) => format.default).map((format) => format.id);
}
