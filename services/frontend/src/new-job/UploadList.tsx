import { ProgressBar } from "../components/ProgressBar";
import { formatBytes } from "../lib/format";
import { JobCard } from "./JobCard";
import type { Upload } from "./useUploads";

/** One card per song sent: the upload while it goes, then the job it became, live. */
export function UploadList({ uploads }: { uploads: Upload[] }) {
  if (uploads.length === 0) return null;
  return (
    <ul className="uploads" aria-label="Your songs">
      {uploads.map((upload) =>
        upload.state === "done" && upload.job ? (
          <JobCard key={upload.key} initial={upload.job} name={upload.name} />
        ) : (
          <UploadCard key={upload.key} upload={upload} />
        ),
      )}
    </ul>
  );
}

function UploadCard({ upload }: { upload: Upload }) {
  return (
    <li className={`upload song-card ${upload.state}`}>
      <div className="upload-head">
        <span className="upload-name">{upload.name}</span>
        {upload.size !== null && <span className="muted small">{formatBytes(upload.size)}</span>}
      </div>
      <ProgressBar
        value={upload.progress}
        label={`Upload of ${upload.name}`}
        tone={upload.state === "failed" ? "bad" : undefined}
      />
      <div className="upload-foot">
        {upload.state === "uploading" && (
          <>
            <span>Sending the song · {Math.round(upload.progress * 100)} %</span>
            <button type="button" className="button small" onClick={() => upload.handle?.cancel()}>
              Cancel
            </button>
          </>
        )}
        {(upload.state === "failed" || upload.state === "cancelled") && (
          <span className="error" role="alert">
            {upload.error}
          </span>
        )}
      </div>
    </li>
  );
}
