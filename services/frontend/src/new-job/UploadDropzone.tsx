import { useRef, useState } from "react";

/** Where audio files are dropped or chosen; each one becomes an upload. */
export function UploadDropzone({ onFiles }: { onFiles: (files: FileList) => void }) {
  const [dragging, setDragging] = useState(false);
  const fileInput = useRef<HTMLInputElement>(null);
  return (
    <div
      className={`dropzone ${dragging ? "dragging" : ""}`}
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
      <p className="dropzone-title">Drag audio files here</p>
      <p className="muted">MP3, WAV, FLAC, Ogg/Opus, M4A, AIFF, one or several at a time</p>
      <button type="button" className="button primary" onClick={() => fileInput.current?.click()}>
        Choose files
      </button>
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
