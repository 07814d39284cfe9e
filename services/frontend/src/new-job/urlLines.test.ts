import { describe, expect, it } from "vitest";
import { linkLines, MAX_LINKS, planLinks, songCount } from "./urlLines";

describe("the link field, one song per line", () => {
  it("reads each non-blank line, trimmed, whatever the line endings", () => {
    expect(linkLines("  https://a.example/1 \r\n\nhttps://a.example/2\rhttps://a.example/3\n  \n")).toEqual([
      "https://a.example/1",
      "https://a.example/2",
      "https://a.example/3",
    ]);
    expect(linkLines(" \n\t\n")).toEqual([]);
  });

  it("sends one line as a job and several as a batch", () => {
    expect(planLinks("")).toEqual({ kind: "empty" });
    expect(planLinks(" https://a.example/song.mp3 \n")).toEqual({ kind: "one", url: "https://a.example/song.mp3" });
    expect(planLinks("http://a.example/1\nhttps://b.example/2")).toEqual({
      kind: "many",
      urls: ["http://a.example/1", "https://b.example/2"],
    });
  });

  it(`refuses more than ${MAX_LINKS} lines, saying how many to remove`, () => {
    const lines = (count: number) => Array.from({ length: count }, (_, i) => `https://a.example/${i}`).join("\n");
    expect(planLinks(lines(MAX_LINKS)).kind).toBe("many");
    expect(planLinks(lines(23))).toEqual({
      kind: "refused",
      message: "That is 23 links; at most 20 go at once. Remove 3, or send the rest afterwards.",
    });
    expect(planLinks(lines(3), 2).kind).toBe("refused");
  });

  it("names the line that is not a web link", () => {
    const plan = planLinks("https://a.example/1\nmy song.mp3\nftp://a.example/3");
    expect(plan).toEqual({
      kind: "refused",
      message: "Line 2 is not a web link: “my song.mp3”. Put one link per line, each starting with https://.",
    });
    expect(planLinks("ftp://a.example/song.mp3")).toMatchObject({ kind: "refused", message: expect.stringMatching(/^This is not/) });
    expect(planLinks("javascript:alert(1)").kind).toBe("refused");
  });

  it("counts songs in words", () => {
    expect(songCount(1)).toBe("1 song");
    expect(songCount(3)).toBe("3 songs");
  });
});
