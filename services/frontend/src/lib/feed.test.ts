import { describe, expect, it } from "vitest";
import type { JobStatus } from "../api/client";
import {
  feedReducer,
  feedWants,
  initialFeed,
  MAX_POLL_FAILURES,
  MAX_STREAM_FAILURES,
  type FeedEvent,
  type FeedState,
} from "./feed";

interface J {
  status: JobStatus;
  progress: number;
}

const run = (events: FeedEvent<J>[], start: FeedState<J> = initialFeed<J>()) => events.reduce(feedReducer<J>, start);
const running = (progress: number): J => ({ status: "running", progress });

describe("job feed", () => {
  it("streams first and goes live on the first event", () => {
    const state = run([{ type: "stream-open" }, { type: "stream-job", job: running(0.2) }]);
    expect(state.mode).toBe("live");
    expect(state.job?.progress).toBe(0.2);
    expect(feedWants(state.mode)).toBe("stream");
  });

  it("is done after a final status and ignores whatever follows", () => {
    const state = run([
      { type: "stream-job", job: running(0.5) },
      { type: "stream-job", job: { status: "completed", progress: 1 } },
      { type: "stream-error" },
      { type: "stream-job", job: running(0.1) },
    ]);
    expect(state.mode).toBe("done");
    expect(state.job).toEqual({ status: "completed", progress: 1 });
    expect(feedWants(state.mode)).toBe("nothing");
  });

  it("needs no feed for a job that is already final", () => {
    expect(initialFeed<J>({ status: "failed", progress: 0.3 }).mode).toBe("done");
    expect(initialFeed<J>(running(0)).mode).toBe("connecting");
  });

  it("stays idle when told not to follow the job, whatever arrives", () => {
    const state = initialFeed<J>(running(0.2), false);
    expect(state.mode).toBe("idle");
    expect(feedWants(state.mode)).toBe("nothing");
    expect(feedReducer(state, { type: "stream-error" })).toBe(state);
    expect(initialFeed<J>({ status: "completed", progress: 1 }, false).mode).toBe("done");
  });

  it("reconnects after a stream error, and falls back to polling after repeated ones", () => {
    let state = run([{ type: "stream-error" }]);
    expect(state.mode).toBe("connecting");
    expect(feedWants(state.mode)).toBe("stream");
    state = run(Array(MAX_STREAM_FAILURES).fill({ type: "stream-error" }));
    expect(state.mode).toBe("polling");
    expect(feedWants(state.mode)).toBe("poll");
    state = feedReducer(state, { type: "poll-job", job: running(0.7) });
    expect(state).toMatchObject({ mode: "polling", job: running(0.7) });
    // A late open of an old stream does not take the feed off polling.
    expect(feedReducer(state, { type: "stream-open" }).mode).toBe("polling");
  });

  it("counts only consecutive stream failures", () => {
    const events: FeedEvent<J>[] = [];
    for (let i = 0; i < MAX_STREAM_FAILURES * 2; i++) {
      events.push({ type: "stream-error" }, { type: "stream-job", job: running(i / 10) });
    }
    expect(run(events).mode).toBe("live");
  });

  it("ends as gone when the job is deleted, by stream or by poll", () => {
    expect(run([{ type: "stream-job", job: running(0.1) }, { type: "stream-deleted" }]).mode).toBe("gone");
    const polling = run(Array(MAX_STREAM_FAILURES).fill({ type: "stream-error" }));
    expect(feedReducer(polling, { type: "poll-missing" }).mode).toBe("gone");
  });

  it("says it is offline after repeated poll failures, and recovers", () => {
    const polling = run(Array(MAX_STREAM_FAILURES).fill({ type: "stream-error" }));
    let state = run(Array(MAX_POLL_FAILURES - 1).fill({ type: "poll-error" }), polling);
    expect(state.mode).toBe("polling");
    state = feedReducer(state, { type: "poll-error" });
    expect(state.mode).toBe("offline");
    expect(feedWants(state.mode)).toBe("poll");
    state = feedReducer(state, { type: "poll-job", job: running(0.9) });
    expect(state.mode).toBe("polling");
    expect(state.pollFailures).toBe(0);
  });
});
