import { useState } from "react";
import { api, type Job } from "../api/client";
import { ConfirmButton } from "../account/ConfirmButton";
import { ApiError, errorText } from "../lib/errors";
import { isFinal } from "../lib/jobStatus";
import { forgetJobStems } from "../player/stemCache";

/**
 * Cancel for a job still going: it stays, as cancelled, until the server removes it a
 * day later. Delete for a finished or cancelled one: it goes, with its files, so it
 * asks first. Cancel never deletes: a job that finished just before the click answers
 * 409 and its row is refreshed to show how it ended.
 */
export function CancelOrDeleteButton({
  job,
  onCancelled,
  onDeleted,
}: {
  job: Job;
  onCancelled: (id: string) => void;
  onDeleted: (id: string) => void;
}) {
  if (isFinal(job.status)) {
    const remove = async () => {
      try {
        await api.deleteJob(job.id);
      } catch (caught) {
        // Gone already (deleted in another tab, or its day as cancelled is up): so is the row.
        if (!(caught instanceof ApiError && caught.status === 404)) throw caught;
      }
      void forgetJobStems(job.id); // the copies the player kept in this browser
      onDeleted(job.id);
    };
    return (
      <ConfirmButton
        label="Delete"
        accessibleName={`Delete ${job.source.name}`}
        question={`Delete “${job.source.name}” and its stems? This cannot be undone.`}
        confirmLabel="Yes, delete"
        onConfirm={remove}
      />
    );
  }
  return <CancelButton job={job} onCancelled={onCancelled} onDeleted={onDeleted} />;
}

function CancelButton({
  job,
  onCancelled,
  onDeleted,
}: {
  job: Job;
  onCancelled: (id: string) => void;
  onDeleted: (id: string) => void;
}) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const cancel = async () => {
    setBusy(true);
    setError(null);
    try {
      await api.cancelJob(job.id);
      onCancelled(job.id);
    } catch (caught) {
      if (caught instanceof ApiError && caught.status === 404) onDeleted(job.id);
      else if (caught instanceof ApiError && caught.status === 409) onCancelled(job.id);
      else setError(errorText(caught));
    } finally {
      // A cancelled row stays, and offers Delete next.
      setBusy(false);
    }
  };
  return (
    <>
      <button
        type="button"
        className="button danger"
        onClick={cancel}
        disabled={busy}
        aria-label={`Cancel ${job.source.name}`}
      >
        Cancel
      </button>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </>
  );
}
