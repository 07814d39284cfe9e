import { useRef, useState } from "react";

/** Where songs are dropped or chosen; each one becomes an upload. */
export function UploadDropzone({
  onFiles,
  children,
}: {
  onFiles: (files: FileList) => void;
  /** Shown under the button: what the songs will be split into. */
  children?: React.ReactNode;
}) {
  const [dragging, setDragging] = useState(false);
  const fileInput = useRef<HTMLInputElement>(null);
  return (
    <div
      className={`dropzone ${dragging ? "dragging" : ""}`}
      data-testid="dropzone"
      onDragOver={(event) => {
        event.preventDefault();
        setDragging(true);
      }}
      onDragLeave={() => setDragging(false)}
      onDrop={(event) => {
        event.preventDefault();
        setDragging(false);
        onFiles(event.dataTransfer.files);
      }}
    >
      <button type="button" className="button primary big" onClick={() => fileInput.current?.click()}>
        Choose a song
      </button>
      <p className="dropzone-title">or drop audio files here</p>
      <p className="muted small">MP3, WAV, FLAC, Ogg/Opus, M4A or AIFF — one song or several</p>
      {children}
      <input
        ref={fileInput}
        type="file"
        accept="audio/*,video/*,.flac,.opus,.m4a,.aiff"
        multiple
        hidden
        aria-label="Audio files to upload"
        data-testid="file-input"
        onChange={(event) => {
          if (event.target.files) onFiles(event.target.files);
          event.target.value = "";
        }}
      />
    </div>
  );
}
