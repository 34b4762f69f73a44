// The migration's step table is what the component declares and what docs/how-a-migration-runs.md tells.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { MIGRATION_STEPS } from "../../components/migration/steps";

describe("migration steps as data", () => {
    it("docs/how-a-migration-runs.md lists the table's steps, in order, with their nodes", () => {
        const doc = fs.readFileSync(path.join(__dirname, "..", "..", "docs", "how-a-migration-runs.md"), "utf8");
        const section = doc.slice(0, doc.indexOf("**Why the source is frozen"));
        assert.ok(section.length > 0, "the page has its 'Why the source is frozen' paragraph");
        const listed = [...section.matchAll(/^\d+\. \*\*([a-z-]+)\*\* \((source|target|master)\):/gm)].map(m => `${m[1]} (${m[2]})`);
        assert.deepEqual(listed, MIGRATION_STEPS.map(s => `${s.step} (${s.on})`));
    });

    it("names each step once and runs every step after steps that come before it", () => {
        const seen = new Set<string>();
        for (const s of MIGRATION_STEPS) {
            assert.ok(!seen.has(s.step), `${s.step} twice`);
            for (const a of s.after ?? []) assert.ok(seen.has(a), `${s.step} runs after ${a}, which comes later`);
            seen.add(s.step);
        }
        assert.equal(MIGRATION_STEPS.filter(s => s.kind === "pod").length, 1, "one restored pod");
    });
});
