import { useCallback, useEffect, useRef, useState } from "react";
import { errorText } from "./errors";

export interface Loaded<T> {
  /** null until the first answer. */
  data: T | null;
  /** The last load's failure, in the server's words; the data already shown stays. */
  error: string | null;
  reload: () => void;
  /** Changes the data shown after an action the server has confirmed (a row removed). */
  setData: (update: (current: T | null) => T | null) => void;
}

/** One GET, loaded on mount and again on reload(); `load` must be a stable function. */
export function useLoaded<T>(load: () => Promise<T>): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  // Only the newest load may answer: an older one that comes last would show stale rows.
  const latest = useRef(0);

  const reload = useCallback(() => {
    const ticket = ++latest.current;
    load().then(
      (value) => {
        if (ticket !== latest.current) return;
        setData(value);
        setError(null);
      },
      (caught: unknown) => {
        if (ticket === latest.current) setError(errorText(caught));
      },
    );
  }, [load]);

  useEffect(() => {
    reload();
    // Unmounted: answers still on their way have nowhere to go.
    return () => void ++latest.current;
  }, [reload]);

  return { data, error, reload, setData };
}
