// The workloads the stack brings (workloads[]), checked against each other, the nodes and what the
// driver can do with images.
import { FLINK_WORKLOAD } from "./types";
import type { RestoreMode, WorkloadSpec } from "./types";
import { ConfigProblem, key, Mutable } from "./problem";

export interface WorkloadFacts {
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
