// The flink-minimal pod: a JobManager and a TaskManager in one container, as in the seed, running
// an unbounded stateful job from Flink's streaming examples.
import * as YAML from "yaml";
import type { FlinkSpec } from "../config/types";
import { libraryText, nodeProgram, programText, words } from "../node/program";
import { CRIO_SOCKET } from "../node/crio";
import { IMAGE_INPUTS_DIR, MigratingWorkload, NODE_OUTAGE_TOLERATIONS, ProbeArgs, restoreAnnotation, VerifyArgs, verifyScript, WorkloadProbe } from "../workload/workload";

export const FLINK_HOME = "/opt/flink";
export const FLINK_CONTAINER = "flink";
/** The first stage's pod name, and the start of every later stage's (flinkJob.ts podName). */
export const FLINK_POD = "flink-minimal";
export const FLINK_CONF_MOUNT = "/etc/flink-minimal";
/** Marks a pod whose processes hold established TCP connections (JobManager <-> TaskManager). */
export const TCP_ANNOTATION = "live-migration-lab/tcp-connections";
export const JOB_ANNOTATION = "live-migration-lab/job";

/**
 * The Flink pod's memory (its request and limit), in MB: both JVMs' process sizes and 256 MB for the
 * rest (the entrypoint's shell, the job client at start). Validation sizes nodes with the same figure.
 */
export const flinkPodMemoryMb = (spec: Pick<FlinkSpec, "jobManagerMemory" | "taskManagerMemory">) =>
    [spec.jobManagerMemory, spec.taskManagerMemory].reduce((sum, m) => sum + Number(m.replace(/m$/, "")), 256);

/** The main class of each example job (both run forever from built-in generators). */
export const JOB_CLASSES: Record<FlinkSpec["job"], string> = {
    StateMachineExample: "org.apache.flink.streaming.examples.statemachine.StateMachineExample",
    TopSpeedWindowing: "org.apache.flink.streaming.examples.windowing.TopSpeedWindowing",
};

/**
 * Arguments a job gets when `flink.args` is empty. StateMachineExample's generator is unthrottled
 * by default and would take every core the node has; 100 records per second keeps it busy but small.
 */
export const DEFAULT_JOB_ARGS: Record<FlinkSpec["job"], readonly string[]> = {
    StateMachineExample: ["--rps", "100"],
    TopSpeedWindowing: [],
};

/**
 * JVM options for both JVMs. `-XX:-UsePerfData`: hsperfdata is an mmap'ed file under /tmp that
 * breaks restore; a serial-GC heap keeps the dump small. The module flags are the ones Flink's own
 * config.yaml passes on Java 17 (env.java.default-opts.all); without them job submission fails with
 * "module java.base does not opens java.util". Flink's bin/ scripts are not used (the local image
 * has none: flink-dist is not on Maven Central), so the entrypoint passes these itself.
 */
export const JVM_OPTS = [
    "-XX:-UsePerfData", "-XX:+UseSerialGC",
    "--add-exports=java.base/sun.net.util=ALL-UNNAMED", "--add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED",
    "--add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED",
    ...["java.lang", "java.net", "java.io", "java.nio", "sun.nio.ch", "java.lang.reflect", "java.text", "java.time",
        "java.util", "java.util.concurrent", "java.util.concurrent.atomic", "java.util.concurrent.locks"]
        .map(p => `--add-opens=java.base/${p}=ALL-UNNAMED`),
];

/** Where the JobManager's REST endpoint listens inside the pod (loopback only). */
export const REST_PORT = 8081;

/**
 * How long Flink tolerates silence from its other half: the heartbeat timeout and the RPC (Pekko ask)
 * timeout. 60 s: above the longest hold a migration of the Flink job allows (cutover.maxPauseSeconds,
 * at most FLINK_MAX_PAUSE_SECONDS), and Flink's own default heartbeat.timeout is 50 s.
 */
export const FLINK_FREEZE_TOLERANCE_MS = 60_000;
/** The longest hold (cutover.maxPauseSeconds) a stack running the Flink job may ask for. */
export const FLINK_MAX_PAUSE_SECONDS = 50;

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
        "rest.port": REST_PORT,
        "jobmanager.memory.process.size": spec.jobManagerMemory,
        "taskmanager.memory.process.size": spec.taskManagerMemory,
        // The hashmap backend keeps state on the heap; managed memory would only be reserved.
        "taskmanager.memory.managed.size": "32m",
        "taskmanager.numberOfTaskSlots": spec.parallelism,
        "parallelism.default": spec.parallelism,
        // state.backend: filesystem is deprecated; these are the current keys.
        "state.backend.type": "hashmap",
        "state.checkpoint-storage": "filesystem",
        "state.checkpoints.dir": "file:///tmp/flink-checkpoints",
        "execution.checkpointing.interval": `${spec.checkpointIntervalMs}ms`,
        // The probe reads record counts through REST; refresh them every second.
        "metrics.fetcher.update-interval": 1000,
        // A migration freezes both JVMs together for up to cutover.maxPauseSeconds (and a restore
        // on another node resumes them after the whole pause). The monotonic clock runs on through
        // the freeze, so after the thaw every timer that was running has expired at once:
        // - an overdue heartbeat would declare the TaskManager lost;
        // - an RPC in flight when the freeze began (the source task tells the JobManager's source
        //   coordinator about each Flink checkpoint) fails with Pekko's AskTimeoutException after
        //   pekko.ask.timeout (10 s by default), and the task fails over.
        // Either restarts the job's tasks from Flink's last checkpoint, counters from zero. Both
        // JVMs live in one pod, so a dead one ends the pod anyway: nothing is lost by waiting.
        "heartbeat.timeout": FLINK_FREEZE_TOLERANCE_MS,
        "pekko.ask.timeout": `${FLINK_FREEZE_TOLERANCE_MS} ms`,
        "web.submit.enable": false,
        "web.cancel.enable": false,
    };
}

export function renderFlinkConf(spec: FlinkSpec): string {
    return YAML.stringify(flinkConf(spec));
}

/** log4j2 configuration: both JVMs log to the container's stdout (conmon's pipe, which CRIU dumps). */
export function renderLog4j(): string {
    return [
        "rootLogger.level = INFO",
        "rootLogger.appenderRef.console.ref = Console",
        "appender.console.name = Console",
        "appender.console.type = CONSOLE",
        "appender.console.layout.type = PatternLayout",
        "appender.console.layout.pattern = %d{yyyy-MM-dd HH:mm:ss,SSS} %-5p %-30c{1} - %m%n",
        "logger.pekko.name = org.apache.pekko",
        "logger.pekko.level = WARN",
        "",
    ].join("\n");
}

/**
 * The container entrypoint: start the JobManager and the TaskManager JVMs (with the memory
 * settings Flink's BashJavaUtils derives, as bin/jobmanager.sh and bin/taskmanager.sh would),
 * submit the job once, then wait. PID 1 stays this shell: if either JVM exits, the container exits
 * with it and the pod fails visibly instead of idling. Runs on the local image (jars only) and on
 * the official image alike.
 */
export function renderEntrypoint(spec: FlinkSpec): string {
    const args = spec.args.length > 0 ? spec.args : DEFAULT_JOB_ARGS[spec.job];
    return [
        "#!/usr/bin/env bash",
        "# Managed by live-migration-lab: JobManager and TaskManager in one container, as in the seed.",
        "set -euo pipefail",
        `FLINK_HOME=\${FLINK_HOME:-${FLINK_HOME}}`,
        "conf=/tmp/flink-conf",
        `mkdir -p "$conf" && cp ${FLINK_CONF_MOUNT}/config.yaml ${FLINK_CONF_MOUNT}/log4j-console.properties "$conf/"`,
        `cp=("$FLINK_HOME/lib/*")`,
        `opts=(${words(JVM_OPTS)} "-Dlog4j.configurationFile=file:$conf/log4j-console.properties")`,
        "# Memory settings as Flink's scripts compute them: line 1 JVM flags, line 2 dynamic properties.",
        'params() { java "${opts[@]}" -cp "${cp[*]}" org.apache.flink.runtime.util.bash.BashJavaUtils "$1" --configDir "$conf" | sed -n \'s/^BASH_JAVA_UTILS_EXEC_RESULT://p\'; }',
        "mapfile -t jm < <(params GET_JM_RESOURCE_PARAMS)",
        "mapfile -t tm < <(params GET_TM_RESOURCE_PARAMS)",
        'if [ "${#jm[@]}" != 2 ] || [ "${#tm[@]}" != 2 ]; then echo "flink-minimal: Flink\'s memory settings could not be derived from $conf/config.yaml" >&2; exit 1; fi',
        "# shellcheck disable=SC2086 # the derived settings are word lists",
        'java "${opts[@]}" ${jm[0]} -cp "${cp[*]}" org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint --configDir "$conf" ${jm[1]} &',
        "jobmanager=$!",
        "# shellcheck disable=SC2086",
        'java "${opts[@]}" ${tm[0]} -cp "${cp[*]}" org.apache.flink.runtime.taskexecutor.TaskManagerRunner --configDir "$conf" ${tm[1]} &',
        "taskmanager=$!",
        "# Bash as PID 1 ignores SIGTERM: stop the JVMs on it, or retiring a pod waits out its grace period.",
        `trap 'kill -TERM "$jobmanager" "$taskmanager" 2>/dev/null; wait; exit 143' TERM INT`,
        `for _ in $(seq 1 120); do (exec 3<>/dev/tcp/127.0.0.1/${REST_PORT}) 2>/dev/null && break; sleep 1; done`,
        `jar=$FLINK_HOME/examples/streaming/${spec.job}.jar`,
        '[ -f "$jar" ] || jar=$FLINK_HOME/examples/streaming/flink-examples-streaming.jar',
        `FLINK_CONF_DIR=$conf java "\${opts[@]}" -cp "\${cp[*]}" org.apache.flink.client.cli.CliFrontend run -d -c ${JOB_CLASSES[spec.job]} "$jar"${args.length ? " " + words(args) : ""}`,
        'wait -n "$jobmanager" "$taskmanager" || status=$?',
        'echo "flink-minimal: a Flink JVM exited (status ${status:-0}); stopping the container" >&2',
        'exit "${status:-1}"',
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
    /** A restored pod's migration attempt: a new attempt is a new pod (a spec change replaces it). */
    readonly attempt?: string;
    /** A pod restored straight from a checkpoint archive on its node: the archive's path. */
    readonly restoreArchive?: string;
}

/** The pod manifest; `image` is the Flink image, or a checkpoint image when restoring from one. */
export function flinkPodManifest(a: PodArgs) {
    const memory = `${flinkPodMemoryMb(a.spec)}Mi`;
    return {
        apiVersion: "v1",
        kind: "Pod",
        metadata: {
            name: a.name,
            namespace: a.namespace,
            labels: { app: "flink-minimal", "live-migration-lab/stage": a.stage },
            annotations: {
                [TCP_ANNOTATION]: "loopback", [JOB_ANNOTATION]: a.spec.job,
                // The lab's CRI proxy (cri-proxy/) hands CRI-O this archive instead of the image.
                ...(a.restoreArchive ? { [restoreAnnotation(FLINK_CONTAINER)]: a.restoreArchive } : {}),
                // A restored pod (from the archive or a checkpoint image) is not waited for: the
                // migration's cutover verifies the restored job, and the target restores it only
                // while that cutover runs (the fence, migration/programs/fence.sh), so waiting for
                // Ready before the cutover would never end (pulumi.com/skipAwait, honoured by the
                // official provider and the lab's own).
                ...(a.stage !== "initial" ? { "pulumi.com/skipAwait": "true" } : {}),
            },
        },
        spec: {
            nodeName: a.nodeName,
            restartPolicy: "Never",
            // A node whose CRI-O or kubelet is down turns NotReady, and Kubernetes deletes the pods
            // on it 300 s later unless they tolerate that (taint-based eviction, with the API
            // server's default tolerations). This bare pod would not come back, nor the job with it:
            // its memory is on that node, so it waits for the node instead (as DaemonSet pods do).
            tolerations: NODE_OUTAGE_TOLERATIONS,
            containers: [{
                name: FLINK_CONTAINER,
                image: a.image,
                imagePullPolicy: a.pull ? "IfNotPresent" : "Never",
                // The entrypoint travels in the spec, not as a file: bash keeps its script file open,
                // and a ConfigMap file's path (a timestamped directory) does not exist on the node a
                // checkpoint is restored on ("Can't open file etc/flink-minimal/..<time>/entrypoint.sh").
                command: ["bash", "-c", renderEntrypoint(a.spec)],
                ...(a.attempt ? { env: [{ name: "LAB_MIGRATION_ATTEMPT", value: a.attempt }] } : {}),
                resources: { requests: { memory, cpu: "500m" }, limits: { memory } },
                volumeMounts: [{ name: "conf", mountPath: FLINK_CONF_MOUNT, readOnly: true }],
            }],
            volumes: [{ name: "conf", configMap: { name: a.configMapName } }],
        },
    };
}

/** The image label holding the digest of the inputs an image was built from. */
export const INPUTS_LABEL = "live-migration-lab.inputs";

/**
 * Builds the local lab's Flink image in the node's image store from the inputs scripts/flink-build.sh
 * made on the host (Debian's JRE as a rootfs tar, Flink's jars from Maven Central). Rebuilds only
 * when the inputs changed. `--timestamp 0` makes every node's image id the same, which a restore
 * needs: a checkpoint archive names its base image by id.
 */
export function flinkImageScript(version: string, image: string): string {
    const src = `${IMAGE_INPUTS_DIR}/flink-${version}`;
    return nodeProgram("node/programs/build-image.sh", `flink image ${image}`, {
        TAR: `${src}/jre.tar`, DIGEST: `${src}/inputs.sha256`, IMAGE: image, LABEL: INPUTS_LABEL,
        ADD_DIR: `${src}/flink`, ADD_TO: FLINK_HOME, ENVS: `FLINK_HOME=${FLINK_HOME}`, WORKDIR: FLINK_HOME,
        MISSING: `run scripts/flink-build.sh ${version} on the host (scripts/lab.sh up does)`,
    });
}

/** What the probe reports about the Flink job in a pod (flinkProbeScript). */
export type FlinkProbe = WorkloadProbe;

/**
 * Lines that set "$cid" and "$pid" (its first process, on the node) to the pod's running Flink
 * container, or fail naming the pod. `state` "any" also finds a container that has exited.
 */
export function flinkContainerLines(a: ProbeArgs, state: "running" | "any" = "running"): string[] {
    return [
        libraryText("node/programs/container.sh"),
        `found=$(find_container ${words([CRIO_SOCKET, FLINK_CONTAINER, a.pod, a.namespace, state])}); read -r cid pid <<<"$found"`,
    ];
}

/**
 * Asks the job in a pod for its id, status and progress, through Flink's REST API inside the pod's
 * network namespace (the endpoint listens on loopback only), from the node the pod runs on
 * (programs/probe.sh and probe.py). Works with any image. Prints one FlinkProbe JSON line.
 */
export function flinkProbeScript(a: ProbeArgs): string {
    return nodeProgram("flink/programs/probe.sh", `flink probe ${a.pod}`, {
        CRIO_ENDPOINT: CRIO_SOCKET, CONTAINER: FLINK_CONTAINER, POD: a.pod, NAMESPACE: a.namespace, REST_PORT,
        PY_PROBE: programText("flink/programs/probe.py"),
    }, ["node/programs/container.sh"]);
}

/**
 * Verifies a restored job on the node its pod runs on (workload/programs/verify.sh): the same job,
 * RUNNING, its record count not below the source's before the checkpoint and growing. Prints the last
 * probe plus `seconds`.
 */
export function flinkVerifyScript(a: VerifyArgs): string {
    return verifyScript(a, flinkProbeScript(a));
}

/** The Flink job as the migration chain sees it. */
export const FLINK_CHAIN: MigratingWorkload = {
    name: "flink",
    podPrefix: FLINK_POD,
    containers: [FLINK_CONTAINER],
    probeScript: flinkProbeScript,
    verifyScript: flinkVerifyScript,
};
