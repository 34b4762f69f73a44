// live-migration-lab: a Kubernetes checkpoint/restore lab (CRI-O, runc, CRIU) that live-migrates
// running pods (an Apache Flink job, and the pods the stack brings) between nodes when the stack
// config asks for it.
//
// The stack config is validated as a whole before any resource is declared: on bad input the
// program stops with one line per problem and nothing is touched. Migrations already carried out
// (the last successful update's `migrations` output) must stay at the head of the list, and one new
// migration is carried out per update, once the job runs.
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, FLINK_WORKLOAD, rawConfigFrom, validateConfig } from "./components/config/config";
import { CONFIG_NAMESPACE } from "./components/config/schema";
import { buildLab } from "./components/lab";
import { desiredLab } from "./components/desired";
import { probeNodes } from "./components/node/probe";
import { archiveDirProblems } from "./components/node/drift";
import { checkHistory, checkPending, DoneHop, doneHops } from "./components/migration/plan";
import { cgroupWarnings } from "./components/node/kubelet";

// Not in the SDK's typings, but exported by it: whether a config key is stored as a secret.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { isConfigSecret } = require("@pulumi/pulumi/runtime/config") as { isConfigSecret(k: string): boolean };

const keyName = `${CONFIG_NAMESPACE}:sshPrivateKey`;

function validated(raw: Record<string, unknown>, recorded: ReadonlyMap<string, string>) {
    try {
        return validateConfig(raw, isConfigSecret(keyName), undefined, recorded);
    } catch (e) {
        if (e instanceof ConfigError) throw new pulumi.RunError(e.message);
        throw e;
    }
}

/**
 * What the last successful update recorded (this stack's own outputs): the hops carried out, and
 * which workloads it started. Outputs from before workloads existed name no workload: their hops
 * and pod are the Flink job's.
 */
async function lastUpdate(): Promise<{ done: DoneHop[]; started: Set<string> }> {
    const self = new pulumi.StackReference(`${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`);
    const [{ value: migrations }, { value: flink }, { value: workloads }] = await Promise.all(
        ["migrations", "flink", "workloads"].map(o => self.getOutputDetails(o)));
    const started = new Set<string>(workloads && typeof workloads === "object" ? Object.entries(workloads).filter(([, w]: [string, any]) => typeof w?.pod === "string").map(([n]) => n) : []);
    if (typeof flink?.pod === "string") started.add(FLINK_WORKLOAD);
    return {
        done: doneHops(migrations, FLINK_WORKLOAD),
        started,
    };
}

export = async () => {
    const raw = rawConfigFrom(pulumi.runtime.allConfig());
    // Migrations are history: what the last update carried out, read before validation, tells which
    // workload an entry without `workload` moved, whatever workloads were added or removed since.
    const kubernetes = (raw.kubernetes as { enabled?: unknown } | undefined)?.enabled !== false;
    const last = kubernetes ? await lastUpdate() : undefined;
    const c = validated(raw, new Map((last?.done ?? []).map(h => [h.id, h.workload])));
    for (const w of c.warnings) pulumi.log.warn(w);
    if (c.sshPrivateKey === "plain") {
        pulumi.log.warn(`${keyName} is stored in plain text; set it with --secret (the policy pack rejects this)`);
    }
    if (c.kubernetes.enabled && last) {
        const { done, started } = last;
        // Each request with its workload, as planned (a valid config plans every request).
        const requests = c.plan.hops.map(h => ({ id: h.id, to: h.to, workload: h.workload }));
        const history = checkHistory(done, c.plan.starts, requests, c.migrations);
        // Pending requests are judged only against a history that holds.
        const problems = history.length > 0 ? history : checkPending(done, started, requests, c.migrations);
        if (problems.length > 0) throw new pulumi.RunError(new ConfigError(problems).message);
    }
    const sshPrivateKey = c.sshPrivateKey === "absent" ? undefined : new pulumi.Config(CONFIG_NAMESPACE).requireSecret("sshPrivateKey");

    // The desired lab, once: what the drift probe reads from the nodes and what the resources declare.
    const desired = desiredLab(c);
    const up = desired.nodes.filter(n => desired.driver.isUp(n.spec));
    const misplaced = desired.driver.placementProblem?.(pulumi.runtime.isDryRun(), up.length > 0);
    if (misplaced) throw new pulumi.RunError(misplaced);
    // Drift review: read the managed files' digests (and hops' abort logs) from the nodes that are up.
    const key = desired.driver.probeKey(pulumi.runtime.getConfig(keyName));
    const observed = key === undefined ? {} : probeNodes(up.map(n => ({
        node: n.spec.name, address: n.address, user: n.spec.sshUser, port: n.spec.sshPort, paths: n.probePaths,
    })), key);

    const taken = archiveDirProblems(observed, c.archive.dir, `${CONFIG_NAMESPACE}:archive.dir`);
    if (taken.length > 0) throw new pulumi.RunError(new ConfigError(taken).message);

    const lab = buildLab(desired, sshPrivateKey, path.join(__dirname, ".lab", pulumi.getStack()), observed);
    // The Kubernetes outputs are null in a lab without Kubernetes (kubernetes.enabled: false).
    return {
        /** Name, role and address of every node. */
        nodes: lab.nodes,
        /** What `criu check` said on each node. */
        criu: lab.criu,
        /** Where the Flink job runs now, and from which image (null without it). */
        flink: lab.flink ?? null,
        /** Where every workload runs now (the Flink job as "flink"), and from which image. */
        workloads: lab.workloads ?? null,
        /** Every migration carried out: archive paths, sizes, digests and phase timings. */
        migrations: lab.migrations ?? null,
        /** Admin kubeconfig of the lab cluster (secret). */
        kubeconfig: lab.kubeconfig ?? null,
        /** The CRIU options file written to every node. */
        criuConf: lab.criuConf,
        /** What a user should know that did not stop the program: Kubernetes out of support, a cgroup v1 node under a kubelet from 1.35, ... */
        warnings: pulumi.output(lab.criu).apply(criu => [...c.warnings, ...(c.kubernetes.enabled ? cgroupWarnings(c.kubernetes.version, criu as Record<string, { cgroup?: string }>) : [])]),
    };
};
