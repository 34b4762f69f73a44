// The migration's step table is what the component declares and what the README tells.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { MIGRATION_STEPS } from "../../components/migration/steps";

describe("migration steps as data", () => {
    it("the README's 'How a migration runs' lists the table's steps, in order, with their nodes", () => {
        const readme = fs.readFileSync(path.join(__dirname, "..", "..", "README.md"), "utf8");
        const section = readme.slice(readme.indexOf("## How a migration runs"), readme.indexOf("**Why the source is frozen"));
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
