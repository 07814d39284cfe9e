import { Link } from "react-router-dom";
import { ProgressBar } from "../components/ProgressBar";
import { formatBytes } from "../lib/format";
import type { Upload } from "./useUploads";

/** Each upload's progress, with Cancel while it goes and where to follow the job after. */
export function UploadList({ uploads }: { uploads: Upload[] }) {
  if (uploads.length === 0) return null;
  return (
    <ul className="uploads" aria-label="Uploads">
      {uploads.map((upload) => (
        <li key={upload.key} className={`upload ${upload.state}`}>
          <div className="upload-head">
            <span className="upload-name">{upload.file.name}</span>
            <span className="muted">{formatBytes(upload.file.size)}</span>
          </div>
          <ProgressBar
            value={upload.progress}
            label={`Upload of ${upload.file.name}`}
            tone={upload.state === "failed" ? "bad" : upload.state === "done" ? "ok" : undefined}
          />
          <div className="upload-foot">
            {upload.state === "uploading" && (
              <>
                <span>Uploading {Math.round(upload.progress * 100)} %</span>
                <button type="button" className="button small" onClick={() => upload.handle?.cancel()}>
                  Cancel
                </button>
              </>
            )}
            {upload.state === "done" && upload.job && (
              <>
                <span className="ok-text">Queued</span>
                <Link to="/jobs">Follow it in Jobs</Link>
              </>
            )}
            {(upload.state === "failed" || upload.state === "cancelled") && (
              <span className="error" role="alert">
                {upload.error}
              </span>
            )}
          </div>
        </li>
      ))}
    </ul>
  );
}
