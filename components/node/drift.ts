// Drift review: before declaring resources, the program looks at the managed files on the nodes
// (their sha256 and mtime) and compares them with what it renders. A hand-edited file turns into
// a visible change of that file's resource, which `pulumi up` then writes back.
//
// The observation goes into the resource as its last trigger (command.ts `observed`). While the
// file is in sync that trigger is in ignoreChanges, so the observation never causes a diff by
// itself; only a drift lifts the ignore, making the resource a replacement (remove, write again)
// that names the file. After the repair the stored marker is ignored again, so the next
// `pulumi up` does nothing.
import * as crypto from "crypto";
import { nodeProgram } from "./program";
import type { ConfigProblem } from "../config/problem";
import { CRIO_SWITCH_LIB, MANAGED_FILES_RECORD, NODE_ROOT } from "./scripts";

/** What a node reported for one path: "<sha256> <mtime>", "absent", or "host <sha256>" (a file not the program's). */
export type Observation = string;

export interface FileState {
    readonly marker: string;
    readonly drifted: boolean;
}

/** Prints one line per path: "<sha256> <mtime> <path>", "absent - <path>" or "host <sha256> <path>". */
export function probeScript(paths: readonly string[]): string {
    return nodeProgram("node/programs/probe-files.sh", "drift probe", { PATHS: paths.join("\n"), KEEP: MANAGED_FILES_RECORD }, [CRIO_SWITCH_LIB]);
}

/** Where parseProbe files the restore switch the node's crio binary reads (crio-switch.sh): not a path. */
export const CRIO_SWITCH_OBSERVATION = "crio restore switch";
/** ... and the node's cgroup version (v2 where /sys/fs/cgroup is cgroup2, else v1). */
export const CGROUP_OBSERVATION = "cgroup";

export function parseProbe(stdout: string): Record<string, Observation> {
    const out: Record<string, Observation> = {};
    for (const line of stdout.split("\n")) {
        const m = /^(absent|host|own|empty|foreign|[0-9a-f]{64}) (-|\d+|[0-9a-f]{64}) (\/.*)$/.exec(line.trim());
        if (m) out[m[3]] = m[1] === "absent" ? "absent" : `${m[1]} ${m[2]}`;
        const sw = /^crio-restore-switch (\S+)$/.exec(line.trim());
        if (sw) out[CRIO_SWITCH_OBSERVATION] = sw[1];
        const cg = /^cgroup (v1|v2)$/.exec(line.trim());
        if (cg) out[CGROUP_OBSERVATION] = cg[1];
    }
    return out;
}

/** The sha256 a node reported for a file, whoever wrote it ("<sha256> <mtime>" or "host <sha256>"), or undefined. */
export function observedDigest(observed: Observation | undefined): string | undefined {
    const [first, second] = (observed ?? "").split(" ");
    if (first === "host") return second;
    return /^[0-9a-f]{64}$/.test(first) ? first : undefined;
}

/** Compares what a node has with what the program renders. */
export function fileState(path: string, rendered: string, observed: Observation | undefined): FileState {
    if (observed === undefined) return { marker: "unobserved", drifted: false };
    if (observed === "absent") return { marker: `drifted: ${path} is missing`, drifted: true };
    // Before the first write: the host's own file, which that write keeps aside and destroy puts back.
    if (observed.startsWith("host ")) {
        return { marker: `host's own: ${path} (sha256 ${observed.slice(5, 17)}) is kept aside in ${MANAGED_FILES_RECORD}/kept${path} and put back on destroy`, drifted: false };
    }
    const [sha, mtime] = observed.split(" ");
    if (sha === crypto.createHash("sha256").update(rendered).digest("hex")) return { marker: "in-sync", drifted: false };
    return { marker: `drifted: ${path} was changed on the node (sha256 ${sha.slice(0, 12)}, mtime ${mtime})`, drifted: true };
}

/**
 * The archive directory must be the program's own on every node (private-dir.sh refuses it too, but
 * only once the update runs): one that holds files the program did not write stops the program
 * before any resource is declared. `observed` is per node; `at` is the config path.
 */
export function archiveDirProblems(observed: Readonly<Record<string, Record<string, Observation>>>, dir: string, at: string): ConfigProblem[] {
    // Inside the program's own root, versions before the record kept none (private-dir.sh takes those).
    if (dir.startsWith(`${NODE_ROOT}/`)) return [];
    return Object.entries(observed).flatMap(([node, seen]) => {
        const o = seen[`${dir}/`];
        if (!o?.startsWith("foreign ")) return [];
        return [{ path: at, message: `got "${dir}", which on node ${node} already holds ${o.split(" ")[1]} ${o.split(" ")[1] === "1" ? "entry" : "entries"} this program did not write; the program empties and deletes its archive directory, so it takes only one of its own: use a path that does not exist yet (nothing was changed)` }];
    });
}
