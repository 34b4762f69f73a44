// Stack config -> LabConfig. Pulumi's requireObject parses but does not check, so the whole
// namespace is validated here (ajv for shape, then the rules that relate keys to each other)
// before index.ts declares a single resource. Every problem is reported at once, one line each,
// naming the config path, what was given and what is allowed.
import Ajv, { ErrorObject } from "ajv";
import * as os from "os";
import { posix } from "path";
import { CONFIG_NAMESPACE, configSchema } from "./schema";
import { checkCriuOptions, dumpsTcpConnections } from "../node/criu";
import type { ConfigProblem } from "./problem";
import { checkCrioSettings, CRIO_VERSIONS } from "../node/crio";
import { MigrationPlan, planMigrations, WorkloadStart } from "../migration/plan";
import { overlaps, POD_SUBNET, SERVICE_SUBNET, VAGRANT_LIBVIRT_MANAGEMENT } from "../cluster/networks";
import { flinkPodMemoryMb } from "../flink/flink";
import { FLINK_WORKLOAD } from "./types";
import type { FlinkSpec, LabConfig, RestoreMode, WorkloadSpec } from "./types";
export * from "./types";

/** CRI-O minors the local lab can build (scripts/k8s-build.sh: crio_release). */
export const LOCAL_CRIO_VERSIONS: readonly string[] = ["1.34"];

/** Flink minor versions the pod manifest and config renderer support. */
export const FLINK_VERSIONS = ["1.19", "1.20", "2.0", "2.1", "2.2", "2.3"];

/** Memory a vagrant VM keeps for its system, CRI-O and the kubelet: not for pods. */
export const VAGRANT_SYSTEM_MB = 1024;

/** The oldest Kubernetes minor with the kubelet checkpoint API (alpha in 1.25). */
export const KUBERNETES_MIN_MINOR = 25;
/**
 * The Kubernetes minors in support (December 2026: 1.37, 1.36, 1.35; 1.34 left in October 2026), with
 * the release of each that the local lab builds (the Go module proxy serves k8s.io/kubernetes v1.35.4,
 * v1.36.3 and v1.37.2). The default is the newest.
 */
export const KUBERNETES_SUPPORTED: Readonly<Record<string, string>> = { "1.37": "1.37.2", "1.36": "1.36.3", "1.35": "1.35.4" };

export class ConfigError extends Error {
    constructor(readonly problems: readonly ConfigProblem[]) {
        super(
            `stack config has ${problems.length} problem${problems.length === 1 ? "" : "s"}; nothing was changed:\n` +
            problems.map(p => `  ${p.path}: ${p.message}`).join("\n"),
        );
        this.name = "ConfigError";
    }
}

const key = (path: string) => `${CONFIG_NAMESPACE}:${path}`;

/**
 * Turns Pulumi's flat config map ("live-migration-lab:nodes" -> JSON text) into one object.
 * Keys of other namespaces (aws:region, ...) are not ours and are left alone.
 */
export function rawConfigFrom(all: Record<string, string>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(all)) {
        if (!k.startsWith(`${CONFIG_NAMESPACE}:`)) continue;
        const name = k.slice(CONFIG_NAMESPACE.length + 1);
        let value: unknown = v;
        if (/^\s*[[{]/.test(v)) {
            try {
                value = JSON.parse(v);
            } catch {
                value = v; // left as text; the schema reports the type
            }
        }
        out[name] = value;
    }
    return out;
}

/** `/nodes/1/role` -> `nodes[1].role` */
function configPath(instancePath: string, child?: string): string {
    const parts = instancePath.split("/").slice(1).map(p => p.replace(/~1/g, "/").replace(/~0/g, "~"));
    if (child !== undefined) parts.push(child);
    return key(parts.map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`)).join(""));
}

const shown = (path: string, value: unknown) => (path.endsWith(":sshPrivateKey") ? "a value (not shown)" : JSON.stringify(value));

function describeAjvError(e: ErrorObject): ConfigProblem {
    const path = configPath(e.instancePath);
    const got = `got ${shown(path, e.data)}`;
    const p = e.params as Record<string, unknown>;
    switch (e.keyword) {
        case "enum":
            return { path, message: `${got}; allowed: ${(p.allowedValues as unknown[]).map(v => JSON.stringify(v)).join(", ")}` };
        case "type": {
            // YAML reads an unquoted 1.30 as the number 1.3.
            const quote = p.type === "string" && typeof e.data === "number" ? `; YAML read an unquoted value as the number ${e.data}: quote it in the stack's YAML (version: "1.30", not version: 1.30, which is 1.3)` : "";
            return { path, message: `${got}; expected ${p.type}${quote}` };
        }
        case "pattern": {
            const description = (e.parentSchema as { description?: string } | undefined)?.description;
            return { path, message: `${got}; expected ${description ?? `a string matching ${p.pattern}`}` };
        }
        case "additionalProperties": {
            const names = Object.keys((e.parentSchema as { properties: object }).properties);
            const extra = String(p.additionalProperty);
            // `pulumi config set ns:archive.dir X` without --path makes a key named "archive.dir".
            const dotted = extra.includes(".") && names.includes(extra.split(".")[0])
                ? `; for the nested key use --path: pulumi config set --path ${configPath(e.instancePath, extra)} VALUE` : "";
            return { path: configPath(e.instancePath, extra), message: `unknown key; allowed here: ${names.join(", ")}${dotted}` };
        }
        case "required":
            return { path: configPath(e.instancePath, String(p.missingProperty)), message: "missing; this key is required" };
        case "minimum":
        case "maximum": {
            const s = e.parentSchema as { minimum?: number; maximum?: number };
            return { path, message: `${got}; allowed: ${s.minimum ?? "-inf"} to ${s.maximum ?? "+inf"}` };
        }
        case "minItems":
            return { path, message: `has ${(e.data as unknown[]).length} entries; needs at least ${p.limit}` };
        default:
            return { path, message: `${got}; ${e.message}` };
    }
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, verbose: true, strict: true });
const validateShape = ajv.compile(configSchema);

function isPrivateSubnet(subnet: string): boolean {
    const o = subnet.split("/")[0].split(".").map(Number);
    if (o.some(n => n > 255)) return false;
    return o[0] === 10 || (o[0] === 172 && o[1] >= 16 && o[1] <= 31) || (o[0] === 192 && o[1] === 168);
}

const minor = (version: string) => version.split(".").slice(0, 2).join(".");

/** Directories of the system and of the software around the lab: a lab directory is none of these. */
const SYSTEM_DIRECTORIES = ["/", "/home", "/media", "/mnt", "/opt", "/root", "/srv", "/tmp", "/var", "/var/lib", "/var/cache", "/var/local", "/var/mail", "/var/opt", "/var/spool", "/var/tmp"];
/** ... nor lies inside these. */
const SYSTEM_TREES = ["/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/run", "/sbin", "/sys", "/usr", "/var/lib/cni", "/var/lib/containers", "/var/lib/etcd", "/var/lib/kubelet", "/var/lock", "/var/log", "/var/run"];

/**
 * A directory the program creates, makes root-only and deletes again (archive.dir, local.stateDir)
 * must be one of its own: not a system directory, not inside one, not someone's home. The node
 * check refuses one that exists already with files the program did not write (private-dir.sh).
 */
export function checkOwnDirectory(dir: string, at: string, fallback: string): ConfigProblem[] {
    if (!dir.startsWith("/")) return []; // the schema reports it
    const instead = `use the default "${fallback}", or another path that does not exist yet`;
    if (posix.normalize(dir) !== dir || (dir.length > 1 && dir.endsWith("/"))) {
        return [{ path: at, message: `got "${dir}"; write it without ".", ".." or a trailing "/": "${posix.normalize(dir).replace(/(.)\/$/, "$1")}"` }];
    }
    const tree = SYSTEM_TREES.find(t => dir === t || dir.startsWith(`${t}/`));
    const why = SYSTEM_DIRECTORIES.includes(dir) ? "a system directory"
        : tree ? (tree === dir ? "a system directory" : tree.startsWith("/var/lib/") ? `inside ${tree}, which ${tree.slice("/var/lib/".length)} owns` : `inside ${tree}, a system directory`)
            : /^\/home\/[^/]+$/.test(dir) ? "someone's home directory" : undefined;
    if (!why) return [];
    return [{ path: at, message: `got "${dir}", ${why}; the program makes this directory root-only and deletes it on destroy, so it must be one of its own: ${instead}` }];
}

/**
 * Validates the raw config object (see rawConfigFrom). `sshKeyIsSecret` tells whether the
 * sshPrivateKey config value is stored as a Pulumi secret. Throws ConfigError listing every problem.
 */
export function validateConfig(raw: Record<string, unknown>, sshKeyIsSecret: boolean, hostMemoryMb = Math.floor(os.totalmem() / 2 ** 20)): LabConfig {
    const data = structuredClone(raw) as Record<string, unknown>;
    const problems: ConfigProblem[] = [];
    if (!validateShape(data)) {
        problems.push(...(validateShape.errors ?? []).map(describeAjvError));
    }
    // Cross-key rules. The shape may be wrong in places; each rule checks what it relies on.
    const c = data as unknown as Omit<LabConfig, "sshPrivateKey" | "flink" | "plan" | "workloads"> & {
        sshPrivateKey?: string; flink: { -readonly [K in keyof FlinkSpec]?: FlinkSpec[K] }; workloads?: Partial<Mutable<WorkloadSpec>>[];
    };
    const nodes = Array.isArray(c.nodes) ? c.nodes.filter(n => n && typeof n.name === "string") : [];
    const names = new Set<string>();
    nodes.forEach((n, i) => {
        if (names.has(n.name)) {
            const first = nodes.findIndex(m => m.name === n.name);
            problems.push({ path: key(`nodes[${i}].name`), message: `got "${n.name}", already used by nodes[${first}]; node names must be unique` });
        }
        names.add(n.name);
        if (c.driver === "existing" && !n.address) {
            problems.push({ path: key(`nodes[${i}].address`), message: `missing; driver "existing" needs the address (IP or DNS name) of every host` });
        }
        if (c.driver !== "existing" && n.address) {
            problems.push({ path: key(`nodes[${i}].address`), message: `got "${n.address}"; driver "${c.driver}" assigns addresses itself (from ${c.driver}.subnet); remove it` });
        }
    });
    if (Array.isArray(c.nodes)) {
        const masters = nodes.filter(n => n.role === "master").length;
        if (masters !== 1) problems.push({ path: key("nodes"), message: `has ${masters} nodes with role "master"; exactly one is allowed` });
        if (!nodes.some(n => n.role === "worker")) problems.push({ path: key("nodes"), message: `has no node with role "worker"; at least one is needed` });
    }

    const hasKey = typeof c.sshPrivateKey === "string" && c.sshPrivateKey.length > 0;
    if (c.driver === "existing" && !hasKey) {
        problems.push({
            path: key("sshPrivateKey"),
            message: `missing; driver "existing" needs the private key for its hosts: pulumi config set --secret ${key("sshPrivateKey")} < ~/.ssh/id_ed25519`,
        });
    }
    if (hasKey && !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(c.sshPrivateKey!)) {
        problems.push({ path: key("sshPrivateKey"), message: "got a value (not shown) that is not a PEM or OpenSSH private key (no BEGIN ... PRIVATE KEY line)" });
    }

    // The packages bring systemd units and pull from registries; the other ways need what is on the hosts.
    const existing = c.existing ?? ({} as LabConfig["existing"]);
    if (existing.install === "packages") {
        if (existing.services === "supervised") problems.push({ path: key("existing.services"), message: `got "supervised" with existing.install "packages"; the packages run CRI-O and the kubelet under systemd; use services "systemd", or install "present" for hosts without systemd` });
        if (existing.images === "build") problems.push({ path: key("existing.images"), message: `got "build" with existing.install "packages"; images are built from binaries already on the hosts; use images "pull", or install "present"` });
    }
    const existingDefaults = configSchema.properties.existing.properties;
    if (c.driver !== "existing" && (Object.keys(existingDefaults) as (keyof typeof existingDefaults)[]).some(k => existing[k] !== undefined && existing[k] !== existingDefaults[k].default)) {
        problems.push({ path: key("existing"), message: `set with driver "${c.driver}"; it only applies to driver "existing": remove it` });
    }

    for (const d of ["local", "vagrant"] as const) {
        const subnet = c[d]?.subnet;
        if (typeof subnet !== "string" || !/^\d+\.\d+\.\d+\.0\/24$/.test(subnet)) continue;
        if (!isPrivateSubnet(subnet)) {
            problems.push({ path: key(`${d}.subnet`), message: `got "${subnet}"; allowed: a /24 inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16` });
            continue;
        }
        // The lab's own networks: nodes there would be unreachable or shadow pods and services.
        const taken = [
            { cidr: POD_SUBNET, what: "the cluster's pod network" },
            { cidr: SERVICE_SUBNET, what: "the cluster's service network" },
            ...(d === "vagrant" ? [{ cidr: VAGRANT_LIBVIRT_MANAGEMENT, what: "vagrant-libvirt's management network" }] : []),
        ];
        for (const t of taken.filter(t => overlaps(subnet, t.cidr))) {
            problems.push({ path: key(`${d}.subnet`), message: `got "${subnet}", inside ${t.what} ${t.cidr}; use another private /24, such as the default "${configSchema.properties[d].properties.subnet.default}"` });
        }
    }

    // Directories the program makes its own: root-only, emptied and deleted on destroy.
    const archiveDir = (c.archive as { dir?: unknown } | undefined)?.dir;
    if (typeof archiveDir === "string") problems.push(...checkOwnDirectory(archiveDir, key("archive.dir"), configSchema.properties.archive.properties.dir.default));
    const stateDir = (c.local as { stateDir?: unknown } | undefined)?.stateDir;
    if (typeof stateDir === "string") problems.push(...checkOwnDirectory(stateDir, key("local.stateDir"), configSchema.properties.local.properties.stateDir.default));

    const crio = c.crio ?? ({} as LabConfig["crio"]);
    const k8s = c.kubernetes ?? ({} as LabConfig["kubernetes"]);
    const warnings: string[] = [];
    // CRI-O follows Kubernetes' minor, except on the local lab, which can build only CRI-O 1.34.0
    // (the Go module proxy answers 403 for later tags); its CRI (v1) serves the kubelets of 1.35-1.37.
    const localCrio = LOCAL_CRIO_VERSIONS[LOCAL_CRIO_VERSIONS.length - 1];
    if (crio && typeof crio === "object" && crio.version === undefined && typeof k8s.version === "string") {
        (crio as { version?: string }).version = c.driver === "local" ? localCrio : minor(k8s.version);
    }
    const skewOk = c.driver === "local" && crio.version === localCrio;
    const crioKnown = typeof crio.version === "string" && CRIO_VERSIONS.includes(crio.version);
    if (typeof crio.version === "string" && /^1\.\d+$/.test(crio.version) && !crioKnown) {
        problems.push({ path: key("crio.version"), message: `got "${crio.version}"; allowed: ${CRIO_VERSIONS.map(v => `"${v}"`).join(", ")}` });
    }
    if (typeof k8s.version === "string" && /^1\.\d+\.\d+$/.test(k8s.version)) {
        const kMinor = Number(k8s.version.split(".")[1]);
        if (kMinor < KUBERNETES_MIN_MINOR) {
            problems.push({ path: key("kubernetes.version"), message: `got "${k8s.version}"; the kubelet checkpoint API needs 1.${KUBERNETES_MIN_MINOR}.0 or newer` });
        } else if (crioKnown && minor(k8s.version) !== crio.version && !(skewOk && KUBERNETES_SUPPORTED[minor(k8s.version)])) {
            const other = CRIO_VERSIONS.includes(minor(k8s.version)) && !skewOk ? ` or crio.version "${minor(k8s.version)}"` : ` (there is no CRI-O ${minor(k8s.version)}; CRI-O releases known here: ${CRIO_VERSIONS.join(", ")})`;
            const local = skewOk ? `; the local lab also runs its CRI-O ${localCrio} under the supported Kubernetes releases ${Object.values(KUBERNETES_SUPPORTED).join(", ")}` : "";
            problems.push({ path: key("kubernetes.version"), message: `got "${k8s.version}" with crio.version "${crio.version}"; CRI-O follows Kubernetes minor versions: use kubernetes ${crio.version}.x${other}${local}` });
        }
        if (k8s.enabled !== false && kMinor >= KUBERNETES_MIN_MINOR && !KUBERNETES_SUPPORTED[minor(k8s.version)]) {
            warnings.push(`${key("kubernetes.version")} is "${k8s.version}", a Kubernetes minor out of support (supported: ${Object.keys(KUBERNETES_SUPPORTED).join(", ")}); use "${configSchema.properties.kubernetes.properties.version.default}", the default`);
        }
        if (k8s.enabled !== false && skewOk && minor(k8s.version) !== crio.version) {
            warnings.push(`CRI-O ${crio.version} runs Kubernetes ${k8s.version} on the local lab: CRI-O follows Kubernetes' minor, but the Go module proxy serves only CRI-O v1.34.0 to build (the kubelet speaks CRI v1 to it)`);
        }
    }
    if (c.driver === "local" && k8s.enabled !== false && crioKnown && !LOCAL_CRIO_VERSIONS.includes(crio.version)) {
        problems.push({ path: key("crio.version"), message: `got "${crio.version}" with driver local; the local lab builds CRI-O from the Go module proxy, which serves ${LOCAL_CRIO_VERSIONS.map(v => `"${v}"`).join(", ")} (scripts/k8s-build.sh); other versions need driver vagrant or existing` });
    }
    if (crioKnown) {
        if (crio.settings && typeof crio.settings === "object") problems.push(...checkCrioSettings(crio.settings, crio.version, key("crio.settings")));
    }
    if (c.criu && Array.isArray(c.criu.dump) && Array.isArray(c.criu.restore)) {
        problems.push(...checkCriuOptions(c.criu, key("criu")));
    }

    // Settings under which every requested migration fails: refused here, not only by the policy pack.
    const requested = Array.isArray(c.migrations) ? c.migrations.filter(m => m && typeof m.id === "string").map(m => m.id) : [];
    if (requested.length > 0) {
        const during = `while migrations ${requested.join(", ")} are requested`;
        if (crio.checkpointRestore === "none" || crio.checkpointRestore === "checkpoint_only") {
            problems.push({ path: key("crio.checkpointRestore"), message: `got "${crio.checkpointRestore}" ${during}; a migration checkpoints on its source and restores on its target: use "checkpoint_restore" (the default)` });
        }
        if (c.criu && Array.isArray(c.criu.dump) && Array.isArray(c.criu.restore) && !dumpsTcpConnections(c.criu)) {
            problems.push({ path: key("criu.dump"), message: `has neither "tcp-established" nor "tcp-close" ${during}; the Flink pod holds TCP connections and CRIU refuses to dump them ("Connected TCP socket, consider using --tcp-established option"): add "tcp-established" to criu.dump and criu.restore (the default), or "tcp-close" to close them` });
        }
    }

    const flink = c.flink ?? {};
    if (typeof flink.version === "string" && /^\d+\.\d+\.\d+$/.test(flink.version) && !FLINK_VERSIONS.includes(minor(flink.version))) {
        problems.push({ path: key("flink.version"), message: `got "${flink.version}"; allowed: a release of Flink ${FLINK_VERSIONS.join(", ")}` });
    }
    if (Array.isArray(flink.args)) {
        flink.args.forEach((a, i) => {
            // Flink's ParameterTool takes -input as --input.
            if (/^--?input(=|$)/.test(a)) {
                problems.push({ path: key(`flink.args[${i}]`), message: `got "${a}"; a job reading an input file is bounded and finishes before anything can migrate; leave the built-in generator on` });
            }
        });
    }
    const firstWorker = nodes.find(n => n.role === "worker")?.name;
    if (flink.node === undefined && firstWorker) flink.node = firstWorker;
    if (typeof flink.node === "string" && names.size > 0 && !names.has(flink.node)) {
        problems.push({ path: key("flink.node"), message: `got "${flink.node}"; allowed: ${[...names].map(n => `"${n}"`).join(", ")}` });
    }
    if (flink.image === undefined && typeof flink.version === "string") {
        // The local lab builds its image with buildah; clusters with a registry use the official one.
        flink.image = c.driver === "local" || existing.images === "build" ? `localhost/flink-minimal:${flink.version}` : `flink:${flink.version}-java17`;
    }

    // Only the local lab's nodes run the CRI proxy that hands CRI-O an archive path (cri-proxy/).
    const archive = (c.archive ?? {}) as { restore?: RestoreMode };
    if (archive.restore === "direct" && (c.driver === "vagrant" || c.driver === "existing")) {
        problems.push({ path: key("archive.restore"), message: `got "direct" with driver ${c.driver}; only the local lab's nodes run the CRI proxy that restores straight from an archive; use "image" (a checkpoint image built with buildah on the target)` });
    }
    if (archive.restore === undefined && c.archive) archive.restore = c.driver === "local" ? "direct" : "image";

    const workloads = Array.isArray(c.workloads) ? c.workloads : [];
    problems.push(...checkWorkloads(workloads, { driver: c.driver, builds: c.driver === "local" || (c.driver === "existing" && existing.images === "build"), restore: archive.restore ?? "direct", names, firstWorker }));
    const starts: WorkloadStart[] = [
        ...(flink.enabled !== false ? [{ name: FLINK_WORKLOAD, node: typeof flink.node === "string" && names.has(flink.node) ? flink.node : undefined, nodePath: "flink.node" }] : []),
        ...workloads.filter(w => typeof w?.name === "string").map(w => ({
            name: w.name!, node: typeof w.node === "string" && names.has(w.node) ? w.node : undefined, nodePath: `workloads[${workloads.indexOf(w)}].node`,
        })),
    ];

    let plan: MigrationPlan | undefined;
    if (Array.isArray(c.migrations) && names.size > 0) {
        plan = planMigrations(starts, c.migrations, [...names]);
        problems.push(...plan.problems);
        if (plan.problems.length === 0) {
            problems.push(...checkMemory(plan, starts, podMemoryMb(flink, workloads), c.driver === "local" ? hostMemoryMb : c.driver === "vagrant" ? (c.vagrant?.memoryMb ?? 0) - VAGRANT_SYSTEM_MB : undefined, c.driver === "local"));
        }
    }

    if (k8s.enabled === false && Array.isArray(c.migrations) && c.migrations.length > 0) {
        problems.push({ path: key("migrations"), message: `has ${c.migrations.length} entries while kubernetes.enabled is false; migrations move pods, which needs Kubernetes` });
    }
    if (k8s.enabled === false && workloads.length > 0) {
        problems.push({ path: key("workloads"), message: `has ${workloads.length} entries while kubernetes.enabled is false; workloads are pods, which need Kubernetes: set kubernetes.enabled to true or remove them` });
    }

    if (problems.length > 0) throw new ConfigError(problems);
    return { ...c, plan, warnings, sshPrivateKey: hasKey ? (sshKeyIsSecret ? "secret" : "plain") : "absent" } as LabConfig;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Memory limit of each workload's pod, in MB (the Flink pod's as its manifest sets it; 0 where the schema refused a size). */
function podMemoryMb(flink: Partial<FlinkSpec>, workloads: readonly Partial<WorkloadSpec>[]): Map<string, number> {
    const sized = typeof flink.jobManagerMemory === "string" && typeof flink.taskManagerMemory === "string";
    const out = new Map<string, number>([[FLINK_WORKLOAD, sized ? flinkPodMemoryMb(flink as FlinkSpec) : 0]]);
    for (const w of workloads) {
        if (typeof w?.name === "string" && Array.isArray(w.containers)) out.set(w.name, w.containers.reduce((sum, x) => sum + (typeof x?.memoryMb === "number" ? x.memoryMb : 0), 0));
    }
    return out;
}

/**
 * The workloads' pods must fit where they run: where they start, and on each hop's target, where
 * the restored pod is made beside what runs there while the source's pod still exists. `capacityMb`:
 * what pods may take on a node (undefined: not known, as on existing hosts); `sharedHost`: the
 * nodes share one machine's memory (the local lab).
 */
export function checkMemory(plan: MigrationPlan, starts: readonly WorkloadStart[], memory: ReadonlyMap<string, number>, capacityMb: number | undefined, sharedHost: boolean): ConfigProblem[] {
    if (capacityMb === undefined) return [];
    const pool = (node: string) => (sharedHost ? "" : node);
    const where = (node: string) => (sharedHost ? "this machine, which all the local lab's nodes share," : `node ${node}, which`);
    const problems: ConfigProblem[] = [];
    const running = new Map<string, string>(); // workload -> node
    const load = (node: string) => [...running].filter(([, n]) => pool(n) === pool(node)).reduce((sum, [w]) => sum + (memory.get(w) ?? 0), 0);
    for (const s of starts) {
        if (s.node === undefined) continue;
        const need = memory.get(s.name) ?? 0;
        const used = load(s.node);
        if (used + need > capacityMb) {
            problems.push({ path: key(s.nodePath.replace(/\.node$/, "")), message: `needs ${need} MB for its pod on ${s.node}, but ${where(s.node)} has ${capacityMb} MB for pods and ${used} MB of it go to the workloads before it: lower its memory or start it on another node` });
        }
        running.set(s.name, s.node);
    }
    for (const hop of plan.hops) {
        const need = memory.get(hop.workload) ?? 0;
        const used = load(hop.to);
        if (used + need > capacityMb) {
            problems.push({ path: key(`migrations[${hop.index}].to`), message: `got "${hop.to}": workload ${hop.workload}'s restored pod needs ${need} MB beside the ${used} MB running there while the hop runs, but ${where(hop.to)} has ${capacityMb} MB for pods; move another workload away first` });
        }
        running.set(hop.workload, hop.to);
    }
    return problems;
}

interface WorkloadFacts {
    readonly driver: unknown;
    /** Whether the nodes build images (the local lab; existing hosts with existing.images "build"): then from `packages`. */
    readonly builds: boolean;
    /** archive.restore as the config gives it, or the driver's default. */
    readonly restore: RestoreMode;
    readonly names: ReadonlySet<string>;
    readonly firstWorker: string | undefined;
}

/**
 * The workloads the stack brings: unique names clear of the Flink job's, a node that exists, unique
 * container names, a probe container that is one of them, and images the driver can get. Fills in
 * defaults (node: the first worker; probe.container: the first container). Shape errors (a missing
 * image, a probe without a command) come from the schema.
 */
export function checkWorkloads(workloads: Partial<Mutable<WorkloadSpec>>[], f: WorkloadFacts): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    const seen = new Map<string, number>();
    const images = new Map<string, { packages: string; at: string }>();
    workloads.forEach((w, i) => {
        if (!w || typeof w !== "object") return;
        const at = (p: string) => key(`workloads[${i}]${p}`);
        if (typeof w.name === "string") {
            if (w.name === FLINK_WORKLOAD || w.name.startsWith("flink-minimal")) {
                problems.push({ path: at(".name"), message: `got "${w.name}", which the built-in Flink job's workload and pods use; choose another name` });
            } else if (seen.has(w.name)) {
                problems.push({ path: at(".name"), message: `got "${w.name}", already used by workloads[${seen.get(w.name)}]; workload names must be unique` });
            } else {
                // A hop's pods are NAME-<id>, and the source keeps its checkpoints by NAME*: one name
                // followed by "-" must not start another.
                const other = [...seen.keys()].find(n => w.name!.startsWith(`${n}-`) || n.startsWith(`${w.name}-`));
                if (other !== undefined) {
                    problems.push({ path: at(".name"), message: `got "${w.name}", which with "${other}" (workloads[${seen.get(other)}]) would share pod names (a hop's pod is NAME-<id>); choose names where neither is the other's start followed by "-"` });
                }
            }
            seen.set(w.name, i);
        }
        if (w.node === undefined && f.firstWorker) w.node = f.firstWorker;
        if (typeof w.node === "string" && f.names.size > 0 && !f.names.has(w.node)) {
            problems.push({ path: at(".node"), message: `got "${w.node}"; allowed: ${[...f.names].map(n => `"${n}"`).join(", ")}` });
        }
        const containers = Array.isArray(w.containers) ? w.containers.filter(x => x && typeof x.name === "string") : [];
        const cnames = new Map<string, number>();
        containers.forEach((x, j) => {
            if (cnames.has(x.name)) problems.push({ path: at(`.containers[${j}].name`), message: `got "${x.name}", already used by containers[${cnames.get(x.name)}]; container names must be unique in a pod` });
            cnames.set(x.name, j);
            const packages = Array.isArray(x.packages) ? x.packages : [];
            if (typeof x.image !== "string") return;
            // One image, one package list: the nodes build each image once.
            const list = [...new Set(packages)].sort().join(" ");
            const had = images.get(x.image);
            if (had && had.packages !== list) {
                problems.push({ path: at(`.containers[${j}].packages`), message: `got [${list}] for image "${x.image}", which ${had.at} builds from [${had.packages}]; give each package list its own image name` });
            } else if (!had) images.set(x.image, { packages: list, at: `workloads[${i}].containers[${j}]` });
            if (f.driver === "local" && packages.length === 0) {
                problems.push({ path: at(`.containers[${j}].packages`), message: `missing with driver local: the local lab has no registry, so it builds "${x.image}" on its nodes from Debian packages: list them, such as ["redis-server"]` });
            } else if (packages.length > 0 && !f.builds) {
                problems.push({ path: at(`.containers[${j}].packages`), message: `set with driver ${String(f.driver)}, whose nodes pull "image"; only the local lab and existing hosts with existing.images "build" build images from Debian packages: push it to a registry the nodes reach and remove packages, or set existing.images "build"` });
            } else if (packages.length > 0 && !x.image.startsWith("localhost/")) {
                problems.push({ path: at(`.containers[${j}].image`), message: `got "${x.image}", but the nodes build this image themselves (from packages) and a registry's name would hide that: name it "localhost/${x.image.replace(/^.*\//, "").replace(/:.*$/, "")}:1"` });
            }
        });
        if (containers.length > 1 && f.restore === "image") {
            problems.push({ path: at(".containers"), message: `has ${containers.length} containers with archive.restore "image", which restores pods of one container only; use archive.restore "direct" (the local lab) or one container` });
        }
        const probe = w.probe as { container?: string } | undefined;
        if (probe && typeof probe === "object") {
            if (probe.container === undefined && containers.length > 0) probe.container = containers[0].name;
            if (typeof probe.container === "string" && containers.length > 0 && !cnames.has(probe.container)) {
                problems.push({ path: at(".probe.container"), message: `got "${probe.container}", which is not a container of this workload; allowed: ${[...cnames.keys()].map(n => `"${n}"`).join(", ")}` });
            }
        }
    });
    return problems;
}
