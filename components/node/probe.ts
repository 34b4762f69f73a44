// Reads the managed files' digests from the nodes over SSH while the program runs (preview and
// up), for drift review (drift.ts). A node that cannot be reached yet (first `pulumi up`) is
// simply not observed. This is the program's only side effect outside resources, and it only reads.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Observation, parseProbe, probeScript } from "./drift";

export interface ProbeTarget {
    readonly node: string;
    readonly address: string;
    readonly user: string;
    readonly port: number;
    readonly paths: readonly string[];
}

/** Observations per node name (a node missing from the result was not reachable). */
export function probeNodes(targets: readonly ProbeTarget[], key: string): Record<string, Record<string, Observation>> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lab-probe-"));
    const keyFile = path.join(dir, "key");
    fs.writeFileSync(keyFile, key.endsWith("\n") ? key : key + "\n", { mode: 0o600 });
    const out: Record<string, Record<string, Observation>> = {};
    try {
        for (const t of targets) {
            try {
                const stdout = execFileSync("ssh", [
                    "-i", keyFile, "-p", String(t.port),
                    "-o", "BatchMode=yes", "-o", "ConnectTimeout=3", "-o", "StrictHostKeyChecking=no",
                    "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
                    `${t.user}@${t.address}`, t.user === "root" ? "bash -s" : "sudo -n bash -s",
                ], { input: probeScript(t.paths), encoding: "utf8", timeout: 15_000, stdio: ["pipe", "pipe", "ignore"] });
                out[t.node] = parseProbe(stdout);
            } catch {
                // not reachable (yet): not observed
            }
        }
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
    return out;
}
