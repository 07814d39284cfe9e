// Webhooks in a musician's words: which events an endpoint hears of, how each delivery
// went, and the "New webhook" form's request (or why it cannot be sent yet).
import type { Delivery, NewWebhook, WebhookEvent } from "../api/client";
import { relativeTime } from "../lib/relativeTime";

/** How many of the latest deliveries a log shows. */
export const RECENT_DELIVERIES = 20;

/** The events a user may pick, in the order the form lists them. */
export const EVENT_CHOICES: readonly { event: WebhookEvent; label: string; detail: string }[] = [
  { event: "job.completed", label: "Job finished", detail: "A song's stems are ready." },
  { event: "job.failed", label: "Job failed", detail: "A song could not be split, and why." },
  { event: "job.progress", label: "Progress updates", detail: "Now and then while a song is being split." },
];

export const DEFAULT_EVENTS: readonly WebhookEvent[] = ["job.completed", "job.failed"];

/** One event's words; an event this app does not know yet is shown as the server names it. */
export function eventLabel(event: string): string {
  return EVENT_CHOICES.find((choice) => choice.event === event)?.label ?? event;
}

/** "Job finished, Job failed": in the form's order, whatever order the server keeps. */
export function eventWords(events: readonly string[]): string {
  const known = EVENT_CHOICES.filter((choice) => events.includes(choice.event)).map((choice) => choice.label);
  const unknown = events.filter((event) => !EVENT_CHOICES.some((choice) => choice.event === event));
  return [...known, ...unknown].join(", ") || "No events";
}

/** `events` with `event` on or off, in the form's order. */
export function withEvent(events: readonly WebhookEvent[], event: WebhookEvent, on: boolean): WebhookEvent[] {
  const chosen = new Set(events);
  if (on) chosen.add(event);
  else chosen.delete(event);
  return EVENT_CHOICES.map((choice) => choice.event).filter((e) => chosen.has(e));
}

export interface WebhookDraft {
  url: string;
  events: readonly WebhookEvent[];
  description: string;
}

export const EMPTY_WEBHOOK: WebhookDraft = { url: "", events: DEFAULT_EVENTS, description: "" };

export type WebhookField = "url" | "events" | "form";

/** Why the form cannot be sent yet, or null; the server still checks the address. */
export function webhookProblem(draft: WebhookDraft): { field: WebhookField; text: string } | null {
  const url = draft.url.trim();
  if (!url) return { field: "url", text: "Enter the address of your receiver, starting with https://." };
  let protocol = "";
  try {
    protocol = new URL(url).protocol;
  } catch {
    // Not a URL at all: the same words as a wrong scheme.
  }
  if (protocol !== "https:" && protocol !== "http:")
    return { field: "url", text: `“${url}” is not a web address. It starts with https:// (or http://).` };
  if (draft.events.length === 0) return { field: "events", text: "Choose at least one event to hear about." };
  return null;
}

export function webhookRequest(draft: WebhookDraft): NewWebhook {
  return { url: draft.url.trim(), events: [...draft.events], description: draft.description.trim() };
}

/** How a delivery went: "Delivered", "Failed", or when it is tried next. */
export function deliveryStatusWords(delivery: Delivery, now: number = Date.now()): string {
  if (delivery.status === "delivered") return "Delivered";
  if (delivery.status === "failed") return `Failed after ${tries(delivery.attempts)}`;
  if (delivery.attempts === 0 || delivery.next_attempt_at === null) return "Sending";
  return `Failed ${tries(delivery.attempts)}; trying again ${relativeTime(delivery.next_attempt_at, now)}`;
}

function tries(count: number): string {
  return count === 1 ? "1 try" : `${count} tries`;
}

/** The receiver's answer: its status code and how long it took, "200 · 43 ms". */
export function answerWords(delivery: Pick<Delivery, "status_code" | "latency_ms">): string | null {
  const parts = [
    delivery.status_code !== null ? `HTTP ${delivery.status_code}` : null,
    delivery.latency_ms !== null ? `${Math.round(delivery.latency_ms)} ms` : null,
  ].filter((part) => part !== null);
  return parts.length ? parts.join(" · ") : null;
}

/** The start of the receiver's answer, on one line, cut at `max` characters. */
export function responseStart(response: string | null, max = 120): string | null {
  const line = response?.replace(/\s+/g, " ").trim();
  if (!line) return null;
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
