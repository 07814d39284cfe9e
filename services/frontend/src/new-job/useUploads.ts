// The songs sent from this page, newest first: each an upload with its progress, then
// the job it became (followed live by its card), or how it failed.
import { useState } from "react";
import { uploadFile, type FormatId, type Job, type UploadHandle } from "../api/client";
import { errorText } from "../lib/errors";

export interface Upload {
  key: string;
  /** The file's name, or the song's as the server knows it (a link's). */
  name: string;
  /** Bytes of an uploaded file; null for a link. */
  size: number | null;
  progress: number;
  state: "uploading" | "done" | "failed" | "cancelled";
  job?: Job;
  error?: string;
  handle?: UploadHandle;
}

export interface Uploads {
  uploads: Upload[];
  /** Upload each file as a new job. */
  start: (files: FileList | File[]) => void;
  /** A job made another way (from a link): its card joins the others. */
  follow: (job: Job) => void;
}

function newKey(name: string): string {
  return `${name}-${Date.now()}-${Math.random()}`;
}

/** `strategy` and `formats`: what the files dropped next are split with. */
export function useUploads(strategy: string, formats: readonly FormatId[]): Uploads {
  const [uploads, setUploads] = useState<Upload[]>([]);

  const update = (key: string, change: Partial<Upload>) =>
    setUploads((all) => all.map((u) => (u.key === key ? { ...u, ...change } : u)));

  const start = (files: FileList | File[]) => {
    for (const file of Array.from(files)) {
      const key = newKey(file.name);
      const handle = uploadFile(file, strategy || null, formats, (progress) => update(key, { progress }));
      const upload: Upload = { key, name: file.name, size: file.size, progress: 0, state: "uploading", handle };
      setUploads((all) => [upload, ...all]);
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

  const follow = (job: Job) => {
    const name = job.source.name;
    setUploads((all) => [{ key: newKey(name), name, size: null, progress: 1, state: "done", job }, ...all]);
  };

  return { uploads, start, follow };
}
