// Files being uploaded as new jobs, newest first, each with its progress and outcome.
import { useState } from "react";
import { uploadFile, type FormatId, type Job, type UploadHandle } from "../api/client";
import { errorText } from "../lib/errors";

export interface Upload {
  key: string;
  file: File;
  progress: number;
  state: "uploading" | "done" | "failed" | "cancelled";
  job?: Job;
  error?: string;
  handle?: UploadHandle;
}

/** `strategy` and `formats`: what the files dropped next are split with. */
export function useUploads(strategy: string, formats: readonly FormatId[]): { uploads: Upload[]; start: (files: FileList | File[]) => void } {
  const [uploads, setUploads] = useState<Upload[]>([]);

  const update = (key: string, change: Partial<Upload>) =>
    setUploads((all) => all.map((u) => (u.key === key ? { ...u, ...change } : u)));

  const start = (files: FileList | File[]) => {
    for (const file of Array.from(files)) {
      const key = `${file.name}-${file.size}-${Date.now()}-${Math.random()}`;
      const handle = uploadFile(file, strategy || null, formats, (progress) => update(key, { progress }));
      setUploads((all) => [{ key, file, progress: 0, state: "uploading", handle }, ...all]);
      handle.done.then(
        (job) => update(key, { state: "done", progress: 1, job }),
        (error: unknown) =>
          update(key, {
            state: error instanceof DOMException && error.name === "AbortError" ? "cancelled" : "failed",
            error: errorText(error),
          }),
      );
    }
  };

  return { uploads, start };
}
