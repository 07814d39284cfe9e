import { describe, expect, it } from "vitest";
import type { JobStage } from "../api/client";
import { modelWords, stageWords, type JobStep } from "./stages";

const step = (change: Partial<JobStep>): JobStep => ({ status: "running", stage: "decoding", stage_detail: null, ...change });

describe("stage words", () => {
  it("says what each model takes out of the song, never its id", () => {
    const running = (model: string) => stageWords(step({ stage: "separating", stage_detail: model }));
    expect(running("spleeter:2stems")).toBe("Separating vocals");
    expect(running("builtin:hpss")).toBe("Splitting drums from the rest");
    expect(running("builtin:crossover")).toBe("Splitting off the bass");
    expect(running("demucs:htdemucs")).toBe("Separating vocals, drums and bass");
    expect(running("demucs:htdemucs_ft")).toBe("Separating vocals, drums and bass");
    expect(running("demucs:htdemucs_6s")).toBe("Separating vocals, drums, bass, guitar and piano");
    expect(running("uvr:model_bs_roformer_ep_317_sdr_12.9755.ckpt")).toBe("Separating vocals");
  });

  it("falls back to plain words for a model it does not know, or none named", () => {
    expect(modelWords("newfamily:model")).toBeNull();
    expect(stageWords(step({ stage: "separating", stage_detail: "newfamily:model" }))).toBe("Separating the stems");
    expect(stageWords(step({ stage: "separating", stage_detail: null }))).toBe("Separating the stems");
  });

  it("says when a model's weights are downloading, and how far", () => {
    const running = (detail: string) => stageWords(step({ stage: "separating", stage_detail: detail }));
    expect(running("downloading demucs:htdemucs weights 40%")).toBe("Downloading the separation model (40%)");
    expect(running("downloading uvr:model_bs_roformer_ep_317_sdr_12.9755.ckpt weights")).toBe(
      "Downloading the separation model",
    );
  });

  it("words every stage without the API's terms", () => {
    const stages: JobStage[] = ["waiting", "downloading", "decoding", "separating", "encoding", "uploading", "done"];
    for (const stage of stages) {
      const words = stageWords(step({ stage }));
      expect(words).not.toMatch(/uploading|encoding|decoding|:/i);
      expect(words[0]).toBe(words[0]?.toUpperCase());
    }
    expect(stageWords(step({ status: "queued", stage: "waiting" }))).toBe("Waiting for a free worker");
    expect(stageWords(step({ stage: "uploading" }))).toBe("Saving stems");
    expect(stageWords(step({ status: "fetching", stage: "downloading" }))).toBe("Downloading the song");
    expect(stageWords(step({ status: "fetching", stage: "waiting" }))).toBe("Downloading the song");
  });

  it("says how a finished job ended, whatever stage it stopped at", () => {
    expect(stageWords(step({ status: "completed", stage: "done" }))).toBe("Ready to play");
    expect(stageWords(step({ status: "failed", stage: "separating", stage_detail: "demucs:htdemucs" }))).toBe(
      "Could not split this song",
    );
    expect(stageWords(step({ status: "cancelled", stage: "waiting" }))).toBe("Cancelled");
  });
});
