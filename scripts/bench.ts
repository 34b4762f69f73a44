// Benchmarks that print figures (never asserted): `scripts/lab.sh npm run bench -- lab [--runs N]`
// and `scripts/lab.sh npm run bench:migrate -- [--runs N] [--svg FILE]`.
//
// migrate: the whole program on a local lab with the Flink job; N stack config changes move the
// job back and forth (master <-> worker), each one `pulumi up` while a sampler probes the job.
// Prints median, p95, p99 (nearest rank), min and max for each phase, the no-progress window,
// archive bytes against the pod's RSS, and whether the job's count ever went back; draws the last
// hop as an SVG timeline.
// Beside each hop it measures the stop-and-copy floor of that same hop: CRIU's own frozen time for
// the dump (its stats-dump) + a raw copy of the same archive between the same two nodes right
// after the hop (ssh, no digests) + CRIU's own restore time (its stats-restore), and prints the
// window / floor ratio per hop and as a median.
//
// migrate --soak: the same hops as a user's soak test (20 by default): a hop whose `pulumi up` fails
// is counted and the next `up` is run to complete it, as the README tells users to; disk (the lab's
// archive directories, the kubelet's checkpoints, the image store), leftover pods, containers and
// images, CRI-O's and the kubelet's memory on each node, and the machine's available memory are
// printed before the first hop and after the last, with the window's spread.
//
// lab: a nodes-only local lab through the real engine: pulumi up from nothing and again with
// nothing to do, then N rounds of runc checkpoint (TCP workload) -> move image -> runc restore on
// the other node, then pulumi destroy. Needs root.
import * as os from "os";
import { performance } from "perf_hooks";
import * as fs from "fs";
import * as path from "path";
import { createLocalLab } from "../tests/harness/local-lab-helpers";
import { flinkDiagnostics, startSampler, wentBack } from "../tests/harness/flink-helpers";
import type { LocalLab } from "../tests/harness/local-lab-helpers";
import { flinkProbeScript, FlinkProbe } from "../components/flink/flink";
import type { MigrationSummary } from "../components/migration/migration";
import { renderTimeline } from "./timeline";
import { median, percentile } from "./stats";

function time<T>(samples: Record<string, number[]>, phase: string, f: () => T): T {
    const t = performance.now();
    const out = f();
    (samples[phase] ??= []).push((performance.now() - t) / 1000);
    return out;
}

function machine(): string {
    const cpu = os.cpus()[0]?.model ?? "unknown cpu";
    return `${os.cpus().length} x ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Linux ${os.release()}, Node ${process.version}`;
}

function report(samples: Record<string, number[]>) {
    console.log(`machine: ${machine()}`);
    console.log("phase".padEnd(26) + "runs  median    p95       p99       min       max");
    for (const [phase, xs] of Object.entries(samples)) {
        const s = [...xs].sort((a, b) => a - b);
        const cells = [median(s), percentile(s, 95), percentile(s, 99), s[0]].map(x => x.toFixed(3).padEnd(10)).join("");
        console.log(`${phase.padEnd(26)}${String(s.length).padEnd(6)}${cells}${s[s.length - 1].toFixed(3)}`);
    }
}

/** The picture's data, saved beside the SVG so it can be drawn again. */
interface TimelineData { migration: MigrationSummary; probes: FlinkProbe[]; machine: string }

function drawTimeline(svg: string, d: TimelineData) {
    fs.writeFileSync(svg, renderTimeline(d.migration, d.probes, d.machine));
    console.log(`timeline of ${d.migration.id}: ${svg}`);
}

/**
 * A raw copy of the hop's archive from its source to its target, as the transfer makes it but with
 * no digests: seconds. The copy is removed again. The archive is read into the source's page cache
 * first, as it is when the hop's transfer reads it right after CRI-O wrote it (the retention step
 * drops it from the cache after the hop).
 */
function rawCopySeconds(lab: LocalLab, m: MigrationSummary): number {
    lab.sshOk(m.from as "master" | "worker", `cat ${m.sourceArchive} >/dev/null`);
    const key = fs.readFileSync(path.join(lab.state, "ssh", "id_ed25519"), "utf8");
    const out = lab.sshOk(m.to as "master" | "worker", [
        "set -euo pipefail; k=$(mktemp); trap 'rm -f \"$k\" /var/lib/live-migration-lab/checkpoints/floor.tar' EXIT; cat >\"$k\"",
        "s=$(date +%s%N)",
        `ssh -i "$k" -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -c aes128-gcm@openssh.com root@${lab.nodes[m.from as "master" | "worker"]} cat ${m.sourceArchive} >/var/lib/live-migration-lab/checkpoints/floor.tar`,
        "echo $(( ($(date +%s%N) - s) / 1000000 ))",
    ].join("; "), key + "\n");
    return Number(out.trim()) / 1000;
}

/** What a node holds that hops could leak: MB on disk, counts, and its daemons' memory. */
interface Usage { [what: string]: number }
const USAGE_PROBE = [
    "set -u; mb() { du -sm \"$1\" 2>/dev/null | cut -f1 | grep . || echo 0; }",
    "echo \"archives MB $(mb /var/lib/live-migration-lab/checkpoints)\"",
    "echo \"archives $(find /var/lib/live-migration-lab/checkpoints -maxdepth 1 -name '*.tar' 2>/dev/null | wc -l)\"",
    "echo \"kubelet checkpoints MB $(mb /var/lib/kubelet/checkpoints)\"",
    "echo \"kubelet checkpoints $(find /var/lib/kubelet/checkpoints -maxdepth 1 -name '*.tar' 2>/dev/null | wc -l)\"",
    "echo \"container storage MB $(mb /var/lib/containers/storage)\"",
    "echo \"images $(crictl images -q 2>/dev/null | sort -u | wc -l)\"",
    "echo \"pods $(crictl pods -q 2>/dev/null | wc -l)\"",
    "echo \"containers $(crictl ps -a -q 2>/dev/null | wc -l)\"",
    "for d in crio kubelet; do echo \"$d RSS MB $(ps -o rss= -C \"$d\" | awk '{ s += $1 } END { printf \"%d\", s / 1024 }')\"; done",
].join("\n");

function usage(lab: LocalLab): Record<string, Usage> {
    const out: Record<string, Usage> = {};
    for (const node of ["master", "worker"] as const) {
        out[node] = Object.fromEntries(lab.sshOk(node, USAGE_PROBE).trim().split("\n")
            .map(l => { const m = /^(.*) (\d+)$/.exec(l.trim())!; return [m[1], Number(m[2])]; }));
    }
    const mem = fs.readFileSync("/proc/meminfo", "utf8");
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(mem)?.[1] ?? 0);
    out.machine = { "MemAvailable MB": Math.round(kb("MemAvailable") / 1024), "page cache MB": Math.round(kb("Cached") / 1024) };
    return out;
}

function printUsage(before: Record<string, Usage>, after: Record<string, Usage>) {
    console.log("disk and memory".padEnd(40) + "before    after");
    for (const [where, b] of Object.entries(before)) {
        for (const [what, x] of Object.entries(b)) {
            console.log(`${`${where}: ${what}`.padEnd(40)}${String(x).padEnd(10)}${after[where]?.[what] ?? "?"}`);
        }
    }
}

function benchMigrate(runs: number, svg: string | undefined, soak = false) {
    const samples: Record<string, number[]> = {};
    const failures: string[] = [];
    let before: Record<string, Usage> | undefined;
    const lab = createLocalLab("10.231.96.0/24", { stack: "flink", workloadNode: "master" });
    const seen: FlinkProbe[] = [];
    try {
        time(samples, "pulumi up (whole lab)", () => lab.run.ok(["up", "--yes", "--stack", "lab"], lab.project));
        for (let i = 0; i < 120; i++) {
            const r = lab.ssh("master", flinkProbeScript({ namespace: "default", pod: "flink-minimal" }));
            if (r.status === 0 && JSON.parse(String(r.stdout)).records > 0) break;
            Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
        }
        let at: "master" | "worker" = "master";
        let pod = "flink-minimal";
        if (soak) before = usage(lab);
        let last: { m: MigrationSummary; probes: FlinkProbe[] } | undefined;
        for (let i = 0; i < runs; i++) {
            const id = `b${i + 1}`;
            const to: "master" | "worker" = at === "master" ? "worker" : "master";
            lab.run.ok(["config", "set", "--path", `live-migration-lab:migrations[${i}].id`, id, "--stack", "lab"], lab.project);
            lab.run.ok(["config", "set", "--path", `live-migration-lab:migrations[${i}].to`, to, "--stack", "lab"], lab.project);
            const sampler = startSampler(lab, [{ node: at, pod }, { node: to, pod: `flink-minimal-${id}` }], id);
            try {
                if (!soak) {
                    time(samples, "pulumi up (one hop)", () => lab.run.ok(["up", "--yes", "--stack", "lab"], lab.project));
                } else {
                    // A failed hop is counted; the next `up` completes it (or the soak stops there).
                    const t = performance.now();
                    const r = lab.run.pulumi(["up", "--yes", "--stack", "lab"], lab.project);
                    if (r.status !== 0) {
                        failures.push(`${id}: ${r.out.split("\n").filter(l => /error|failed/i.test(l)).slice(-3).join(" | ")}`);
                        console.log(`${id} FAILED; running up again to complete it`);
                        lab.run.ok(["up", "--yes", "--stack", "lab"], lab.project);
                    }
                    (samples["pulumi up (one hop)"] ??= []).push((performance.now() - t) / 1000);
                }
            } finally {
                const probes = sampler.stop();
                seen.push(...probes);
                const all = JSON.parse(lab.run.ok(["stack", "output", "migrations", "--json", "--stack", "lab"], lab.project)) as MigrationSummary[];
                const m = all[i];
                if (m) {
                    last = { m, probes };
                    for (const [k, v] of Object.entries(m.seconds)) (samples[k] ??= []).push(v ?? 0);
                    (samples["no progress"] ??= []).push(m.noProgressSeconds);
                    (samples["archive MB"] ??= []).push(m.sizeBytes / 1048576);
                    (samples["pod RSS MB"] ??= []).push(m.rssBytes / 1048576);
                    (samples["archive / RSS"] ??= []).push(m.sizeBytes / m.rssBytes);
                    const d = m.criu?.dump as Record<string, number> | undefined;
                    const r = m.criu?.restore as Record<string, number> | undefined;
                    if (d?.frozenMs !== undefined && r?.restoreMs !== undefined) {
                        const copy = rawCopySeconds(lab, m);
                        const floor = d.frozenMs / 1000 + copy + r.restoreMs / 1000;
                        (samples["floor: CRIU frozen"] ??= []).push(d.frozenMs / 1000);
                        (samples["floor: raw copy"] ??= []).push(copy);
                        (samples["floor: CRIU restore"] ??= []).push(r.restoreMs / 1000);
                        (samples["floor"] ??= []).push(floor);
                        (samples["no progress / floor"] ??= []).push(m.noProgressSeconds / floor);
                        console.log(`${id} ${m.from} -> ${m.to}: no progress ${m.noProgressSeconds.toFixed(3)} s, floor ${floor.toFixed(3)} s ` +
                            `(CRIU frozen ${(d.frozenMs / 1000).toFixed(3)} + copy ${copy.toFixed(3)} + CRIU restore ${(r.restoreMs / 1000).toFixed(3)}), ratio ${(m.noProgressSeconds / floor).toFixed(2)}`);
                    } else {
                        console.log(`${id}: no CRIU figures (${JSON.stringify(m.criu)}); no floor for this hop`);
                    }
                }
            }
            at = to;
            pod = `flink-minimal-${id}`;
        }
        if (before) {
            // The kubelet removes a deleted pod's sandbox and containers on its own schedule: the
            // last hop's source is compared once they are gone (or after two minutes).
            const t = performance.now();
            const pods = (node: "master" | "worker") => Number(lab.sshOk(node, "crictl pods -q | wc -l").trim());
            while ((pods("master") > before.master.pods || pods("worker") > before.worker.pods) && performance.now() - t < 120_000) {
                Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5000);
            }
            console.log(`after the last hop, the retired pod's sandbox was gone after ${((performance.now() - t) / 1000).toFixed(0)} s`);
            printUsage(before, usage(lab));
            console.log(`hops failed: ${failures.length} of ${runs}${failures.map(f => `\n  ${f}`).join("")}`);
        }
        const back = wentBack(seen);
        console.log(`job's count across ${seen.length} outside probes: ${back ? `WENT BACK: ${back}` : "never went back"}`);
        // Flink keeps its failover history in the JobManager, which moves with the job.
        const now = [...seen].reverse().find(p => p.pod === pod);
        if (back && now) console.log(flinkDiagnostics(lab, now));
        if (svg && last) {
            fs.mkdirSync(path.dirname(path.resolve(svg)), { recursive: true });
            const data: TimelineData = { migration: last.m, probes: last.probes, machine: machine() };
            // The data beside the picture: `npm run bench -- timeline FILE.json` draws it again.
            fs.writeFileSync(svg.replace(/\.svg$/, "") + ".json", JSON.stringify(data, null, 1) + "\n");
            drawTimeline(svg, data);
        }
    } finally {
        lab.destroy();
        lab.dispose();
    }
    report(samples);
}

function benchLab(runs: number) {
    const samples: Record<string, number[]> = {};
    const lab = time(samples, "lab network + stack", () => createLocalLab("10.231.98.0/24"));
    try {
        time(samples, "pulumi up (cold)", () => lab.run.ok(["up", "--yes", "--stack", "lab"], lab.project));
        time(samples, "pulumi up (no change)", () => lab.run.ok(["up", "--yes", "--stack", "lab"], lab.project));
        lab.copyWorkload();
        for (let i = 0; i < runs; i++) {
            const [from, to] = i % 2 === 0 ? (["master", "worker"] as const) : (["worker", "master"] as const);
            lab.sshOk(from, "bash /tmp/container.sh clean; bash /tmp/container.sh run; sleep 1");
            lab.sshOk(to, "bash /tmp/container.sh clean");
            time(samples, "runc checkpoint", () => lab.sshOk(from, "bash /tmp/container.sh checkpoint"));
            time(samples, "move image", () => lab.moveImage(from, to));
            time(samples, "runc restore", () => lab.sshOk(to, "bash /tmp/container.sh restore"));
            lab.sshOk(to, "bash /tmp/container.sh clean");
            lab.sshOk(from, "bash /tmp/container.sh clean");
        }
        time(samples, "pulumi destroy", () => lab.run.ok(["destroy", "--yes", "--stack", "lab"], lab.project));
    } finally {
        lab.destroy();
        lab.dispose();
    }
    report(samples);
}

const [which = "lab", ...rest] = process.argv.slice(2);
const option = (name: string) => (rest.includes(name) ? rest[rest.indexOf(name) + 1] : undefined);
const runs = Number(option("--runs") ?? (rest.includes("--soak") ? 20 : which === "migrate" ? 4 : 3)) || 3;
if (which === "lab") benchLab(runs);
else if (which === "migrate") benchMigrate(runs, option("--svg"), rest.includes("--soak"));
else if (which === "timeline" && rest[0]?.endsWith(".json")) {
    // Draws the picture again from the data a migrate run saved beside it.
    drawTimeline(rest[0].replace(/\.json$/, ".svg"), JSON.parse(fs.readFileSync(rest[0], "utf8")) as TimelineData);
}
else {
    console.error(`unknown benchmark "${which}"; available: lab, migrate, timeline FILE.json`);
    process.exit(2);
}
