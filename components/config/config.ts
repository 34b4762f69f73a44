// Stack config -> LabConfig. Pulumi's requireObject parses but does not check, so the whole
// namespace is validated here (ajv for shape, then the rules that relate keys to each other)
// before index.ts declares a single resource. Every problem is reported at once, one line each,
// naming the config path, what was given and what is allowed.
import * as os from "os";
import { CONFIG_NAMESPACE, configSchema } from "./schema";
import { checkCriuOptions, dumpsTcpConnections } from "../node/criu";
import { ConfigProblem, key, Mutable } from "./problem";
import { validateShape, describeAjvError } from "./shape";
import { checkOwnDirectory } from "./directories";
import { checkMemory, podMemoryMb } from "./memory";
import { checkWorkloads } from "./workloads";
import { checkCrioSettings, CRIO_VERSIONS } from "../node/crio";
import { MigrationPlan, planMigrations, WorkloadStart } from "../migration/plan";
import { overlaps, POD_SUBNET, SERVICE_SUBNET, VAGRANT_LIBVIRT_MANAGEMENT } from "../cluster/networks";
import { FLINK_WORKLOAD } from "./types";
import { FLINK_FREEZE_TOLERANCE_MS, FLINK_MAX_PAUSE_SECONDS } from "../flink/flink";
import type { FlinkSpec, LabConfig, RestoreMode, WorkloadSpec } from "./types";

/**
 * What scripts/lab-config.ts passes for a secret `pulumi config --json` does not show: it is there,
 * and its content is checked where the program reads it (`pulumi up`), not by lab.sh.
 */
export const HIDDEN_SECRET = "(secret, not shown)";
export * from "./types";
export { checkOwnDirectory } from "./directories";
export { checkMemory } from "./memory";
export { checkWorkloads } from "./workloads";

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

function isPrivateSubnet(subnet: string): boolean {
    const o = subnet.split("/")[0].split(".").map(Number);
    if (o.some(n => n > 255)) return false;
    return o[0] === 10 || (o[0] === 172 && o[1] >= 16 && o[1] <= 31) || (o[0] === 192 && o[1] === 168);
}

const minor = (version: string) => version.split(".").slice(0, 2).join(".");

/**
 * Validates the raw config object (see rawConfigFrom). `sshKeyIsSecret` tells whether the
 * sshPrivateKey config value is stored as a Pulumi secret. Throws ConfigError listing every problem.
 */
export function validateConfig(raw: Record<string, unknown>, sshKeyIsSecret: boolean, hostMemoryMb = Math.floor(os.totalmem() / 2 ** 20), recorded: ReadonlyMap<string, string> = new Map()): LabConfig {
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
    if (hasKey && c.sshPrivateKey !== HIDDEN_SECRET && !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(c.sshPrivateKey!)) {
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
    const hold = (c.cutover as { maxPauseSeconds?: unknown } | undefined)?.maxPauseSeconds;
    if (flink.enabled !== false && typeof hold === "number" && hold > FLINK_MAX_PAUSE_SECONDS) {
        problems.push({ path: key("cutover.maxPauseSeconds"), message: `got ${hold} while the Flink job runs; its heartbeat and RPC timeouts are ${FLINK_FREEZE_TOLERANCE_MS / 1000} s, so a longer hold would fail its tasks over: use at most ${FLINK_MAX_PAUSE_SECONDS}, or set flink.enabled false` });
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
        plan = planMigrations(starts, c.migrations, [...names], recorded);
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
