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

/** What a node reported for one path: "<sha256> <mtime>", or "absent". */
export type Observation = string;

export interface FileState {
    readonly marker: string;
    readonly drifted: boolean;
}

/** Prints one line per path: "<sha256> <mtime> <path>" or "absent - <path>". */
export function probeScript(paths: readonly string[]): string {
    return nodeProgram("node/programs/probe-files.sh", "drift probe", { PATHS: paths.join("\n") });
}

export function parseProbe(stdout: string): Record<string, Observation> {
    const out: Record<string, Observation> = {};
    for (const line of stdout.split("\n")) {
        const m = /^(absent|[0-9a-f]{64}) (-|\d+) (\/.*)$/.exec(line.trim());
        if (m) out[m[3]] = m[1] === "absent" ? "absent" : `${m[1]} ${m[2]}`;
    }
    return out;
}

/** Compares what a node has with what the program renders. */
export function fileState(path: string, rendered: string, observed: Observation | undefined): FileState {
    if (observed === undefined) return { marker: "unobserved", drifted: false };
    if (observed === "absent") return { marker: `drifted: ${path} is missing`, drifted: true };
    const [sha, mtime] = observed.split(" ");
    if (sha === crypto.createHash("sha256").update(rendered).digest("hex")) return { marker: "in-sync", drifted: false };
    return { marker: `drifted: ${path} was changed on the node (sha256 ${sha.slice(0, 12)}, mtime ${mtime})`, drifted: true };
}
