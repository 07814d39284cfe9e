import { describe, expect, it } from "vitest";
import type { Delivery } from "../api/client";
import {
  answerWords,
  deliveryStatusWords,
  EMPTY_WEBHOOK,
  eventLabel,
  eventWords,
  responseStart,
  webhookProblem,
  webhookRequest,
  withEvent,
} from "./webhooks";

const NOW = Date.parse("2026-12-03T12:00:00Z");

const delivery = (change: Partial<Delivery>): Delivery => ({
  id: "msg_1",
  event: "job.completed",
  job_id: "j1",
  url: "https://hooks.example/stemdeck",
  status: "pending",
  attempts: 0,
  created_at: "2026-12-03T11:59:00Z",
  last_attempt_at: null,
  next_attempt_at: "2026-12-03T12:00:00Z",
  status_code: null,
  latency_ms: null,
  response: null,
  ...change,
});

describe("webhook events in plain words", () => {
  it("names each event as the form does, in the form's order", () => {
    expect(eventLabel("job.completed")).toBe("Job finished");
    expect(eventLabel("job.progress")).toBe("Progress updates");
    expect(eventWords(["job.failed", "job.completed"])).toBe("Job finished, Job failed");
    expect(eventWords(["job.progress", "job.archived"])).toBe("Progress updates, job.archived");
    expect(eventWords([])).toBe("No events");
  });

  it("ticks events on and off, keeping the form's order", () => {
    expect(withEvent(["job.failed"], "job.completed", true)).toEqual(["job.completed", "job.failed"]);
    expect(withEvent(["job.completed", "job.failed"], "job.completed", false)).toEqual(["job.failed"]);
  });
});

describe("the new webhook form", () => {
  it("asks for a web address and at least one event", () => {
    expect(webhookProblem(EMPTY_WEBHOOK)?.field).toBe("url");
    expect(webhookProblem({ ...EMPTY_WEBHOOK, url: "hooks.example/in" })).toEqual({
      field: "url",
      text: "“hooks.example/in” is not a web address. It starts with https:// (or http://).",
    });
    expect(webhookProblem({ ...EMPTY_WEBHOOK, url: "ftp://hooks.example" })?.field).toBe("url");
    expect(webhookProblem({ url: "https://hooks.example/in", events: [], description: "" })?.field).toBe("events");
    expect(webhookProblem({ ...EMPTY_WEBHOOK, url: " https://hooks.example/in " })).toBeNull();
  });

  it("sends the trimmed address, the events and the note", () => {
    expect(webhookRequest({ ...EMPTY_WEBHOOK, url: " https://hooks.example/in " })).toEqual({
      url: "https://hooks.example/in",
      events: ["job.completed", "job.failed"],
      description: "",
    });
    expect(webhookRequest({ url: "https://h.example", events: ["job.progress"], description: " n8n " })).toEqual({
      url: "https://h.example",
      events: ["job.progress"],
      description: "n8n",
    });
  });
});

describe("a delivery in the log", () => {
  it("says how it went, and when a failing one is tried next", () => {
    expect(deliveryStatusWords(delivery({ status: "delivered", attempts: 1 }), NOW)).toBe("Delivered");
    expect(deliveryStatusWords(delivery({}), NOW)).toBe("Sending");
    expect(
      deliveryStatusWords(delivery({ attempts: 2, next_attempt_at: "2026-12-03T12:05:00Z" }), NOW),
    ).toBe("Failed 2 tries; trying again in 5 minutes");
    expect(deliveryStatusWords(delivery({ status: "failed", attempts: 1 }), NOW)).toBe("Failed after 1 try");
  });

  it("shows the receiver's answer: code, time and the start of its body on one line", () => {
    expect(answerWords({ status_code: 200, latency_ms: 42.6 })).toBe("HTTP 200 · 43 ms");
    expect(answerWords({ status_code: null, latency_ms: 10000 })).toBe("10000 ms");
    expect(answerWords({ status_code: null, latency_ms: null })).toBeNull();
    expect(responseStart("  ok\n")).toBe("ok");
    expect(responseStart("<html>\n  <body>Bad gateway</body>", 20)).toBe("<html> <body>Bad ga…");
    expect(responseStart("")).toBeNull();
    expect(responseStart(null)).toBeNull();
  });
});
