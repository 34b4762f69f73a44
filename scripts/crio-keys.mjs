#!/usr/bin/env node
// Regenerates components/node/crio-keys.json: for each CRI-O release, the TOML keys CRI-O's config
// loader really decodes, table by table. Source of truth is the `toml:"..."` struct tags in
// pkg/config/config.go of that release (the docs page crio.conf.5.md omits some handler keys).
//
//   node scripts/crio-keys.mjs /path/to/cri-o.git v1.30.0 v1.31.0 ... [main]
//
// Only tables this program renders or lets users set are listed; anything else is rejected.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const STRUCT_TABLES = {
    RootConfig: "crio",
    APIConfig: "crio.api",
    RuntimeConfig: "crio.runtime",
    RuntimeHandler: "crio.runtime.runtimes.*",
    CheckpointRestoreConfig: "crio.checkpoint_restore",
    ImageConfig: "crio.image",
    NetworkConfig: "crio.network",
    MetricsConfig: "crio.metrics",
    TracingConfig: "crio.tracing",
    StatsConfig: "crio.stats",
};
// Fields that hold sub-tables rather than values.
const SUBTABLES = new Set(["runtimes", "workloads"]);

const [gitDir, ...refs] = process.argv.slice(2);
if (!gitDir || refs.length === 0) {
    console.error("usage: crio-keys.mjs CRIO_GIT_DIR REF...");
    process.exit(2);
}
const show = (ref, path) => execFileSync("git", ["-C", gitDir, "show", `${ref}:${path}`], { encoding: "utf8" });

function tablesOf(source) {
    const tables = {};
    const structRe = /^type (\w+) struct \{\n([\s\S]*?)^\}/gm;
    for (const m of source.matchAll(structRe)) {
        const table = STRUCT_TABLES[m[1]];
        if (!table) continue;
        const keys = [...m[2].matchAll(/toml:"([a-z0-9_]+)[,"]/g)].map(k => k[1]).filter(k => !SUBTABLES.has(k));
        tables[table] = [...new Set(keys)].sort();
    }
    return tables;
}

const versions = {};
for (const ref of refs) {
    const version = /const Version = "(\d+\.\d+)\.\d+"/.exec(show(ref, "internal/version/version.go"))[1];
    const commit = execFileSync("git", ["-C", gitDir, "rev-parse", `${ref}^{commit}`], { encoding: "utf8" }).trim();
    versions[version] = { source: `cri-o/cri-o ${ref} (${commit}) pkg/config/config.go`, tables: tablesOf(show(ref, "pkg/config/config.go")) };
}
const out = fileURLToPath(new URL("../components/node/crio-keys.json", import.meta.url));
writeFileSync(out, JSON.stringify({ generatedBy: "scripts/crio-keys.mjs", versions }, null, 2) + "\n");
console.log(`wrote ${out}: ${Object.keys(versions).join(", ")}`);
