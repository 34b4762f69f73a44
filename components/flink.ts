// The flink-minimal pod: a JobManager and a TaskManager in one container, as in the seed, running
// an unbounded stateful job from Flink's streaming examples.
import * as YAML from "yaml";
import type { FlinkSpec } from "./config";

export const FLINK_HOME = "/opt/flink";
export const FLINK_CONTAINER = "flink";
export const FLINK_CONF_MOUNT = "/etc/flink-minimal";
/** Marks a pod whose processes hold established TCP connections (JobManager <-> TaskManager). */
export const TCP_ANNOTATION = "live-migration-lab/tcp-connections";
export const JOB_ANNOTATION = "live-migration-lab/job";

const mb = (m: string) => Number(m.replace(/m$/, ""));

/**
 * Flink's configuration (config.yaml, Flink >= 1.19). Every address is loopback on purpose: the pod
 * gets a new IP on the target node, and CRIU can only restore established TCP connections whose
 * addresses exist there. 127.0.0.1 exists in every network namespace, the pod IP does not.
 */
export function flinkConf(spec: FlinkSpec): Record<string, string | number | boolean> {
    return {
        "jobmanager.rpc.address": "localhost",
        "jobmanager.rpc.port": 6123,
        "jobmanager.bind-host": "localhost",
        "taskmanager.host": "localhost",
        "taskmanager.bind-host": "localhost",
        "taskmanager.rpc.port": 6122,
        "blob.server.port": 6124,
        "rest.address": "localhost",
        "rest.bind-address": "localhost",
        // The REST endpoint cannot be disabled (rest.port: -1 is invalid); the probe uses it.
        "rest.port": 8081,
        "jobmanager.memory.process.size": spec.jobManagerMemory,
        "taskmanager.memory.process.size": spec.taskManagerMemory,
        "taskmanager.numberOfTaskSlots": spec.parallelism,
        "parallelism.default": spec.parallelism,
        // state.backend: filesystem is deprecated; these are the current keys.
        "state.backend.type": "hashmap",
        "state.checkpoint-storage": "filesystem",
        "state.checkpoints.dir": "file:///tmp/flink-checkpoints",
        "execution.checkpointing.interval": `${spec.checkpointIntervalMs}ms`,
        // hsperfdata is an mmap'ed file under /tmp that breaks restore; a small serial-GC heap keeps the image small.
        "env.java.opts.all": "-XX:-UsePerfData -XX:+UseSerialGC",
        "web.submit.enable": false,
        "web.cancel.enable": false,
    };
}

export function renderFlinkConf(spec: FlinkSpec): string {
    return YAML.stringify(flinkConf(spec));
}

/** The example jar for the job; both run forever from built-in generators. */
export function jobJar(spec: FlinkSpec): string {
    return `${FLINK_HOME}/examples/streaming/${spec.job}.jar`;
}

/** The container entrypoint: start both JVMs, submit the job once, then keep PID 1 alive. */
export function renderEntrypoint(spec: FlinkSpec): string {
    const args = spec.args.map(a => `'${a.replace(/'/g, `'\\''`)}'`).join(" ");
    return [
        "#!/usr/bin/env bash",
        "# Managed by live-migration-lab: JobManager and TaskManager in one container, as in the seed.",
        "set -euo pipefail",
        `cp ${FLINK_CONF_MOUNT}/config.yaml ${FLINK_HOME}/conf/config.yaml`,
        `${FLINK_HOME}/bin/jobmanager.sh start`,
        `${FLINK_HOME}/bin/taskmanager.sh start`,
        `for i in $(seq 1 120); do ${FLINK_HOME}/bin/flink list >/dev/null 2>&1 && break; sleep 1; done`,
        `${FLINK_HOME}/bin/flink run -d ${jobJar(spec)}${args ? " " + args : ""}`,
        // Plain sleep: stdio stays on the pipes conmon gives, which CRIU can dump.
        "exec sleep infinity",
        "",
    ].join("\n");
}

export interface PodArgs {
    readonly name: string;
    readonly namespace: string;
    readonly nodeName: string;
    readonly image: string;
    readonly configMapName: string;
    /** Which migration produced this pod ("initial" for the first). */
    readonly stage: string;
    readonly spec: FlinkSpec;
    /** Whether the image may be pulled from a registry (never for locally built and checkpoint images). */
    readonly pull: boolean;
}

/** The pod manifest; `image` is the Flink image, or a checkpoint image when restoring. */
export function flinkPodManifest(a: PodArgs) {
    const memory = `${mb(a.spec.jobManagerMemory) + mb(a.spec.taskManagerMemory) + 256}Mi`;
    return {
        apiVersion: "v1",
        kind: "Pod",
        metadata: {
            name: a.name,
            namespace: a.namespace,
            labels: { app: "flink-minimal", "live-migration-lab/stage": a.stage },
            annotations: { [TCP_ANNOTATION]: "loopback", [JOB_ANNOTATION]: a.spec.job },
        },
        spec: {
            nodeName: a.nodeName,
            restartPolicy: "Never",
            containers: [{
                name: FLINK_CONTAINER,
                image: a.image,
                imagePullPolicy: a.pull ? "IfNotPresent" : "Never",
                command: ["bash", `${FLINK_CONF_MOUNT}/entrypoint.sh`],
                resources: { requests: { memory, cpu: "500m" }, limits: { memory } },
                volumeMounts: [{ name: "conf", mountPath: FLINK_CONF_MOUNT, readOnly: true }],
            }],
            volumes: [{ name: "conf", configMap: { name: a.configMapName } }],
        },
    };
}
