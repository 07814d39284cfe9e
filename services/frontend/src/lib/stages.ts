// What a job is doing, in words a musician reads: "Separating vocals", not
// `separating · spleeter:2stems`. One place for it, used by the jobs list, the new-job
// cards and the player's waiting view. The stage table is keyed by the API's generated
// union, so a stage the API adds fails typecheck until it is worded here.
import type { Job, JobStage, JobStatus } from "../api/client";

/** The fields of a job (or of one of its events) that say where it stands. */
export type JobStep = Pick<Job, "status" | "stage" | "stage_detail">;

const STAGE_WORDS: Record<JobStage, string> = {
  waiting: "Waiting for a free worker",
  downloading: "Downloading the song",
  decoding: "Reading the song",
  separating: "Separating the stems",
  encoding: "Preparing the stem files",
  uploading: "Saving stems",
  done: "Finishing",
};

const FINAL_WORDS: Partial<Record<JobStatus, string>> = {
  completed: "Ready to play",
  failed: "Could not split this song",
  cancelled: "Cancelled",
};

/**
 * Model families and models by what they take out of the song. A model id is
 * `family:name` (see strategies.yaml); an exact id wins over its family.
 */
const MODEL_WORDS: Record<string, string> = {
  "spleeter:2stems": "Separating vocals",
  "demucs:htdemucs_6s": "Separating vocals, drums, bass, guitar and piano",
  demucs: "Separating vocals, drums and bass",
  uvr: "Separating vocals",
  "builtin:hpss": "Splitting drums from the rest",
  "builtin:crossover": "Splitting off the bass",
  "builtin:center": "Splitting the centre from the sides",
};

/** What a model does to the song, or null for a model this table does not know. */
export function modelWords(modelId: string | null | undefined): string | null {
  if (!modelId) return null;
  const family = modelId.split(":", 1)[0] ?? "";
  return MODEL_WORDS[modelId] ?? MODEL_WORDS[family] ?? null;
}

// A model's first use may fetch its weights first: the worker says
// "downloading demucs:htdemucs weights 40%" (the share once the size is known).
const WEIGHTS_DOWNLOAD = /^downloading \S+ weights(?: (\d+)%)?$/;

/** "Downloading the separation model (40%)" while a model's weights download, else null. */
function downloadWords(detail: string | null | undefined): string | null {
  const match = WEIGHTS_DOWNLOAD.exec(detail ?? "");
  if (!match) return null;
  return match[1] ? `Downloading the separation model (${match[1]}%)` : "Downloading the separation model";
}

/** One short sentence for where the job stands now. */
export function stageWords(job: JobStep): string {
  const final = FINAL_WORDS[job.status];
  if (final) return final;
  // A link job's download claims the job before its stage moves on.
  if (job.status === "fetching" && job.stage === "waiting") return STAGE_WORDS.downloading;
  if (job.stage === "separating") {
    return downloadWords(job.stage_detail) ?? modelWords(job.stage_detail) ?? STAGE_WORDS.separating;
  }
  return STAGE_WORDS[job.stage];
}
