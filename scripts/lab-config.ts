// What scripts/lab.sh needs to prepare the host (build Kubernetes and CRI-O, the Flink inputs and
// the workloads' root filesystems; make the local lab's network and state directory), taken from
// the stack config only after the program's own validation has passed, so that a config the
// program refuses never reaches the host.
//
//   node -r ts-node/register/transpile-only scripts/lab-config.ts [MIGRATIONS_JSON_FILE] < CONFIG_JSON
//
// CONFIG_JSON is what `pulumi config --json` prints (secrets stay hidden: only whether
// sshPrivateKey is a secret is read); MIGRATIONS_JSON_FILE holds `pulumi stack output migrations
// --json` (the hops carried out, which tell the workload of an entry that names none, as the
// program reads them; empty or absent for a new stack). On a valid config it prints NUL-terminated fields, read by
// bash's `mapfile -d ''` with no word splitting or globbing:
//   driver, local.stateDir, local.subnet, kubernetes.version (or -), crio.version,
//   the Flink version (or -), then one field per workload image: its Debian packages, sorted,
//   joined by spaces (names the schema allows contain none).
// On an invalid one it prints the program's own message (every problem with its config path) to
// stderr and exits 2.
import * as fs from "fs";
import { ConfigError, FLINK_WORKLOAD, HIDDEN_SECRET, LabConfig, rawConfigFrom, validateConfig } from "../components/config/config";
import { CONFIG_NAMESPACE } from "../components/config/schema";
import { doneHops } from "../components/migration/plan";

interface Entry { value?: unknown; objectValue?: unknown; secret?: boolean }

/** `pulumi config --json` output -> the flat map the program reads, and whether the SSH key is a secret. */
export function flatConfig(json: Record<string, Entry>): { all: Record<string, string>; keyIsSecret: boolean } {
    const all: Record<string, string> = {};
    for (const [k, e] of Object.entries(json)) {
        // A secret's value is not printed without --show-secrets; only its presence matters here.
        if (e.secret && e.value === undefined && e.objectValue === undefined) all[k] = HIDDEN_SECRET;
        else all[k] = typeof e.value === "string" ? e.value : JSON.stringify(e.objectValue ?? e.value);
    }
    return { all, keyIsSecret: json[`${CONFIG_NAMESPACE}:sshPrivateKey`]?.secret === true };
}

/** The host's share of a validated config, in the order lab.sh reads it. */
export function hostFields(c: LabConfig): string[] {
    const k8s = c.kubernetes.enabled;
    const images = new Set<string>();
    for (const w of c.workloads) for (const x of w.containers) if (x.packages.length) images.add([...new Set(x.packages)].sort().join(" "));
    return [c.driver, c.local.stateDir, c.local.subnet, k8s ? c.kubernetes.version : "-", c.crio.version,
        k8s && c.flink.enabled ? c.flink.version : "-", ...[...images].sort()];
}

/** The workload of each carried-out hop by id, from the stack's `migrations` output (as the program reads it). */
export function recordedWorkloads(migrationsOutput: string): Map<string, string> {
    let output: unknown;
    try { output = JSON.parse(migrationsOutput || "null"); } catch { output = null; }
    return new Map(doneHops(output, FLINK_WORKLOAD).map(h => [h.id, h.workload]));
}

function main(): void {
    let text = "";
    process.stdin.setEncoding("utf8").on("data", d => (text += d)).on("end", () => {
        let c: LabConfig;
        try {
            const { all, keyIsSecret } = flatConfig(JSON.parse(text || "{}"));
            const done = process.argv[2] ? fs.readFileSync(process.argv[2], "utf8") : "";
            c = validateConfig(rawConfigFrom(all), keyIsSecret, undefined, recordedWorkloads(done));
        } catch (e) {
            process.stderr.write(`${e instanceof ConfigError ? e.message : `lab-config: ${(e as Error).message}`}\n`);
            process.exit(2);
        }
        process.stdout.write(hostFields(c).map(f => `${f}\0`).join(""));
    });
}

if (require.main === module) main();
