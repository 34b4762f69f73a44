// Watching the Flink job from outside while `pulumi up` migrates it, shared by the end-to-end test
// and the benchmark: a sampler probes the job's pods in the background (a separate process, since
// pulumi runs synchronously), and a background trigger injects a fault at the right moment.
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { FlinkProbe, flinkContainerLines, flinkProbeScript, REST_PORT } from "../../components/flink/flink";
import { BackgroundSampler, LocalLab, NodeName, sampleInBackground, sshArgs } from "./local-lab-helpers";
import { q } from "../../components/node/program";

export type Sampler = BackgroundSampler<FlinkProbe>;

/** Probes `pods` (pod on node) every ~0.5 s until stopped; pods that do not answer are skipped. */
export function startSampler(lab: LocalLab, pods: readonly { node: NodeName; pod: string }[], name = "sampler"): Sampler {
    return sampleInBackground<FlinkProbe>(lab, pods.map(({ node, pod }) => ({ node, script: flinkProbeScript({ namespace: "default", pod }) })), name, 0.5);
}

/**
 * Runs `action` on `node` once `condition` (a shell test on that node) holds, in the background;
 * returns a function that waits for it and says whether the action ran.
 */
export function when(lab: LocalLab, node: NodeName, condition: string, action: string, timeoutSeconds = 300): () => boolean {
    const ssh = `ssh ${sshArgs(lab.state).join(" ")} root@${lab.nodes[node]}`;
    const done = path.join(lab.work, `when-${Date.now()}-${Math.random().toString(16).slice(2)}`);
    const script = `( for i in $(seq 1 ${timeoutSeconds * 4}); do if ${ssh} ${q(condition)}; then ${ssh} ${q(action)} && exit 0; exit 1; fi; sleep 0.25; done; exit 2 ); echo $? >${done}`;
    const child = spawn("nsenter", [`--net=/run/netns/${lab.netns}`, "--", "bash", "-c", script], { stdio: "ignore", detached: true });
    child.unref();
    return () => {
        for (let i = 0; i < timeoutSeconds * 10 && !fs.existsSync(done); i++) spawnSync("sleep", ["0.1"]);
        try { process.kill(-child.pid!, "SIGKILL"); } catch { /* ended */ } // never outlive the test
        return fs.existsSync(done) && fs.readFileSync(done, "utf8").trim() === "0";
    };
}

/** Checks that the job's record count never went back across `probes` (of one job). */
export function wentBack(probes: readonly FlinkProbe[]): string | undefined {
    let max: FlinkProbe | undefined;
    for (const p of probes) {
        if (max && p.records < max.records) return `${p.records} records at ${p.at} in ${p.pod} on ${p.node}, after ${max.records} at ${max.at} in ${max.pod} on ${max.node}`;
        if (!max || p.records > max.records) max = p;
    }
    return undefined;
}

/** A shell line that GETs `path` from the JobManager's REST endpoint, inside the pod's network namespace ($pid). */
const restGet = (path: string, curlFlags: string) => `nsenter -t "$pid" -n curl ${curlFlags} --max-time 5 'http://127.0.0.1:${REST_PORT}${path}'`;

/** GET a path of the JobManager's REST endpoint inside the pod's network namespace, parsed. */
export function flinkRest(lab: LocalLab, node: NodeName, pod: string, path: string): unknown {
    const out = lab.sshOk(node, [...flinkContainerLines({ namespace: "default", pod }, "any"), restGet(path, "-sf")].join("\n"));
    return JSON.parse(out);
}

/**
 * Why a job's count went back, for the failure message: Flink's own account of its last failovers
 * (REST /jobs/<id>/exceptions) and the container's log lines about task state changes and errors.
 */
export function flinkDiagnostics(lab: LocalLab, p: FlinkProbe): string {
    const r = lab.ssh(p.node as NodeName, [
        ...flinkContainerLines({ namespace: "default", pod: p.pod }, "any"),
        `${restGet(`/jobs/${p.jobId}/exceptions?maxExceptions=3`, "-s")} | head -c 6000; echo`,
        `crictl logs "$cid" 2>&1 | grep -E 'switched from|Exception|ERROR|WARN' | tail -n 40`,
    ].join("\n"));
    return `diagnostics of ${p.pod} on ${p.node}:\n${String(r.stdout)}${String(r.stderr)}`;
}
