// What `scripts/lab.sh status` and `scripts/lab.sh timeline` print, from the stack's outputs
// (`pulumi stack output --json`, secrets not shown) on stdin:
//
//   node -r ts-node/register/transpile-only scripts/status.ts status [HOPS]   (default: the last 5 hops)
//   node -r ts-node/register/transpile-only scripts/status.ts timeline [ID]   (the SVG of hop ID, else the last)
//
// status: each node (role, address, cgroup version, init, kernel, CRIU), each workload (node, pod,
// image, the figure and identity its last hop verified), the last hops with their windows.
// Exits 1 with one line on stderr when the stack has no outputs yet (never brought up) or no such hop.
import type { MigrationSummary } from "../components/migration/migration";
import { renderTimeline } from "./timeline";

interface Outputs {
    nodes?: { name: string; role: string; address: string }[];
    criu?: Record<string, { criu?: string; cgroup?: string; kernel?: string; init?: string }>;
    workloads?: Record<string, { pod: string; node: string; image: string }> | null;
    migrations?: MigrationSummary[] | null;
    warnings?: string[];
}

/** Columns padded to their widest cell, two spaces apart. */
function table(rows: string[][]): string[] {
    const widths = rows[0].map((_, i) => Math.max(...rows.map(r => (r[i] ?? "").length)));
    return rows.map(r => `  ${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join("  ")}`.trimEnd());
}

const seconds = (s: number | undefined) => (typeof s === "number" ? `${s.toFixed(2)} s` : "-");

export function statusText(o: Outputs, hops = 5): string {
    const out: string[] = [];
    const criu = o.criu ?? {};
    out.push("nodes");
    out.push(...table([["name", "role", "address", "cgroup", "init", "kernel", "CRIU"],
        ...(o.nodes ?? []).map(n => {
            const c = criu[n.name] ?? {};
            return [n.name, n.role, n.address, c.cgroup ?? "-", c.init ?? "-", c.kernel ?? "-", c.criu ?? "-"];
        })]));
    const migrations = o.migrations ?? [];
    const workloads = Object.entries(o.workloads ?? {});
    out.push("", "workloads");
    if (workloads.length === 0) out.push("  none (kubernetes.enabled: false, or no workload)");
    else {
        out.push(...table([["name", "node", "pod", "last verified figure", "identity", "image"],
            ...workloads.map(([name, w]) => {
                const last = [...migrations].reverse().find(m => (m.workload ?? "flink") === name);
                return [name, w.node, w.pod, last ? `${last.records.after} (after ${last.id})` : "-", last?.jobId || "-", w.image];
            })]));
    }
    out.push("", migrations.length > hops ? `hops (the last ${hops} of ${migrations.length})` : "hops");
    if (migrations.length === 0) out.push("  none carried out yet (scripts/lab.sh migrate NODE [WORKLOAD])");
    else {
        out.push(...table([["id", "workload", "from -> to", "no progress", "checkpoint", "transfer", "restore", "figure", "archive"],
            ...migrations.slice(-hops).map(m => [m.id, m.workload ?? "flink", `${m.from} -> ${m.to}`, seconds(m.noProgressSeconds),
                seconds(m.seconds?.checkpoint), seconds(m.seconds?.transfer), seconds(m.seconds?.restore),
                `${m.records.before} -> ${m.records.after}`, `${(m.sizeBytes / 1048576).toFixed(1)} MB`])]));
    }
    for (const w of o.warnings ?? []) out.push("", `warning: ${w}`);
    return `${out.join("\n")}\n`;
}

/** The SVG of hop `id` (the last one without), drawn from its outputs alone (no probe samples). */
export function timelineSvg(o: Outputs, id?: string): string {
    const migrations = o.migrations ?? [];
    const m = id ? migrations.find(h => h.id === id) : migrations[migrations.length - 1];
    if (!m) {
        throw new Error(migrations.length === 0 ? "no hop carried out yet" : `no hop ${id}; carried out: ${migrations.map(h => h.id).join(", ")}`);
    }
    return renderTimeline(m, [], `from the stack's outputs (hop ${m.id}, attempt ${m.attempt})`);
}

function main(): void {
    const [what, arg] = process.argv.slice(2);
    let text = "";
    process.stdin.setEncoding("utf8").on("data", d => (text += d)).on("end", () => {
        let o: Outputs;
        try { o = JSON.parse(text || "{}"); } catch { o = {}; }
        if (!o.nodes) {
            process.stderr.write("the stack has no outputs yet: bring the lab up first (scripts/lab.sh up)\n");
            process.exit(1);
        }
        try {
            process.stdout.write(what === "timeline" ? timelineSvg(o, arg) : statusText(o, arg ? Number(arg) : 5));
        } catch (e) {
            process.stderr.write(`${(e as Error).message}\n`);
            process.exit(1);
        }
    });
}

if (require.main === module) main();
