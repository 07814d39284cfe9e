import { describe, expect, it } from "vitest";
import { PAGE_SIZE, withJob, withNewestPage, withOlderPage } from "./jobList";

const jobs = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => ({ id: `j${from + i}` }));
const ids = (list: { id: string }[]) => list.map((job) => job.id);

describe("jobs list paging", () => {
  it("takes a short newest page as the whole list", () => {
    expect(ids(withNewestPage(jobs(0, 5), jobs(1, 4)))).toEqual(["j1", "j2", "j3"]);
    expect(ids(withNewestPage(null, jobs(0, 2)))).toEqual(["j0", "j1"]);
  });

  it("keeps older pages below a refreshed full newest page", () => {
    const loaded = withOlderPage(jobs(0, PAGE_SIZE), jobs(PAGE_SIZE, PAGE_SIZE + 30));
    // Two new jobs arrive: the newest page shifts by two, the older ones stay listed.
    const fresh = [{ id: "new1" }, { id: "new0" }, ...jobs(0, PAGE_SIZE - 2)];
    const merged = withNewestPage(loaded, fresh);
    expect(merged.slice(0, 3).map((job) => job.id)).toEqual(["new1", "new0", "j0"]);
    expect(merged).toHaveLength(PAGE_SIZE + 32);
    expect(new Set(ids(merged)).size).toBe(merged.length);
    expect(ids(merged).at(-1)).toBe(`j${PAGE_SIZE + 29}`);
  });

  it("lists a job once when it moved onto the next page meanwhile", () => {
    expect(ids(withOlderPage(jobs(0, 3), jobs(2, 5)))).toEqual(["j0", "j1", "j2", "j3", "j4"]);
  });

  it("replaces a job in place with its fresher copy", () => {
    const list = [
      { id: "j0", status: "running" },
      { id: "j1", status: "queued" },
    ];
    expect(withJob(list, { id: "j1", status: "cancelled" })).toEqual([
      { id: "j0", status: "running" },
      { id: "j1", status: "cancelled" },
    ]);
    expect(withJob(list, { id: "elsewhere", status: "cancelled" })).toEqual(list);
    expect(withJob(null, { id: "j1", status: "cancelled" })).toBeNull();
  });
});
