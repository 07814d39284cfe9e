// One batch, read again every BATCH_POLL_MS until every song in it has ended. Its jobs'
// own event streams are not opened: twenty of them would take every connection the
// browser allows a server, and the batch's answer already carries each job.
import { useCallback, useEffect, useState } from "react";
import { api, type Batch } from "../api/client";
import { ApiError, errorText } from "../lib/errors";
import { BATCH_POLL_MS, batchFinished } from "./batch";

export interface LiveBatch {
  batch: Batch | null;
  /** The last read's failure; the batch already shown stays, and reading goes on. */
  error: string | null;
  missing: boolean;
  reload: () => void;
}

export function useBatch(id: string): LiveBatch {
  const [batch, setBatch] = useState<Batch | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [missing, setMissing] = useState(false);
  const [asked, setAsked] = useState(0);
  const reload = useCallback(() => setAsked((n) => n + 1), []);

  useEffect(() => {
    let cancelled = false;
    let timer: number | undefined;
    const read = async () => {
      try {
        const found = await api.batch(id);
        if (cancelled) return;
        setBatch(found);
        setError(null);
        if (batchFinished(found.status)) return;
      } catch (caught) {
        if (cancelled) return;
        if (caught instanceof ApiError && caught.status === 404) return setMissing(true);
        setError(errorText(caught));
      }
      timer = window.setTimeout(read, BATCH_POLL_MS);
    };
    void read();
    return () => {
      cancelled = true;
      window.clearTimeout(timer);
    };
    // asked: a reload (a song cancelled or deleted from the page) reads it again, finished or not.
  }, [id, asked]);

  return { batch, error, missing, reload };
}
