// The flink-minimal pod: its manifest, entrypoint, Flink config, image script, probe and verify.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as YAML from "yaml";
import { validateConfig } from "../../components/config/config";
import { FLINK_FREEZE_TOLERANCE_MS, FLINK_MAX_PAUSE_SECONDS, flinkConf, flinkImageScript, flinkPodManifest, flinkProbeScript, renderEntrypoint, renderFlinkConf } from "../../components/flink/flink";

const spec = validateConfig({}, false).flink;

describe("flink-minimal pod", () => {
    it("has a valid Flink config: REST on, current state backend keys, loopback addresses", () => {
        const conf = YAML.parse(renderFlinkConf(spec));
        assert.equal(conf["rest.port"], 8081);
        assert.equal(conf["state.backend.type"], "hashmap");
        assert.equal(conf["state.checkpoint-storage"], "filesystem");
        assert.match(conf["state.checkpoints.dir"], /^file:\/\//);
        assert.equal(conf["state.backend"], undefined, "the deprecated key is not used");
        for (const k of ["jobmanager.rpc.address", "jobmanager.bind-host", "taskmanager.host", "taskmanager.bind-host", "rest.bind-address"]) {
            assert.equal(conf[k], "localhost", `${k} stays on loopback so connections restore on another node`);
        }
        assert.equal(conf["env.java.opts.all"], undefined, "no Flink script reads it: the entrypoint passes JVM options itself");
    });

    it("starts both JVMs with the CRIU-friendly options and submits an unbounded example job once", () => {
        const entry = renderEntrypoint({ ...spec, args: ["--error-rate", "0.0"] });
        assert.match(entry, /CliFrontend run -d -c org\.apache\.flink\.streaming\.examples\.statemachine\.StateMachineExample "\$jar" '--error-rate' '0\.0'$/m);
        assert.equal(entry.match(/CliFrontend run/g)?.length, 1, "one submission");
        assert.match(entry, /StandaloneSessionClusterEntrypoint/);
        assert.match(entry, /TaskManagerRunner/);
        assert.match(entry, /'-XX:-UsePerfData'/);
        assert.match(entry, /'--add-opens=java\.base\/java\.util=ALL-UNNAMED'/);
        assert.ok(!/--input|WordCount/.test(entry));
        // PID 1 waits for the JVMs and exits with them, so a dead JobManager shows as a failed pod.
        assert.match(entry, /wait -n "\$jobmanager" "\$taskmanager"/);
        assert.equal(spawnSync("bash", ["-n"], { input: entry }).status, 0, "entrypoint parses");
    });

    it("throttles StateMachineExample's generator unless args are given", () => {
        assert.match(renderEntrypoint({ ...spec, args: [] }), /StateMachineExample "\$jar" '--rps' '100'$/m);
        assert.match(renderEntrypoint({ ...spec, job: "TopSpeedWindowing", args: [] }), /windowing\.TopSpeedWindowing "\$jar"$/m);
    });

    it("builds the local image reproducibly from the host's inputs, and probes the job through REST inside the pod", () => {
        const build = flinkImageScript("1.20.0", "localhost/flink-minimal:1.20.0");
        assert.match(build, /buildah commit --quiet --timestamp 0/);
        assert.match(build, /\/opt\/lab\/images\/flink-1\.20\.0/);
        assert.equal(spawnSync("bash", ["-n"], { input: build }).status, 0, "image script parses");
        const probe = flinkProbeScript({ namespace: "default", pod: "flink-minimal" });
        assert.match(probe, /nsenter", "-t", pid, "-n", "curl"/);
        assert.match(probe, /^REST_PORT='8081'$/m);
        assert.match(probe, /http:\/\/127\.0\.0\.1:\{port\}/);
        assert.equal(spawnSync("bash", ["-n"], { input: probe }).status, 0, "probe script parses");
    });

    it("pins the pod to its node with JobManager and TaskManager in one container", () => {
        const pod = flinkPodManifest({ name: "flink-minimal", namespace: "default", nodeName: "worker", image: "img", configMapName: "c", stage: "initial", spec, pull: false });
        assert.equal(pod.spec.nodeName, "worker");
        assert.equal(pod.spec.containers.length, 1);
        assert.equal(pod.spec.containers[0].imagePullPolicy, "Never");
        assert.equal(pod.spec.containers[0].resources.limits.memory, "2048Mi");
        assert.equal(pod.metadata.annotations["live-migration-lab/tcp-connections"], "loopback");
        assert.equal(flinkConf(spec)["taskmanager.memory.process.size"], "1024m");
        assert.equal(pod.metadata.annotations["pulumi.com/skipAwait"], undefined, "the first pod is waited for");
        // Not deleted 300 s after its node turns NotReady (CRI-O or the kubelet down): the job is there.
        assert.deepEqual(pod.spec.tolerations, [
            { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute" },
            { key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute" },
        ]);
    });

    it("does not wait for a restored pod to be Ready, from an archive or a checkpoint image: its cutover verifies it, and it is restored only while that cutover runs", () => {
        const base = { name: "flink-minimal-m1", namespace: "default", nodeName: "master", configMapName: "c", stage: "m1", spec, pull: false };
        const fromImage = flinkPodManifest({ ...base, image: "localhost/flink-minimal-checkpoint:m1" });
        const fromArchive = flinkPodManifest({ ...base, image: "img", restoreArchive: "/var/lib/live-migration-lab/checkpoints/m1.tar" });
        assert.equal(fromImage.metadata.annotations["pulumi.com/skipAwait"], "true");
        assert.equal(fromArchive.metadata.annotations["pulumi.com/skipAwait"], "true");
        assert.equal((fromArchive.metadata.annotations as Record<string, string>)["live-migration-lab/restore.flink"], "/var/lib/live-migration-lab/checkpoints/m1.tar");
    });

    it("lets Flink outwait the longest hold: heartbeat and RPC timeouts above cutover.maxPauseSeconds' maximum", () => {
        const longestHoldMs = FLINK_MAX_PAUSE_SECONDS * 1000;
        const conf = flinkConf(spec);
        assert.ok(FLINK_FREEZE_TOLERANCE_MS > longestHoldMs);
        assert.equal(conf["heartbeat.timeout"], FLINK_FREEZE_TOLERANCE_MS);
        // Flink 1.20's key (akka.ask.timeout is its deprecated name); a duration with its unit.
        assert.equal(conf["pekko.ask.timeout"], `${FLINK_FREEZE_TOLERANCE_MS} ms`);
    });
});
