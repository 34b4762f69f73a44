// A local lab stack driven through the real engine, shared by the end-to-end test and the
// benchmark: make the lab network, a project copy and a nodes-only stack; talk to nodes over SSH
// from inside the lab network namespace; tear everything down.
import { strict as assert } from "assert";
import { execFileSync, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { FIXTURES, projectCopy, pulumiRunner, requireEngine, ROOT } from "./engine-helpers";
import * as YAML from "yaml";
import { validateConfig } from "../../components/config/config";

export const LOCAL_NODE = path.join(ROOT, "scripts", "local-node.sh");
export const K8S_BUILD = path.join(ROOT, "scripts", "k8s-build.sh");
export const FLINK_BUILD = path.join(ROOT, "scripts", "flink-build.sh");
export const ROOTFS_BUILD = path.join(ROOT, "scripts", "rootfs-build.sh");

export type NodeName = "master" | "worker";

export interface LocalLab {
    readonly work: string;
    readonly state: string;
    readonly project: string;
    readonly netns: string;
    readonly nodes: Record<NodeName, string>;
    readonly run: ReturnType<typeof pulumiRunner>;
    ssh(node: NodeName, command: string, input?: string): ReturnType<typeof spawnSync>;
    sshOk(node: NodeName, command: string, input?: string): string;
    /** Copies the TCP workload fixture (tests/fixtures/tcp-workload) to both nodes. */
    copyWorkload(): void;
    /** Streams the workload's checkpoint image from one node to the other. */
    moveImage(from: NodeName, to: NodeName): void;
    /** pulumi destroy, then the lab network; leaves the scratch directory for `dispose`. */
    destroy(): void;
    dispose(): void;
}

/**
 * Network namespaces, mounts, processes that mention `marker`, and the lab's cgroups: what a lab
 * may leave behind.
 */
export function footprint(marker: string) {
    const netns = execFileSync("ip", ["netns", "list"], { encoding: "utf8" }).split("\n").filter(l => l.startsWith("lml")).map(l => l.split(" ")[0]).sort();
    const mounts = fs.readFileSync("/proc/mounts", "utf8").split("\n").filter(l => l.includes(marker));
    const procs = execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" }).split("\n").filter(l => l.includes(marker) && !l.includes("ps -eo"));
    const cgroups = fs.readdirSync("/sys/fs/cgroup").flatMap(h => {
        try {
            return fs.readdirSync(path.join("/sys/fs/cgroup", h)).filter(d => d.startsWith("lml")).map(d => `${h}/${d}`);
        } catch {
            return [];
        }
    }).sort();
    return { netns, mounts, procs, cgroups };
}

/** ssh options for the lab's key; host keys of freshly made nodes are not known ahead. */
export function sshArgs(state: string): string[] {
    return ["-i", path.join(state, "ssh", "id_ed25519"), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"];
}

export interface LocalLabOptions {
    /**
     * "nodes": the program with kubernetes.enabled false. "cluster": tests/fixtures/cluster-stack,
     * the program's nodes and Kubernetes (buildCluster) plus a TCP workload pod on `workloadNode`.
     * "flink": the whole program with Kubernetes, the Flink image and the flink-minimal pod.
     */
    readonly stack?: "nodes" | "cluster" | "flink";
    readonly workloadNode?: NodeName;
    /** With "flink": the stack's `workloads` too (their images' rootfs is built on this host first, as scripts/lab.sh up does). */
    readonly workloads?: readonly Record<string, unknown>[];
}

/** The local lab's Kubernetes binaries (scripts/k8s-build.sh, built once and cached); prints their directory. */
export function k8sBinaries(): string {
    const c = validateConfig({}, false);
    return execFileSync("bash", [K8S_BUILD, c.kubernetes.version, c.crio.version], { encoding: "utf8", timeout: 3_600_000, stdio: ["ignore", "pipe", "inherit"] }).trim();
}

/** The Flink image's inputs (scripts/flink-build.sh: Maven Central and Debian, cached); prints their directory. */
export function flinkInputs(): string {
    const c = validateConfig({}, false);
    return execFileSync("bash", [FLINK_BUILD, c.flink.version], { encoding: "utf8", timeout: 1_800_000, stdio: ["ignore", "pipe", "inherit"] }).trim();
}

/** The rootfs of each workload image (scripts/rootfs-build.sh --workload: Debian's mirror, cached). */
export function workloadInputs(workloads: readonly Record<string, unknown>[]): void {
    const lists = new Set(workloads.flatMap(w => (w.containers as { packages?: string[] }[]).map(c => (c.packages ?? []).join(" "))).filter(l => l));
    for (const l of lists) execFileSync("bash", [ROOTFS_BUILD, "--workload", ...l.split(" ")], { encoding: "utf8", timeout: 1_800_000, stdio: ["ignore", "pipe", "inherit"] });
}

/** Makes the lab network (and rootfs, cached) and a stack `lab`; nothing is up yet. */
export function createLocalLab(subnet: string, opts: LocalLabOptions = {}): LocalLab {
    if (process.getuid?.() !== 0) assert.fail("the local lab needs root (namespaces, mounts, veth); CI runs as root");
    requireEngine();
    const cluster = opts.stack === "cluster" || opts.stack === "flink";
    // Built in the host's network namespace, where the Go module proxy is reachable; kubectl from
    // there is what the engine's kubernetes provider runs.
    const bins = cluster ? k8sBinaries() : undefined;
    if (opts.stack === "flink") flinkInputs();
    if (opts.workloads) workloadInputs(opts.workloads);
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "lml-local-"));
    const state = path.join(work, "lab-state");
    const base = subnet.split("/")[0].split(".").slice(0, 3).join(".");
    const nodes = { master: `${base}.10`, worker: `${base}.11` };
    const netns = execFileSync("bash", [LOCAL_NODE, "lab-up", subnet, state], { encoding: "utf8", timeout: 600_000 }).trim();
    const run = pulumiRunner(work, netns, bins ? { PATH: `${bins}:${process.env.PATH}` } : {});
    const copy = projectCopy(work);
    const project = opts.stack === "cluster" ? path.join(copy, "tests", "fixtures", "cluster-stack") : copy;
    run.ok(["stack", "init", "lab"], project);
    const settings = [["driver", "local"], ["local.stateDir", state], ["local.subnet", subnet], ["kubernetes.enabled", String(cluster)]];
    for (const [k, v] of settings) {
        run.ok(["config", "set", "--path", `live-migration-lab:${k}`, v, ...(k === "kubernetes.enabled" ? ["--type", "bool"] : []), "--stack", "lab"], project);
    }
    if (opts.stack === "cluster") run.ok(["config", "set", "node", opts.workloadNode ?? "worker", "--stack", "lab"], project);
    if (opts.stack === "flink") run.ok(["config", "set", "--path", "live-migration-lab:flink.node", opts.workloadNode ?? "worker", "--stack", "lab"], project);
    if (opts.workloads) {
        // Structured as the user writes it, in the stack file (the CLI sets one scalar at a time).
        const file = path.join(project, "Pulumi.lab.yaml");
        const doc = YAML.parse(fs.readFileSync(file, "utf8"));
        doc.config["live-migration-lab:workloads"] = opts.workloads;
        // Multi-line strings as literal blocks (`|`), as the example writes them: the engine rewrites
        // the stack file on `config set`, and changed the blank lines of a folded block (`>`) each
        // time, a new command for the restored pod.
        fs.writeFileSync(file, YAML.stringify(doc, { blockQuote: "literal", lineWidth: 0 }));
    }
    const inLab = (argv: string[], input?: string) =>
        spawnSync("nsenter", [`--net=/run/netns/${netns}`, "--", ...argv], { input, encoding: "utf8", timeout: 120_000 });
    const lab: LocalLab = {
        work, state, project, netns, nodes, run,
        ssh: (node, command, input) => inLab(["ssh", ...sshArgs(state), `root@${nodes[node]}`, command], input),
        sshOk: (node, command, input) => {
            const r = lab.ssh(node, command, input);
            assert.equal(r.status, 0, `on ${node}: ${command}\n${r.stdout}${r.stderr}`);
            return String(r.stdout);
        },
        copyWorkload: () => {
            const fixture = path.join(FIXTURES, "tcp-workload");
            for (const node of ["master", "worker"] as const) {
                lab.sshOk(node, "cat > /tmp/tcp-counter.py", fs.readFileSync(path.join(fixture, "tcp-counter.py"), "utf8"));
                lab.sshOk(node, "cat > /tmp/container.sh", fs.readFileSync(path.join(fixture, "container.sh"), "utf8"));
            }
        },
        moveImage: (from, to) => {
            const ssh = `ssh ${sshArgs(state).join(" ")}`;
            const r = inLab(["bash", "-c", `${ssh} root@${nodes[from]} 'tar -C /var/lib/lab-workload -cf - img' | ${ssh} root@${nodes[to]} 'mkdir -p /var/lib/lab-workload && tar -C /var/lib/lab-workload -xf -'`]);
            assert.equal(r.status, 0, String(r.stderr));
        },
        destroy: () => {
            run.pulumi(["destroy", "--yes", "--stack", "lab"], project);
            spawnSync("bash", [LOCAL_NODE, "lab-down", state]);
        },
        dispose: () => fs.rmSync(work, { recursive: true, force: true }),
    };
    return lab;
}

/** A background sampler: `stop()` ends it and returns every JSON line its rounds printed, oldest first. */
export interface BackgroundSampler<T> { stop(): T[] }

/**
 * Runs each of `rounds` (a node program on a node) over SSH in turn, every `pauseSeconds`, in the
 * background (a separate process: pulumi runs synchronously), until stopped; a round that fails or
 * prints no JSON is skipped. Returns the JSON lines sorted by their `at`.
 */
export function sampleInBackground<T extends { at: number }>(lab: LocalLab, rounds: readonly { node: NodeName; script: string }[], name: string, pauseSeconds: number): BackgroundSampler<T> {
    const dir = fs.mkdtempSync(path.join(lab.work, `${name}-`));
    const out = path.join(dir, "samples.jsonl");
    const ssh = `ssh ${sshArgs(lab.state).join(" ")}`;
    const lines = rounds.map(({ node, script }, i) => {
        fs.writeFileSync(path.join(dir, `round-${i}.sh`), script);
        return `${ssh} root@${lab.nodes[node]} bash -s <${dir}/round-${i}.sh 2>/dev/null | tail -n1 >>${out}`;
    });
    const child = spawn("nsenter", [`--net=/run/netns/${lab.netns}`, "--", "bash", "-c", `while [ ! -e ${dir}/stop ]; do ${lines.join("; ")}; sleep ${pauseSeconds}; done; touch ${dir}/stopped`], { stdio: "ignore", detached: true });
    return {
        stop() {
            fs.writeFileSync(path.join(dir, "stop"), "");
            // Node's event loop is blocked by the synchronous calls around, so poll a file, not the child.
            for (let i = 0; i < 300 && !fs.existsSync(path.join(dir, "stopped")); i++) spawnSync("sleep", ["0.1"]);
            try { process.kill(-child.pid!, "SIGKILL"); } catch { /* ended */ }
            const got = fs.existsSync(out) ? fs.readFileSync(out, "utf8").split("\n").filter(l => l.startsWith("{")) : [];
            return got.map(l => JSON.parse(l) as T).sort((a, b) => a.at - b.at);
        },
    };
}
