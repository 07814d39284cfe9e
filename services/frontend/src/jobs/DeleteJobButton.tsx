import { useState } from "react";
import { api, type Job } from "../api/client";
import { errorText } from "../lib/errors";

/** Delete for a finished job, Cancel for one still going: either way the job and its files go. */
export function DeleteJobButton({ job, final, onDeleted }: { job: Job; final: boolean; onDeleted: (id: string) => void }) {
  const [deleteError, setDeleteError] = useState<string | null>(null);
  const [deleting, setDeleting] = useState(false);

  const remove = async () => {
    setDeleting(true);
    setDeleteError(null);
    try {
      await api.deleteJob(job.id);
      onDeleted(job.id);
    } catch (error) {
      setDeleteError(errorText(error));
      setDeleting(false);
    }
  };
  return (
    <>
      <button
        type="button"
        className="button danger"
        onClick={remove}
        disabled={deleting}
        aria-label={`${final ? "Delete" : "Cancel and delete"} ${job.source.name}`}
      >
        {final ? "Delete" : "Cancel"}
      </button>
      {deleteError && (
        <p className="error" role="alert">
          {deleteError}
        </p>
      )}
    </>
  );
}
