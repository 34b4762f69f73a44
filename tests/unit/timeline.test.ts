// The migration timeline picture (scripts/timeline.ts).
import { median, percentile } from "../../scripts/stats";
import { strict as assert } from "assert";
import { phases, renderTimeline } from "../../scripts/timeline";

describe("migration timeline picture (scripts/timeline.ts)", () => {
    const T0 = 1_795_000_000_000;
    const m = {
        id: "m1", workload: "flink", from: "master", to: "worker", attempt: "first", sourceArchive: "/s.tar", archive: "/a.tar", sha256: "ab", sizeBytes: 550 * 1048576,
        restoredFrom: "image" as const, image: "i", jobId: "j", records: { before: 1000, after: 2600 }, rssBytes: 556 * 1048576,
        seconds: { checkpoint: 1.4, transfer: 2.7, image: 8.4, restore: 2.8, cutover: 1.8 }, noProgressSeconds: 14.9,
        criu: {
            dump: { freezingMs: 2.1, frozenMs: 512.4, memdumpMs: 120.5, memwriteMs: 380.2, pagesScanned: 140000, pagesWritten: 134000, pagesSkippedParent: 0 },
            restore: { forkingMs: 40.2, restoreMs: 610.7, pagesRestored: 134000, pagesCompared: 0, pagesSkippedCow: 0 },
        },
        timeline: { checkpointAt: T0, pausedAt: T0 + 30, dumpedAt: T0 + 900, heldAt: T0 + 1400, transferAt: T0 + 1500, imageAt: T0 + 4300, restoredAt: T0 + 14930, cutoverAt: T0 + 15500, committedAt: T0 + 17300 },
    };
    const probes = [0, 14000, 16000].map((dt, i) => ({ pod: "p", node: i ? "worker" : "master", jobId: "j", state: "RUNNING", startTime: 1, records: 1000 + i * 800, checkpoints: 1, rssBytes: 1, at: T0 - 2000 + dt * 1.2 }));

    it("draws every phase with its duration, the no-progress band and one dot per probe", () => {
        const svg = renderTimeline(m, probes, "test machine");
        assert.deepEqual(phases(m).map(p => p[0]), ["checkpoint", "pause + dump", "archive", "transfer", "image", "restore", "cutover"]);
        for (const label of ["checkpoint", "transfer", "image", "restore", "cutover", "no progress 14.9 s", "8.4 s", "job on worker (restored)", "test machine",
            "CRIU dump: frozen 512 ms (freezing 2, memdump 121, memwrite 380), 134000 pages (523 MB) written; restore: 611 ms (forking 40), 134000 pages restored"]) {
            assert.ok(svg.includes(label), label);
        }
        assert.equal((svg.match(/<circle /g) ?? []).length, probes.length + 2, "a dot per probe plus the legend's two");
        assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]*>[\s\S]*<\/svg>\n$/);
        assert.ok(!/NaN|undefined/.test(svg), "every coordinate is a number");
        // Ticks every 5 s from the checkpoint request, probes before it included.
        assert.deepEqual([...svg.matchAll(/fill="#666">(-?\d+) s</g)].map(t => Number(t[1])), [0, 5, 10, 15]);
    });

    it("a direct restore has no image phase: the restore starts when the transfer ends", () => {
        const direct = {
            ...m, restoredFrom: "direct" as const, seconds: { checkpoint: 1.4, transfer: 2.7, restore: 2.1, cutover: 1.8 }, noProgressSeconds: 6.2,
            timeline: { ...m.timeline, imageAt: undefined, restoredAt: T0 + 6230, cutoverAt: T0 + 6300, committedAt: T0 + 8100 },
        };
        const ph = phases(direct);
        assert.deepEqual(ph.map(p => p[0]), ["checkpoint", "pause + dump", "archive", "transfer", "restore", "cutover"]);
        assert.equal(ph[4][1], T0 + 1500 + 2700);
        const svg = renderTimeline({ ...direct, criu: { dump: { unavailable: "x" }, restore: { unavailable: "y" } } }, probes, "test machine");
        assert.ok(!/NaN|undefined/.test(svg));
        assert.ok(svg.includes("CRIU dump: no figures; restore: no figures"));
    });
});

describe("benchmark figures (scripts/stats.ts)", () => {
    it("median and nearest-rank percentiles, never a figure that was not measured", () => {
        const twenty = Array.from({ length: 20 }, (_, i) => i + 1);
        assert.equal(median(twenty), 10.5);
        assert.equal(median([1, 2, 9]), 2);
        assert.equal(percentile(twenty, 50), 10);
        assert.equal(percentile(twenty, 95), 19);
        assert.equal(percentile(twenty, 99), 20);
        assert.equal(percentile([2.5], 99), 2.5);
        const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
        assert.equal(percentile(hundred, 99), 99);
    });
});
