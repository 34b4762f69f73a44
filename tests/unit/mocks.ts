// Pulumi mocks for the component tests: the program runs for real, resource creation is faked.
// Commands answer with the one JSON line their script would print, derived from their inputs.
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { CONFIG_NAMESPACE } from "../../components/config/schema";

export interface Registered {
    readonly type: string;
    readonly name: string;
    readonly urn: string;
    readonly inputs: Record<string, any>;
}

const sha256 = (s: string) => crypto.createHash("sha256").update(s).digest("hex");

function markerOf(inputs: Record<string, any>, lab: string): Record<string, any> | undefined {
    return (inputs.triggers ?? []).find((t: any) => t?.lab === lab);
}

const JOB = "0123456789abcdef0123456789abcdef";
const T0 = 1_795_000_000_000;

/** What the local driver's commands print: a node's state (local-node.sh up), else the lab's key. */
function localStdout(inputs: Record<string, any>): string {
    const up = /local-node\.sh'? up '([^']+)' '([^']+)'/.exec(String(inputs.create ?? ""));
    if (up) return JSON.stringify({ name: up[1], address: up[2], state: "started", instance: "0123456789ab" }) + "\n";
    return "-----BEGIN OPENSSH PRIVATE KEY-----\nmock\n-----END OPENSSH PRIVATE KEY-----\n";
}

/** The stdout a lab script prints on success, faked from the command's inputs. */
function commandStdout(inputs: Record<string, any>): string {
    const file = markerOf(inputs, "managed-file");
    if (file) return JSON.stringify({ path: file.path, sha256: sha256(inputs.stdin ?? ""), state: "written" });
    const dir = markerOf(inputs, "managed-dir");
    if (dir) return JSON.stringify({ path: dir.path, mode: "700" });
    const step = markerOf(inputs, "migration-step");
    if (step) {
        switch (step.step) {
            case "source-probe": return JSON.stringify({ pod: "flink-minimal", node: step.from, jobId: JOB, state: "RUNNING", startTime: 1, records: 1000, checkpoints: 3, rssBytes: 90000000, at: T0 });
            case "preflight": return JSON.stringify({ freeMb: 20480, needMb: 300 });
            case "hold": return JSON.stringify({ lease: `/var/lib/live-migration-lab/migrations/${step.id}`, cgroupVersion: "v1", watcher: 4242 });
            case "checkpoint": return JSON.stringify({ archive: `/var/lib/kubelet/checkpoints/checkpoint-${step.id}.tar`, startedAt: T0 + 100, seconds: 0.5 });
            case "transfer": return JSON.stringify({ archive: `/var/lib/live-migration-lab/checkpoints/${step.id}.tar`, sourceArchive: `/var/lib/kubelet/checkpoints/checkpoint-${step.id}.tar`, sizeBytes: 82000000, startedAt: T0 + 700, seconds: 1.5 });
            case "image": return JSON.stringify({ image: `localhost/flink-minimal-checkpoint:${step.id}`, id: sha256(`image-${step.id}`), startedAt: T0 + 2300, seconds: 2 });
            case "cutover": return JSON.stringify({
                pod: `flink-minimal-${step.id}`, node: step.to, jobId: JOB, state: "RUNNING", startTime: 1, records: 1100, checkpoints: 4, rssBytes: 90000000, at: T0 + 9000,
                startedAt: T0 + 6000, seconds: 3, restoredAt: T0 + 5000, retired: 3, pausedAt: T0 + 150, heldAt: T0 + 620, committedAt: T0 + 8900,
                sha256: sha256(step.id),
            });
            case "source-retention":
            case "retention": return JSON.stringify({ kept: 1, removed: 0 });
        }
    }
    const check = markerOf(inputs, "node-check");
    if (check?.check === "kubeconfig") return "apiVersion: v1\nkind: Config\n";
    if (check?.check === "kubeadm-init") return JSON.stringify({ join: "kubeadm join 192.168.56.10:6443 --token abc.def --discovery-token-ca-cert-hash sha256:00" });
    if (check?.check === "criu") return JSON.stringify({ criu: "4.2", check: "ok" });
    return JSON.stringify({ ok: true });
}

/** Sets mocks and config, runs `program`, and returns every resource it registered. */
export async function runWithMocks<T>(
    config: Record<string, unknown>,
    program: () => T,
    opts: { secretKeys?: string[]; stack?: string; previousOutputs?: Record<string, unknown> } = {},
): Promise<{ resources: Registered[]; result: T }> {
    const resources: Registered[] = [];
    pulumi.runtime.setMocks({
        newResource(args: pulumi.runtime.MockResourceArgs) {
            // The program's reference to its own stack reads the last update's outputs.
            if (args.type === "pulumi:pulumi:StackReference") return { id: args.name, state: { name: args.name, outputs: opts.previousOutputs ?? {}, secretOutputNames: [] } };
            const urn = `urn:pulumi:${opts.stack ?? "test"}::live-migration-lab::${args.type}::${args.name}`;
            resources.push({ type: args.type, name: args.name, urn, inputs: args.inputs });
            const state: Record<string, any> = { ...args.inputs };
            if (args.type === "command:remote:Command" || args.type === "command:local:Command") {
                state.stdout = args.type === "command:local:Command" ? localStdout(args.inputs) : commandStdout(args.inputs);
                state.stderr = "";
            }
            return { id: `${args.name}-id`, state };
        },
        call: (args: pulumi.runtime.MockCallArgs) => args.inputs,
    }, "live-migration-lab", opts.stack ?? "test", false, "organization");
    const flat: Record<string, string> = {};
    for (const [k, v] of Object.entries(config)) flat[`${CONFIG_NAMESPACE}:${k}`] = typeof v === "string" ? v : JSON.stringify(v);
    pulumi.runtime.setAllConfig(flat, (opts.secretKeys ?? []).map(k => `${CONFIG_NAMESPACE}:${k}`));
    const result = program();
    await settle();
    return { resources, result };
}

/** Resolves an output's value (in tests, outputs are always known). */
export function promiseOf<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise(resolve => output.apply(v => { resolve(v); return v; }));
}

/** Lets every pending registration and apply run. */
async function settle(): Promise<void> {
    for (let i = 0; i < 20; i++) await new Promise(r => setImmediate(r));
}
