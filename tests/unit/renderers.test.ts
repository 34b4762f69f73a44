import { strict as assert } from "assert";
import { execFileSync, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as TOML from "smol-toml";
import * as YAML from "yaml";
import { validateConfig } from "../../components/config/config";
import { CRIO_VERSIONS, crioKeySource, dottedKeys, isCrioKey, renderCrioDropIn, renderCrioDropIns } from "../../components/node/crio";
import { criuConfigPaths, parseCriuConf, renderCriuConf } from "../../components/node/criu";
import { cgroupWarnings, checkpointFeatureGates, renderKubeletConfig } from "../../components/node/kubelet";
import { FLINK_FREEZE_TOLERANCE_MS, FLINK_MAX_PAUSE_SECONDS, flinkConf, flinkImageScript, flinkVerifyScript, flinkPodManifest, flinkProbeScript, renderEntrypoint, renderFlinkConf } from "../../components/flink/flink";
import { clusterReadyScript, renderCheckpointRbac, renderKubeadmInitConfig, renderKubeadmInitScript, renderKubeadmJoinConfig, renderKubeadmJoinScript, renderKubeadmResetScript, renderNodeInstallScript } from "../../components/cluster/kubeadm";
import { nodeAddress } from "../../components/drivers";
import { renderVagrantfile } from "../../components/drivers/vagrant";
import * as scripts from "../../components/node/scripts";
import { cutoverScript, holdScript, leaseTool, renderOciRuntime } from "../../components/migration/cutover";
import { phases, renderTimeline } from "../../scripts/timeline";
import { planMigrations } from "../../components/migration/plan";
import { archiveDirProblems, fileState, parseProbe, probeScript } from "../../components/node/drift";
import { attemptOf } from "../../components/migration/migration";
import * as local from "../../components/cluster/localCluster";
import crioKeys from "../../components/node/crio-keys.json";

const spec = validateConfig({}, false).flink;

describe("CRI-O drop-in", () => {
    for (const version of CRIO_VERSIONS) {
        for (const level of ["none", "checkpoint_restore"] as const) {
            it(`renders valid TOML with only keys CRI-O ${version} has, or the restore switch its patch releases know (${level})`, () => {
                for (const [restoreSwitch, text] of Object.entries(renderCrioDropIns({ version, runtime: "runc", checkpointRestore: level, runtimePath: "/usr/sbin/runc" }))) {
                    const doc = TOML.parse(text!) as Record<string, unknown>;
                    for (const key of dottedKeys(doc)) {
                        const known = isCrioKey(version, key) || (key === "crio.checkpoint_restore.container_level_enabled" && isCrioKey("1.37", key));
                        assert.ok(known, `${key} is not a CRI-O ${version} key (${restoreSwitch})`);
                    }
                    assert.ok(text!.includes(crioKeySource(version)), "names where its key list came from");
                }
            });
        }
    }

    it("uses enable_criu_support where the node's crio has no container_level_enabled, whatever its minor", () => {
        for (const version of ["1.34", "1.37"]) {
            const doc = TOML.parse(renderCrioDropIn({ version, runtime: "runc", checkpointRestore: "checkpoint_restore", restoreSwitch: "enable_criu_support" })) as any;
            assert.equal(doc.crio.runtime.enable_criu_support, true);
            assert.equal(doc.crio.checkpoint_restore, undefined);
        }
        const off = TOML.parse(renderCrioDropIn({ version: "1.34", runtime: "runc", checkpointRestore: "none", restoreSwitch: "enable_criu_support" })) as any;
        assert.equal(off.crio.runtime.enable_criu_support, false);
    });

    it("uses [crio.checkpoint_restore] container_level_enabled where the node's crio knows it (1.34 patch releases too), with restore on", () => {
        for (const version of ["1.34", "1.37"]) {
            const doc = TOML.parse(renderCrioDropIn({ version, runtime: "crun", checkpointRestore: "checkpoint_restore", restoreSwitch: "container_level_enabled" })) as any;
            assert.equal(doc.crio.checkpoint_restore.container_level_enabled, "checkpoint_restore");
            assert.equal(doc.crio.runtime.enable_criu_support, undefined, "the deprecated switch is not rendered");
            assert.equal(doc.crio.runtime.default_runtime, "crun");
        }
    });

    it("has no enable_criu_support variant for checkpoint_only, which that switch cannot express", () => {
        assert.deepEqual(Object.keys(renderCrioDropIns({ version: "1.34", runtime: "runc", checkpointRestore: "checkpoint_only" })), ["container_level_enabled"]);
        assert.deepEqual(Object.keys(renderCrioDropIns({ version: "1.34", runtime: "runc", checkpointRestore: "checkpoint_restore" })), ["container_level_enabled", "enable_criu_support"]);
    });

    it("merges user settings under the program's keys", () => {
        const doc = TOML.parse(renderCrioDropIn({ version: "1.34", runtime: "runc", checkpointRestore: "checkpoint_restore", restoreSwitch: "enable_criu_support", settings: { crio: { runtime: { log_level: "debug" } } } })) as any;
        assert.equal(doc.crio.runtime.log_level, "debug");
        assert.equal(doc.crio.runtime.enable_criu_support, true);
    });

    it("keeps the CRI-O key list with the commit it came from, and no criu_* keys in any release", () => {
        for (const [version, entry] of Object.entries(crioKeys.versions)) {
            assert.match(entry.source, /^cri-o\/cri-o \S+ \([0-9a-f]{40}\) pkg\/config\/config\.go$/, version);
            for (const keys of Object.values(entry.tables)) assert.ok(!keys.some(k => k.startsWith("criu")), `${version} lists a criu key`);
        }
        assert.ok(isCrioKey("1.34", "crio.runtime.runtimes.runc.allowed_annotations"));
        assert.ok(!isCrioKey("1.34", "crio.runtime.criu_path"));
        assert.ok(!isCrioKey("1.36", "crio.checkpoint_restore.container_level_enabled"));
        assert.ok(isCrioKey("1.37", "crio.checkpoint_restore.container_level_enabled"));
    });
});

describe("CRIU config file", () => {
    it("renders one option per line without dashes, both sides merged", () => {
        const text = renderCriuConf({ dump: ["tcp-established", "link-remap", "ghost-limit  10M"], restore: ["tcp-established", "file-locks"] });
        assert.deepEqual(parseCriuConf(text), ["tcp-established", "link-remap", "ghost-limit 10M", "file-locks"]);
        assert.ok(!/^--/m.test(text));
    });

    it("is /etc/criu/runc.conf for runc, and crun.conf then runc.conf for crun", () => {
        assert.deepEqual(criuConfigPaths("runc"), ["/etc/criu/runc.conf"]);
        assert.deepEqual(criuConfigPaths("crun"), ["/etc/criu/crun.conf", "/etc/criu/runc.conf"]);
    });
});

describe("kubelet settings", () => {
    const cases: [string, Record<string, boolean>][] = [["1.25.0", { ContainerCheckpoint: true }], ["1.29.9", { ContainerCheckpoint: true }], ["1.30.0", {}], ["1.34.1", {}]];
    for (const [version, gates] of cases) {
        it(`sets the ContainerCheckpoint gate only where ${version} needs it`, () => {
            assert.deepEqual(checkpointFeatureGates(version), gates);
            const doc = YAML.parse(renderKubeletConfig({ kubernetesVersion: version, cgroupDriver: "systemd", clientCAFile: "/ca.crt" }));
            assert.equal(doc.kind, "KubeletConfiguration");
            assert.deepEqual(doc.featureGates ?? {}, gates);
            assert.equal(doc.containerRuntimeEndpoint, "unix:///var/run/crio/crio.sock");
            assert.equal(doc.authentication.anonymous.enabled, false, "the checkpoint endpoint is not anonymous");
        });
    }
    it("sets failCgroupV1: false only for a cgroup v1 node's kubelet from 1.35 (KEP-5573)", () => {
        const fail = (version: string, cgroup?: "v1" | "v2") => YAML.parse(renderKubeletConfig({ kubernetesVersion: version, cgroupDriver: "cgroupfs", clientCAFile: "/ca.crt", cgroup })).failCgroupV1;
        assert.equal(fail("1.37.2", "v1"), false);
        assert.equal(fail("1.35.4", "v1"), false);
        for (const [v, cg] of [["1.37.2", "v2"], ["1.34.1", "v1"], ["1.37.2", undefined]] as const) assert.equal(fail(v, cg), undefined, `${v} ${cg}`);
    });
});

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

describe("vagrant and kubeadm", () => {
    it("numbers node addresses from .10 of the subnet", () => {
        assert.equal(nodeAddress("192.168.56.0/24", 0), "192.168.56.10");
        assert.equal(nodeAddress("10.231.0.0/24", 1), "10.231.0.11");
    });

    const vagrantfile = (provider: "libvirt" | "virtualbox") => renderVagrantfile({ provider, box: "debian/bookworm64", cpus: 2, memoryMb: 4096, nodes: [{ name: "master", address: "192.168.56.10" }, { name: "worker", address: "192.168.56.11" }] });
    it("renders a Vagrantfile with one VM per node", () => {
        const text = vagrantfile("libvirt");
        assert.match(text, /config\.vm\.provider :libvirt/);
        assert.match(text, /\["master", "192\.168\.56\.10"\]/);
        assert.match(text, /\["worker", "192\.168\.56\.11"\]/);
    });

    it("installs CRI-O and Kubernetes from their official repositories at the pinned versions", () => {
        const text = renderNodeInstallScript({ kubernetesVersion: "1.34.1", crioVersion: "1.34" });
        assert.match(text, /https:\/\/pkgs\.k8s\.io\/core:\/stable:\/v1\.34\/deb\//);
        assert.match(text, /https:\/\/download\.opensuse\.org\/repositories\/isv:\/cri-o:\/stable:\/v1\.34\/deb\//);
        assert.match(text, /^KUBERNETES_VERSION='1\.34\.1'$/m);
        assert.match(text, /"kubelet=\$\{KUBERNETES_VERSION\}-\*"/);
        assert.match(text, /criu/);
    });

    it("grants the API server's kubelet client the checkpoint API, which kubeadm 1.37's role for it lacks (applied after kubeadm init)", () => {
        const [role, binding] = YAML.parseAllDocuments(renderCheckpointRbac()).map(d => d.toJS());
        assert.deepEqual(role.rules, [{ apiGroups: [""], resources: ["nodes/checkpoint"], verbs: ["create"] }]);
        assert.deepEqual(binding.subjects, [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "kube-apiserver-kubelet-client" }]);
        assert.equal(binding.roleRef.name, role.metadata.name);
        assert.match(renderKubeadmInitScript("/etc/live-migration-lab/kubeadm.yaml"), /kubectl --kubeconfig "\$ADMIN_KUBECONFIG" apply -f -/);
    });

    it("renders kubeadm config documents that parse, with CRI-O as the runtime and the lab's kubelet drop-in directory", () => {
        const facts = { cgroupDriver: "systemd" as const, imagePullPolicy: "IfNotPresent" as const, ignorePreflightErrors: [] };
        const docs = YAML.parseAllDocuments(renderKubeadmInitConfig({ kubernetesVersion: "1.34.1", master: { name: "master", address: "192.168.56.10" }, facts })).map(d => d.toJS());
        assert.deepEqual(docs.map(d => d.kind), ["InitConfiguration", "ClusterConfiguration", "KubeletConfiguration", "KubeProxyConfiguration"]);
        assert.equal(docs[0].nodeRegistration.criSocket, "unix:///var/run/crio/crio.sock");
        assert.deepEqual(docs[0].nodeRegistration.kubeletExtraArgs, [{ name: "node-ip", value: "192.168.56.10" }, { name: "config-dir", value: "/etc/kubernetes/kubelet.conf.d" }]);
        assert.equal(docs[0].nodeRegistration.ignorePreflightErrors, undefined);
        assert.equal(docs[1].kubernetesVersion, "v1.34.1");
        assert.equal(docs[2].cgroupDriver, "systemd");
        const join = YAML.parse(renderKubeadmJoinConfig({ node: { name: "worker", address: "192.168.56.11" }, facts: { ...facts, ignorePreflightErrors: ["Swap"] } }));
        assert.equal(join.kind, "JoinConfiguration");
        assert.deepEqual(join.nodeRegistration.ignorePreflightErrors, ["Swap"]);
        assert.equal(join.discovery.bootstrapToken.token, "@BOOTSTRAP_TOKEN@");
    });
});

describe("transferred archive names", () => {
    it("give a retried hop an archive of its own, so a pod left waiting by a failed attempt never takes it", () => {
        assert.equal(scripts.transferredArchive({ targetDir: "/a", id: "m2", attempt: "first" }), "/a/m2.tar");
        assert.equal(scripts.transferredArchive({ targetDir: "/a", id: "m2", attempt: "retry ef7afd83fae8" }), "/a/m2-ef7afd83fae8.tar");
    });
});

describe("node scripts", () => {
    const all: [string, string][] = [
        ["write", scripts.writeFileScript("/etc/criu/runc.conf", 0o644, "crio")],
        ["dir", scripts.ensurePrivateDirScript("/var/lib/x")],
        ["criu", scripts.criuCheckScript()],
        ["preflight", scripts.preflightScript({ archiveDir: "/var/lib/x", imageStore: "/var/lib/containers/storage", rssBytes: 600 * 1048576, copy: "joined copy" })],
        ["checkpoint", scripts.checkpointScript({ kubeletAddress: "10.0.0.1", namespace: "default", pod: "p", containers: ["c", "d"], clientCert: "/c", clientKey: "/k", timeoutSeconds: 30 })],
        ["transfer", scripts.transferScript({ from: { host: "10.0.0.1", port: 22, user: "root" }, source: { archive: "/a.tar" }, targetDir: "/var/lib/x", id: "m1", attempt: "first" })],
        ["image", scripts.checkpointImageScript({ archive: "/a.tar", image: "localhost/x:m1", container: "flink" })],
        ["hold", holdScript({ id: "m1", namespace: "default", pod: "p", containers: ["flink"], maxPauseSeconds: 60, checkpointTimeoutSeconds: 300 }, "first")],
        ["cutover", cutoverScript({ id: "m1", archives: ["/var/lib/x/m1.tar"], checkpointed: ["/s.tar"], sent: ["/s.tar"], maxPauseSeconds: 40, source: { host: "10.0.0.1", port: 22, user: "vagrant" }, namespace: "default", pod: "p-m1", jobId: "0123456789abcdef0123456789abcdef", recordsBefore: 10, timeoutSeconds: 60, containers: ["flink"], verify: flinkVerifyScript({ namespace: "default", pod: "p-m1", jobId: "0123456789abcdef0123456789abcdef", recordsBefore: 10, timeoutSeconds: 60 }) })],
        ["verify", flinkVerifyScript({ namespace: "default", pod: "p", jobId: "0123456789abcdef0123456789abcdef", recordsBefore: 10, timeoutSeconds: 60 })],
        ["prune", scripts.pruneArchivesScript("/var/lib/x", 3)],
        ["install", renderNodeInstallScript({ kubernetesVersion: "1.34.1", crioVersion: "1.34" })],
        ["init", renderKubeadmInitScript("/etc/k.yaml")],
        ["join", renderKubeadmJoinScript("/etc/j.yaml")],
        ["reset", renderKubeadmResetScript(["flink-minimal", "redis"])],
        ["cluster ready", clusterReadyScript(["master", "worker"], 30)],
        ["local images", local.localImagesScript("1.34.1")],
        ["local pod routes", local.podRoutesScript([{ subnet: "10.85.1.0/24", via: "10.9.0.11" }])],
        ["local kubelet", local.startServiceScript(local.kubeletService())],
        ["local crio", local.startServiceScript(local.crioService())],
        ["local stop", local.stopServiceScript("crio")],
    ];
    for (const [name, text] of all) {
        it(`${name}: parses with bash -n and fails loudly (set -euo pipefail)`, () => {
            assert.match(text, /^#!\/usr\/bin\/env bash\n/);
            assert.match(text, /^set -euo pipefail$/m);
            const r = spawnSync("bash", ["-n"], { input: text });
            assert.equal(r.status, 0, String(r.stderr));
        });
    }

    describe("run for real in a scratch directory", () => {
        let dir: string;
        beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "lml-")); });
        afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
        /** Runs a node program with the node's record of managed files in the scratch directory, never the machine's. */
        const run = (text: string, input = "") => execFileSync("bash", ["-c", text.split(`'${scripts.MANAGED_FILES_RECORD}'`).join(`'${dir}/record'`)], { input, encoding: "utf8" });

        it("writes a managed file once, reports unchanged after, and restores a hand edit", () => {
            const file = path.join(dir, "criu", "runc.conf");
            // A stand-in systemctl on PATH: crio is active, and a restart is recorded.
            fs.mkdirSync(path.join(dir, "bin"));
            fs.writeFileSync(path.join(dir, "bin", "systemctl"), `#!/bin/sh\n[ "$1" = restart ] && echo changed >>${dir}/hooks\nexit 0\n`, { mode: 0o755 });
            const w = `PATH=${dir}/bin:$PATH\n${scripts.writeFileScript(file, 0o644, "crio")}`;
            const first = JSON.parse(run(w, "tcp-established\n"));
            assert.equal(first.state, "written");
            assert.equal(fs.readFileSync(file, "utf8"), "tcp-established\n");
            assert.equal((fs.statSync(file).mode & 0o777).toString(8), "644");
            assert.equal(JSON.parse(run(w, "tcp-established\n")).state, "unchanged");
            fs.writeFileSync(file, "# edited by hand\n");
            // What drift review reads from a node: "<sha256> <mtime>" (a file the program wrote) or "absent".
            const observed = () => parseProbe(run(probeScript([file])))[file];
            assert.notEqual(observed().split(" ")[0], first.sha256, "drift shows in the digest");
            assert.equal(JSON.parse(run(w, "tcp-established\n")).state, "written");
            assert.equal(observed().split(" ")[0], first.sha256);
            assert.equal(fs.readFileSync(path.join(dir, "hooks"), "utf8"), "changed\nchanged\n", "the change hook ran only when content changed");
            run(scripts.putBackFileScript(file));
            assert.equal(observed(), "absent");
        });

        it("makes archive directories root-only and tightens archives already there (as root: it chowns to root)", function () {
            if (process.getuid?.() !== 0) this.skip();
            const archives = path.join(dir, "checkpoints");
            assert.equal(JSON.parse(run(scripts.ensurePrivateDirScript(archives))).found, "created");
            // Loosened by hand since, with an archive in it that is not 0600.
            fs.chmodSync(archives, 0o755);
            fs.writeFileSync(path.join(archives, "old.tar"), "x", { mode: 0o644 });
            const out = JSON.parse(run(scripts.ensurePrivateDirScript(archives)));
            assert.equal(out.mode, "700");
            assert.equal((fs.statSync(path.join(archives, "old.tar")).mode & 0o777).toString(8), "600");
        });

        it("keeps only the newest archives", () => {
            for (const [i, n] of ["m1", "m2", "m3", "m4"].entries()) {
                const f = path.join(dir, `${n}.tar`);
                fs.writeFileSync(f, n);
                fs.utimesSync(f, 1000 + i, 1000 + i);
            }
            const out = JSON.parse(run(scripts.pruneArchivesScript(dir, 2)));
            assert.deepEqual({ kept: out.kept, removed: out.removed }, { kept: 2, removed: 2 });
            assert.ok(out.dropMs >= 0, "then drops the kept archives from the page cache");
            assert.deepEqual(fs.readdirSync(dir).sort(), ["m3.tar", "m4.tar"]);
        });

        it("keeps the newest archives of each container of a pod apart (one glob per container)", () => {
            for (const [i, n] of ["r1", "r2", "r3"].entries()) {
                for (const c of ["server", "sidecar"]) {
                    const f = path.join(dir, `checkpoint-redis-${n}_default-${c}-x.tar`);
                    fs.writeFileSync(f, n);
                    // The sidecar's archives are all newer than the server's: one glob for both would keep only them.
                    fs.utimesSync(f, (c === "sidecar" ? 2000 : 1000) + i, (c === "sidecar" ? 2000 : 1000) + i);
                }
            }
            const out = JSON.parse(run(scripts.pruneArchivesScript(dir, 2, "checkpoint-redis*_default-server-*.tar", "checkpoint-redis*_default-sidecar-*.tar")));
            assert.deepEqual({ kept: out.kept, removed: out.removed }, { kept: 4, removed: 2 });
            assert.deepEqual(fs.readdirSync(dir).sort(), ["r2", "r3"].flatMap(n => [`checkpoint-redis-${n}_default-server-x.tar`, `checkpoint-redis-${n}_default-sidecar-x.tar`]).sort());
        });

        it("reports the node's cgroup mode (criu-check.sh), and the program warns where a kubelet from 1.35 runs on cgroup v1", () => {
            const r = spawnSync("bash", ["-c", scripts.criuCheckScript()], { encoding: "utf8" });
            const mode = fs.existsSync("/sys/fs/cgroup/cgroup.controllers") ? "v2" : fs.existsSync("/sys/fs/cgroup/unified") ? "hybrid" : "v1";
            if (r.status === 0) assert.equal(JSON.parse(r.stdout).cgroup, mode);
            else assert.doesNotMatch(r.stderr, /cgroup/, "a failing criu check is about CRIU, never the cgroup mode");
            const warned = cgroupWarnings("1.37.2", { master: { cgroup: "hybrid" }, worker: { cgroup: "v2" } });
            assert.equal(warned.length, 1);
            assert.match(warned[0], /^node master runs cgroup v1 \(hybrid: v2 mounted without controllers\): the kubelet 1\.37\.2 refuses cgroup v1 by default \(KEP-5573\), so the program set failCgroupV1: false in its drop-in \(\/etc\/kubernetes\/kubelet\.conf\.d\/50-live-migration-lab\.conf\) and kubeadm skips its SystemVerification preflight there/);
            assert.deepEqual(cgroupWarnings("1.34.1", { master: { cgroup: "v1" } }), [], "1.34 runs on cgroup v1 as it is");
        });

        it("refuses to transfer without a key on stdin, saying so", () => {
            const r = spawnSync("bash", ["-c", scripts.transferScript({ from: { host: "127.0.0.1", port: 1, user: "root" }, source: { archive: "/a.tar" }, targetDir: dir, id: "m1", attempt: "first" })], { input: "", encoding: "utf8" });
            assert.notEqual(r.status, 0);
            assert.match(r.stderr, /no SSH private key on stdin/);
        });
    });
});

describe("archive stream (migration/programs/archive-stream.py): sent while it is written, for real", () => {
    const program = path.resolve(__dirname, "../../components/migration/programs/archive-stream.py");
    let dir = "";
    beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "lml-stream-")); fs.mkdirSync(path.join(dir, "hold")); fs.mkdirSync(path.join(dir, "ckpt")); });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
    const prefix = "checkpoint-p_default-c-";
    /** send into a pipe, as transfer.sh runs it over SSH; `writer` runs beside it. */
    const stream = (writer: string, timeout = 5) => spawnSync("bash", ["-c", `set -o pipefail; (${writer}) & python3 ${program} send ${dir}/hold ${dir}/ckpt ${prefix} ${timeout} 2>${dir}/sent | cat >${dir}/dest; rc=$?; wait; exit $rc`], { encoding: "utf8" });
    const said = () => fs.readFileSync(path.join(dir, "sent"), "utf8");
    const now = `$(date +%s%3N)`;

    it("sends the archive CRI-O is still writing, to its end once the thaw is recorded", () => {
        const tar = `${dir}/ckpt/${prefix}2026-11-30T12:00:00Z.tar`;
        // An older archive of the same container (an earlier attempt) is left alone.
        fs.writeFileSync(`${dir}/ckpt/${prefix}2026-11-30T11:00:00Z.tar`, "old");
        fs.utimesSync(`${dir}/ckpt/${prefix}2026-11-30T11:00:00Z.tar`, 1000, 1000);
        const r = stream(`sleep 0.2; echo ${now} >${dir}/hold/pausedAt; sleep 0.2; for i in 1 2 3 4 5; do head -c 1048576 /dev/urandom >>${tar}; sleep 0.1; done; head -c 512 /dev/zero >>${tar}; echo ${now} >${dir}/hold/heldAt`);
        assert.equal(r.status, 0, r.stderr + said());
        const sent = JSON.parse(said().trim().split("\n").pop()!);
        assert.equal(sent.archive, tar);
        assert.equal(sent.sizeBytes, 5 * 1048576 + 512);
        assert.ok(sent.firstByteAt > 0);
        assert.ok(fs.readFileSync(`${dir}/dest`).equals(fs.readFileSync(tar)), "the copy is the archive, byte for byte");
    });

    it("sends a finished archive as it is (send-file)", () => {
        const tar = `${dir}/ckpt/a.tar`;
        execFileSync("bash", ["-c", `head -c 3145728 /dev/urandom >${tar}`]);
        const r = spawnSync("bash", ["-c", `python3 ${program} send-file ${tar} 2>${dir}/sent >${dir}/dest`], { encoding: "utf8" });
        assert.equal(r.status, 0, said());
        assert.ok(fs.readFileSync(`${dir}/dest`).equals(fs.readFileSync(tar)));
    });

    it("fails, saying why, when the runtime wrapper records a failed dump", () => {
        const r = stream(`echo ${now} >${dir}/hold/pausedAt; sleep 0.2; echo "the runtime's checkpoint exited 1" >${dir}/hold/failed`);
        assert.notEqual(r.status, 0);
        assert.match(said(), /the checkpoint failed \(the runtime's checkpoint exited 1\); no archive to send/);
    });

    it("fails soon when CRI-O never pauses the container (the checkpoint call failed), pointing at that step", () => {
        const r = stream("true", 1);
        assert.notEqual(r.status, 0);
        assert.match(said(), /CRI-O did not pause the held container within 1s \(no .*\/hold\/pausedAt\): see the checkpoint step's error/);
    });

    it("fails when no archive comes within its time, naming where it looked", () => {
        const r = stream(`echo ${now} >${dir}/hold/pausedAt`, 1);
        assert.notEqual(r.status, 0);
        assert.match(said(), new RegExp(`no archive ${dir}/ckpt/${prefix}\\*\\.tar after the pause within 1s`));
    });

    it("refuses an archive that is not a whole tar (cut short)", () => {
        const tar = `${dir}/ckpt/${prefix}x.tar`;
        const r = stream(`echo ${now} >${dir}/hold/pausedAt; sleep 0.1; head -c 1000 /dev/zero >${tar}; echo ${now} >${dir}/hold/heldAt`);
        assert.notEqual(r.status, 0);
        assert.match(said(), /sent 1000 bytes of 1000; not a whole tar archive/);
    });
});

describe("archive split on arrival (migration/programs/archive-split.py): for real, on tar archives of every header kind", () => {
    const program = path.resolve(__dirname, "../../components/migration/programs/archive-split.py");
    let dir = "";
    beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "lml-split-")); });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
    /** A checkpoint archive as CRI-O lays it out, with Python's tarfile in the given format (pax, gnu, ustar). */
    const archive = (format: string) => {
        const file = path.join(dir, `${format}.tar`);
        execFileSync("python3", ["-c", [
            "import io, os, sys, tarfile",
            "fmt = {'pax': tarfile.PAX_FORMAT, 'gnu': tarfile.GNU_FORMAT, 'ustar': tarfile.USTAR_FORMAT}[sys.argv[2]]",
            "def add(t, name, size, **kw):",
            "    i = tarfile.TarInfo(name); i.size = size; i.mode = 0o600",
            "    for k, v in kw.items(): setattr(i, k, v)",
            "    t.addfile(i, io.BytesIO(os.urandom(size)))",
            "with tarfile.open(sys.argv[1], 'w', format=fmt) as t:",
            "    add(t, 'spec.dump', 40); add(t, 'config.dump', 30)",
            "    d = tarfile.TarInfo('checkpoint'); d.type = tarfile.DIRTYPE; d.mode = 0o700; t.addfile(d)",
            "    add(t, 'checkpoint/inventory.img', 100); add(t, 'checkpoint/descriptors.json', 20)",
            "    add(t, 'checkpoint/pages-1.img', 5 * 1048576 + 7, pax_headers={'SCHILY.xattr.user.x': 'y'} if fmt == tarfile.PAX_FORMAT else {})",
            "    add(t, 'checkpoint/pagemap-1.img', 3000); add(t, 'checkpoint/pages-2.img', 12288)",
            "    if fmt != tarfile.USTAR_FORMAT: add(t, 'artifacts/' + 'x' * 150 + '.txt', 9)",
            "    add(t, 'rootfs-diff.tar', 9 * 1048576); add(t, 'empty', 0)",
        ].join("\n"), file, format]);
        return file;
    };
    const members = (tar: string) => execFileSync("tar", ["-tf", tar], { encoding: "utf8" }).trim().split("\n");

    for (const format of ["pax", "gnu", "ustar"]) {
        it(`splits a ${format} archive received through a pipe, and joins it back byte for byte`, () => {
            const tar = archive(format);
            const dest = path.join(dir, "m1.tar");
            const r = spawnSync("bash", ["-c", `cat ${tar} | python3 ${program} receive ${dest}`], { encoding: "utf8" });
            assert.equal(r.status, 0, r.stderr);
            assert.equal(JSON.parse(r.stdout).sizeBytes, fs.statSync(tar).size);
            fs.renameSync(`${dest}.part`, dest);
            // What CRI-O gets: a valid tar with everything but the page images, a few hundred KB at most.
            assert.deepEqual(members(dest), members(tar).filter(m => !/^checkpoint\/pages-\d+\.img$/.test(m)));
            assert.ok(fs.statSync(dest).size < 10 * 1048576, `${fs.statSync(dest).size} bytes`);
            // What CRIU gets: every checkpoint/* file, each the archive's own bytes, root-only.
            const images = fs.readdirSync(`${dest}.images`).sort();
            assert.deepEqual(images, ["descriptors.json", "inventory.img", "pagemap-1.img", "pages-1.img", "pages-2.img"]);
            for (const f of images) {
                assert.ok(fs.readFileSync(path.join(`${dest}.images`, f)).equals(execFileSync("tar", ["-xOf", tar, `checkpoint/${f}`], { maxBuffer: 64 << 20 })), f);
                assert.equal(fs.statSync(path.join(`${dest}.images`, f)).mode & 0o777, 0o600);
            }
            const j = spawnSync("python3", [program, "join", dest, `${dest}.joined`], { encoding: "utf8" });
            assert.equal(j.status, 0, j.stderr);
            assert.ok(fs.readFileSync(`${dest}.joined`).equals(fs.readFileSync(tar)), "joined: the archive as it was sent");
            assert.equal(j.stdout.trim(), execFileSync("sha256sum", [tar], { encoding: "utf8" }).split(" ")[0]);
            // Joined already (a cutover stopped before it cleaned up): the digest is read, nothing written.
            fs.renameSync(`${dest}.joined`, dest);
            const again = spawnSync("python3", [program, "join", dest, `${dest}.joined`], { encoding: "utf8" });
            assert.equal(again.status, 0, again.stderr);
            assert.equal(again.stdout.trim(), j.stdout.trim());
            assert.ok(!fs.existsSync(`${dest}.joined`));
        });
    }

    it("reads a file on stdin too (no splice), and fails, saying where, on an archive cut short", () => {
        const tar = archive("pax");
        const dest = path.join(dir, "m2.tar");
        const r = spawnSync("bash", ["-c", `python3 ${program} receive ${dest} <${tar}`], { encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        fs.rmSync(`${dest}.images`, { recursive: true });
        const cut = spawnSync("bash", ["-c", `head -c 3000000 ${tar} | python3 ${program} receive ${dest}`], { encoding: "utf8" });
        assert.notEqual(cut.status, 0);
        assert.match(cut.stderr, /archive-split: the archive ended after 3000000 bytes, inside a member/);
    });
});

describe("migration planner", () => {
    const FLINK = { name: "flink", node: "worker", nodePath: "flink.node" };
    const REDIS = { name: "redis", node: "master", nodePath: "workloads[0].node" };

    it("chains hops from where the previous one left the job", () => {
        const plan = planMigrations([FLINK], [{ id: "m1", to: "master" }, { id: "m2", to: "worker" }], ["master", "worker"]);
        assert.deepEqual(plan.hops.map(h => [h.id, h.workload, h.from, h.to, h.previous]), [["m1", "flink", "worker", "master", undefined], ["m2", "flink", "master", "worker", "m1"]]);
        assert.deepEqual(plan.current, { flink: "worker" });
        assert.deepEqual(plan.problems, []);
    });

    it("stays put without requests", () => {
        assert.deepEqual(planMigrations([FLINK], [], ["master", "worker"]).current, { flink: "worker" });
    });

    it("moves each workload from where its own previous hop left it, and chains each workload's stages apart", () => {
        const plan = planMigrations([FLINK, REDIS], [
            { id: "r1", workload: "redis", to: "worker" }, { id: "f1", workload: "flink", to: "master" }, { id: "r2", workload: "redis", to: "master" },
        ], ["master", "worker"]);
        assert.deepEqual(plan.problems, []);
        assert.deepEqual(plan.hops.map(h => `${h.id}:${h.workload}:${h.from}->${h.to}:${h.previous ?? "initial"}`),
            ["r1:redis:master->worker:initial", "f1:flink:worker->master:initial", "r2:redis:worker->master:r1"]);
        assert.deepEqual(plan.current, { flink: "master", redis: "master" });
    });

    it("needs the workload named when the stack runs several, and a known one", () => {
        const plan = planMigrations([FLINK, REDIS], [{ id: "m1", to: "master" }, { id: "m2", workload: "postgres", to: "master" }, { id: "m3", workload: "redis", to: "master" }], ["master", "worker"]);
        const lines = plan.problems.map(p => `${p.path}: ${p.message}`);
        assert.ok(lines.some(l => l.startsWith("live-migration-lab:migrations[0].workload: missing; the stack runs 2 workloads") && l.includes(`allowed: "flink", "redis"`)), lines.join("\n"));
        assert.ok(lines.some(l => l.startsWith(`live-migration-lab:migrations[1].workload: got "postgres", which is not a workload of this stack`)), lines.join("\n"));
        assert.ok(lines.some(l => l.startsWith(`live-migration-lab:migrations[2].to: got "master", where workload redis already runs at that point`)), lines.join("\n"));
        assert.equal(lines.length, 3);
    });
});

describe("drift review", () => {
    const sha = (s: string) => require("crypto").createHash("sha256").update(s).digest("hex");

    it("reads digests, mtimes and missing files from a node with its probe script, the host's own files and the archive directory's state", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lml-"));
        try {
            const at = (f: string) => path.join(dir, f);
            fs.writeFileSync(at("runc.conf"), "tcp-established\n");
            fs.utimesSync(at("runc.conf"), 1700000000, 1700000000);
            // The program's record says it wrote runc.conf; hosts.conf is the host's own.
            fs.mkdirSync(path.join(dir, "record", "owned", dir), { recursive: true });
            fs.writeFileSync(path.join(dir, "record", "owned", dir, "runc.conf"), "\n");
            fs.writeFileSync(at("hosts.conf"), "mine\n");
            for (const d of ["own", "empty", "theirs"]) fs.mkdirSync(at(d));
            fs.writeFileSync(at("own/.live-migration-lab"), "found=created\n");
            fs.writeFileSync(at("theirs/a"), "");
            fs.writeFileSync(at("theirs/b"), "");
            const script = probeScript(["runc.conf", "gone.conf", "hosts.conf", "own/", "empty/", "theirs/", "none/"].map(at))
                .split(`'${scripts.MANAGED_FILES_RECORD}'`).join(`'${dir}/record'`);
            // No crio on this PATH: the probe says so (crio-switch.test.ts runs it with one).
            const observed = parseProbe(execFileSync("bash", ["-s"], { input: script, encoding: "utf8", env: { ...process.env, PATH: "/usr/bin:/bin" } }));
            assert.deepEqual(observed, {
                "crio restore switch": "none", cgroup: fs.existsSync("/sys/fs/cgroup/cgroup.controllers") ? "v2" : "v1",
                [at("runc.conf")]: `${sha("tcp-established\n")} 1700000000`,
                [at("gone.conf")]: "absent",
                [at("hosts.conf")]: `host ${sha("mine\n")}`,
                [at("own/")]: "own -", [at("empty/")]: "empty -", [at("theirs/")]: "foreign 2", [at("none/")]: "absent",
            });
            assert.match(fileState(at("hosts.conf"), "x", observed[at("hosts.conf")]).marker, /^host's own: .*hosts\.conf \(sha256 [0-9a-f]{12}\) is kept aside in .*\/kept.*hosts\.conf and put back on destroy$/);
            const taken = archiveDirProblems({ worker: observed }, at("theirs"), "live-migration-lab:archive.dir");
            assert.equal(taken.length, 1);
            assert.equal(taken[0].path, "live-migration-lab:archive.dir");
            assert.ok(taken[0].message.startsWith(`got "${at("theirs")}", which on node worker already holds 2 entries this program did not write;`), taken[0].message);
            assert.deepEqual(archiveDirProblems({ worker: observed }, at("own"), "x"), []);
            assert.deepEqual(archiveDirProblems({ worker: observed }, at("empty"), "x"), []);
            // A hop's abort log is no managed file: its digest still says which attempt comes next.
            assert.deepEqual(attemptOf(observed[at("hosts.conf")]), { value: `retry ${sha("mine\n").slice(0, 12)}`, retrying: true });
            assert.deepEqual(attemptOf(observed[at("runc.conf")]), { value: `retry ${sha("tcp-established\n").slice(0, 12)}`, retrying: true });
            assert.deepEqual(attemptOf(observed[at("gone.conf")]), { value: "first", retrying: false });
            // The default directory from before the record: the program's own, whatever it holds.
            assert.deepEqual(archiveDirProblems({ worker: { [`${scripts.NODE_ROOT}/checkpoints/`]: "foreign 3" } }, `${scripts.NODE_ROOT}/checkpoints`, "x"), []);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    const cases: [string, string | undefined, boolean, RegExp][] = [
        ["a node not reachable yet is not observed", undefined, false, /^unobserved$/],
        ["the rendered content is in sync", `${sha("tcp-established\n")} 1`, false, /^in-sync$/],
        ["a hand edit is drift naming the file", `${sha("# edited\n")} 1700000000`, true, /^drifted: \/etc\/criu\/runc\.conf was changed on the node \(sha256 [0-9a-f]{12}, mtime 1700000000\)$/],
        ["a deleted file is drift", "absent", true, /^drifted: \/etc\/criu\/runc\.conf is missing$/],
    ];
    for (const [title, observed, drifted, marker] of cases) {
        it(title, () => {
            const s = fileState("/etc/criu/runc.conf", "tcp-established\n", observed);
            assert.equal(s.drifted, drifted);
            assert.match(s.marker, marker);
        });
    }
});

describe("runtime wrapper (oci-runtime.sh, oci-spec-fit.py): a container's spec fitted to what the node can grant", () => {
    let dir = "";
    const lastCap = Number(fs.readFileSync("/proc/sys/kernel/cap_last_cap", "utf8"));
    const full = (2n ** BigInt(lastCap + 1) - 1n);
    const SYS_RESOURCE = 24n;
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "lml-fit-"));
        fs.mkdirSync(path.join(dir, "bundle"));
        fs.writeFileSync(path.join(dir, "runc"), `#!/usr/bin/env bash\necho "$*" >>${dir}/runtime.log\n`, { mode: 0o755 });
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
    /** CRI-O's conmon creating a container through the wrapper, on a node whose bounding set is `bounding`. */
    const create = (bounding: bigint, spec: object) => {
        fs.writeFileSync(path.join(dir, "status"), `Name:\tbash\nCapBnd:\t${bounding.toString(16).padStart(16, "0")}\n`);
        fs.writeFileSync(path.join(dir, "bundle", "config.json"), JSON.stringify(spec));
        fs.writeFileSync(path.join(dir, "wrapper"), renderOciRuntime("runc", path.join(dir, "runc"), path.join(dir, "holds"), path.join(dir, "stats"), path.join(dir, "status"), path.join(dir, "fit.log")), { mode: 0o755 });
        const r = spawnSync(path.join(dir, "wrapper"), ["--root", "/run/runc", "create", "--bundle", path.join(dir, "bundle"), "--pid-file", "p", "c1"], { encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        assert.equal(fs.readFileSync(path.join(dir, "runtime.log"), "utf8").trim(), `--root /run/runc create --bundle ${dir}/bundle --pid-file p c1`, "the runtime gets the same call");
        return JSON.parse(fs.readFileSync(path.join(dir, "bundle", "config.json"), "utf8"));
    };
    const critical = { process: { oomScoreAdj: -997, capabilities: { bounding: ["CAP_CHOWN", "CAP_SYS_RESOURCE", "CAP_NET_ADMIN"], effective: ["CAP_SYS_RESOURCE"] } } };

    it("on a node without CAP_SYS_RESOURCE: drops what it cannot grant and raises oom_score_adj to 0, saying so", () => {
        const spec = create(full & ~(1n << SYS_RESOURCE), critical);
        assert.deepEqual(spec.process, { oomScoreAdj: 0, capabilities: { bounding: ["CAP_CHOWN", "CAP_NET_ADMIN"], effective: [] } });
        assert.match(fs.readFileSync(path.join(dir, "fit.log"), "utf8"), /container c1: the node cannot grant: bounding without CAP_SYS_RESOURCE; effective without CAP_SYS_RESOURCE; oomScoreAdj -997 -> 0/);
    });

    it("fits an exec's process spec too (kubectl exec into such a container)", () => {
        fs.writeFileSync(path.join(dir, "status"), `CapBnd:\t${(full & ~(1n << SYS_RESOURCE)).toString(16).padStart(16, "0")}\n`);
        fs.writeFileSync(path.join(dir, "process.json"), JSON.stringify({ args: ["cat"], capabilities: { effective: ["CAP_SYS_RESOURCE", "CAP_KILL"] } }));
        fs.writeFileSync(path.join(dir, "wrapper"), renderOciRuntime("runc", path.join(dir, "runc"), path.join(dir, "holds"), path.join(dir, "stats"), path.join(dir, "status"), path.join(dir, "fit.log")), { mode: 0o755 });
        const r = spawnSync(path.join(dir, "wrapper"), ["--root", "/run/runc", "exec", "--process", path.join(dir, "process.json"), "c1"], { encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, "process.json"), "utf8")).capabilities, { effective: ["CAP_KILL"] });
    });

    it("on a node with every capability: leaves the spec as it is", () => {
        assert.deepEqual(create(full, critical), critical);
        assert.ok(!fs.existsSync(path.join(dir, "fit.log")));
    });
});

describe("a restored pod's fence (oci-runtime.sh): restored only while its cutover watches", () => {
    const CID = "fe11ce".padEnd(64, "0");
    let dir: string;
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "lml-fence-"));
        for (const d of ["bundle", "fences"]) fs.mkdirSync(path.join(dir, d));
        // The stand-in runtime logs its calls; its `state` names a pid that does not exist, so no fence
        // process is ever started here (it would look for the container's processes on this machine).
        fs.writeFileSync(path.join(dir, "runc"), `#!/usr/bin/env bash
echo "$*" >>${dir}/runtime.log
case " $* " in *" state "*) echo '{"pid": 2147483646}' ;; esac
`, { mode: 0o755 });
        fs.writeFileSync(path.join(dir, "wrapper"), renderOciRuntime("runc", path.join(dir, "runc"), path.join(dir, "holds"), path.join(dir, "stats"), "/proc/self/status", path.join(dir, "fit.log"), path.join(dir, "fences")), { mode: 0o755 });
        // A restored container's spec as CRI-O 1.34 writes it: its new sandbox's name, and a nested container name.
        fs.writeFileSync(path.join(dir, "bundle", "config.json"), JSON.stringify({ annotations: {
            "io.kubernetes.cri-o.SandboxName": "k8s_flink-minimal-m9_default_0c8b-uid_0",
            "io.kubernetes.cri-o.Name": "k8s_k8s_flink_flink-minimal-m8_default_0c8a-uid_0_flink-minimal-m9_default_0c8b-uid0",
        } }));
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
    let fence: string;
    beforeEach(() => { fence = path.join(dir, "fences", "default_flink-minimal-m9"); });
    const restore = () => spawnSync(path.join(dir, "wrapper"), ["--root", "/run/runc", "restore", "--bundle", path.join(dir, "bundle"), "--image-path", path.join(dir, "img"), CID], { encoding: "utf8" });
    const restored = () => fs.existsSync(path.join(dir, "runtime.log")) && fs.readFileSync(path.join(dir, "runtime.log"), "utf8").includes(" restore ");

    it("refuses the restore once the source's hold has ended with no cutover watching, and logs why", () => {
        fs.writeFileSync(fence, `deadline=${Date.now() - 1}\nid=m9\n`);
        const r = restore();
        assert.equal(r.status, 1);
        assert.match(r.stderr, /not restoring default_flink-minimal-m9: no migration cutover watches it and the source's hold has ended/);
        assert.ok(!restored(), "the runtime was not asked to restore");
        assert.match(fs.readFileSync(`${fence}.log`, "utf8"), /not restored: no cutover watched it before the source's hold ended/);
    });

    it("waits for the cutover, then restores", () => {
        fs.writeFileSync(fence, `deadline=${Date.now() + 10_000}\nid=m9\n`);
        // A cutover that turns up a little later: this test process stands in for it (a live pid).
        const late = spawn("bash", ["-c", `sleep 0.4; echo ${process.pid} >${fence}.cutover`], { stdio: "ignore" });
        const t = Date.now();
        const r = restore();
        late.kill();
        assert.equal(r.status, 0, r.stderr);
        assert.ok(Date.now() - t >= 350, "it waited for the cutover");
        assert.ok(restored());
    });

    it("has runc restore from the page images where they arrived when CRI-O unpacked an archive split on arrival", () => {
        const images = path.join(dir, "m9.tar.images");
        fs.mkdirSync(images);
        fs.mkdirSync(path.join(dir, "img"));
        for (const f of ["inventory.img", "pages-1.img"]) fs.writeFileSync(path.join(images, f), "x");
        fs.writeFileSync(path.join(dir, "img", "inventory.img"), "x");
        fs.writeFileSync(fence, `deadline=${Date.now() + 10_000}\nid=m9\nimages=${images}\n`);
        fs.writeFileSync(`${fence}.cutover`, `${process.pid}\n`);
        assert.equal(restore().status, 0);
        assert.match(fs.readFileSync(path.join(dir, "runtime.log"), "utf8"), new RegExp(` restore --bundle \\S+ --image-path ${images} ${CID}`));
        assert.match(fs.readFileSync(`${fence}.log`, "utf8"), /restoring from .*m9\.tar\.images \(the page images as they arrived\)/);
        // A whole archive unpacked by CRI-O (its pages are there): restored from CRI-O's directory.
        fs.rmSync(path.join(dir, "runtime.log"));
        fs.writeFileSync(path.join(dir, "img", "pages-1.img"), "x");
        assert.equal(restore().status, 0);
        assert.match(fs.readFileSync(path.join(dir, "runtime.log"), "utf8"), new RegExp(`--image-path ${path.join(dir, "img")} ${CID}`));
    });

    it("restores a pod without a fence, or one whose cutover watches, at once", () => {
        assert.equal(restore().status, 0);
        assert.ok(restored());
        fs.rmSync(path.join(dir, "runtime.log"));
        fs.writeFileSync(fence, `deadline=${Date.now() - 1}\nid=m9\n`);
        fs.writeFileSync(`${fence}.cutover`, `${process.pid}\n`);
        assert.equal(restore().status, 0);
        assert.ok(restored());
    });
});

describe("migration hold (cutover.ts): the runtime wrapper and the lease run for real against a stand-in runtime", () => {
    // The lease tool only reads and writes freezer.state, so a plain file stands in for the cgroup.
    // A stand-in runtime (REAL) freezes and thaws that file on pause and resume, as runc does; the
    // wrapper (oci-runtime.sh, rendered as nodes get it) sits in front of it. The test plays CRI-O
    // 1.34 around a kubelet checkpoint (internal/lib/checkpoint.go: pause, checkpoint
    // --leave-running, thaw) and the target (commit).
    const CID = "c0ffee".padEnd(64, "0");
    let dir: string;
    let watcher: ReturnType<typeof spawn> | undefined;
    const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
    const state = () => fs.readFileSync(path.join(dir, "cg", "freezer.state"), "utf8").trim();
    const lease = (...args: string[]) => spawnSync("bash", [path.join(dir, "lease.sh"), ...args], { encoding: "utf8" });
    /** CRI-O calling its runtime path (with its default --root) for the container. */
    const runtime = (...args: string[]) => spawnSync(path.join(dir, "wrapper"), ["--root", "/run/runc", ...args], { encoding: "utf8" });
    const runtimeLog = () => fs.existsSync(path.join(dir, "runtime.log")) ? fs.readFileSync(path.join(dir, "runtime.log"), "utf8").trim().split("\n") : [];
    const until = (what: string, ok: () => boolean, ms = 5000) => {
        for (let t = 0; t < ms; t += 20) { if (ok()) return; sleep(20); }
        assert.fail(`timed out waiting for ${what}`);
    };
    const holdFile = () => path.join(dir, "holds", CID);
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "lml-lease-"));
        for (const d of ["hold", "cg"]) fs.mkdirSync(path.join(dir, d));
        fs.writeFileSync(path.join(dir, "lease.sh"), leaseTool());
        fs.writeFileSync(path.join(dir, "cg", "freezer.state"), "THAWED\n");
        // The stand-in runtime: logs its arguments; pause/resume write the freezer file atomically
        // (a real freezer.state never reads empty) and fail as runc does when it already is; checkpoint
        // fails when told to.
        fs.writeFileSync(path.join(dir, "runc"), [
            "#!/usr/bin/env bash",
            `d=${dir}`,
            'echo "$*" >>"$d/runtime.log"',
            'set_state() { echo "$1" >"$d/cg/freezer.tmp" && mv "$d/cg/freezer.tmp" "$d/cg/freezer.state"; }',
            'frozen() { [ "$(cat "$d/cg/freezer.state")" = FROZEN ]; }',
            'case " $* " in',
            '  *" pause "*) ! frozen || { echo "container already paused" >&2; exit 1; }; set_state FROZEN ;;',
            '  *" resume "*) frozen || { echo "container not paused" >&2; exit 1; }; set_state THAWED ;;',
            '  *" checkpoint "*) [ ! -e "$d/fail-dump" ] || { echo "criu failed" >&2; exit 1; } ;;',
            "esac",
            "",
        ].join("\n"), { mode: 0o755 });
        fs.writeFileSync(path.join(dir, "wrapper"), renderOciRuntime("runc", path.join(dir, "runc"), path.join(dir, "holds"), path.join(dir, "stats")), { mode: 0o755 });
        fs.writeFileSync(path.join(dir, "hold", "env"), [
            "KIND=v1", `CGS=(${dir}/cg)`, "PIDNSS=(none)", `CIDS=(${CID})`, `CRIO_SOCKET=${dir}/crio.sock`, "POD=p", "NAMESPACE=default",
            "ATTEMPT=first", "MAX_PAUSE=2", "CHECKPOINT_TIMEOUT=10", `HOLD_FILES=(${holdFile()})`, "",
        ].join("\n"));
        fs.writeFileSync(path.join(dir, "hold", "id"), "m1\n");
    });
    /** Starts the watcher and writes the wrapper's lease file, as the hold step does. */
    const arm = (checkpointTimeout = 10) => {
        const env = path.join(dir, "hold", "env");
        fs.writeFileSync(env, fs.readFileSync(env, "utf8").replace("CHECKPOINT_TIMEOUT=10", `CHECKPOINT_TIMEOUT=${checkpointTimeout}`));
        // The marker file tells that the watcher ended (the sync waits below keep Node from reaping it).
        // Its own process group, so afterEach kills lease.sh too and not only the bash around it.
        watcher = spawn("bash", ["-c", `bash ${dir}/lease.sh watch; touch ${dir}/watch.done`], { stdio: "ignore", detached: true });
        fs.mkdirSync(path.join(dir, "holds"), { mode: 0o700 });
        fs.writeFileSync(holdFile(), `${dir}/hold\n`);
    };
    let crio: ReturnType<typeof spawn> | undefined;
    afterEach(() => {
        if (watcher?.pid) {
            try { process.kill(-watcher.pid, "SIGKILL"); } catch { /* the group has ended */ }
        }
        watcher = undefined;
        crio?.kill("SIGKILL");
        crio = undefined;
        fs.rmSync(dir, { recursive: true, force: true });
    });
    /**
     * A stand-in for CRI-O's inspect API on the lease's socket: it caches a state, as CRI-O does,
     * and answers /unpause/{id} as CRI-O 1.34 does (server/inspect.go): 409 unless it believes the
     * container paused; then its runtime path's resume (the wrapper), and the state is read again.
     * Each request is logged.
     */
    const fakeCrio = (cached: "running" | "paused") => {
        crio = spawn("python3", ["-c", [
            "import http.server, socketserver, subprocess, sys",
            "sock, wrapper, log, state = sys.argv[1:5]",
            "class H(http.server.BaseHTTPRequestHandler):",
            "    def do_GET(self):",
            "        global state",
            "        open(log, 'a').write(self.path.split('/')[1] + ' ' + state + '\\n')",
            "        if state != 'paused': code = 409",
            "        elif subprocess.run([wrapper, 'resume', self.path.split('/')[-1]]).returncode != 0: code = 500",
            "        else: state = 'running'; code = 200",
            "        self.send_response(code); self.send_header('Content-Length', '0'); self.end_headers()",
            "    def log_message(self, *a): pass",
            "class S(socketserver.UnixStreamServer):",
            "    def get_request(self): r, _ = self.socket.accept(); return r, ('crio', 0)",
            "S(sock, H).serve_forever()",
        ].join("\n"), path.join(dir, "crio.sock"), path.join(dir, "wrapper"), path.join(dir, "crio.log"), cached], { stdio: "ignore" });
        until("the CRI-O stand-in", () => fs.existsSync(path.join(dir, "crio.sock")));
    };
    const crioLog = () => fs.existsSync(path.join(dir, "crio.log")) ? fs.readFileSync(path.join(dir, "crio.log"), "utf8").trim().split("\n") : [];
    /** What CRI-O does around a kubelet checkpoint: pause, dump, (archive), thaw; the thaw's result. */
    const crioCheckpoint = () => {
        if (!watcher) arm();
        assert.equal(runtime("pause", CID).status, 0);
        runtime("checkpoint", "--file-locks", "--image-path", "/i", "--work-path", "/w", "--leave-running", CID);
        return runtime("resume", CID);
    };

    it("keeps the job frozen from CRI-O's pause to the commit: CRI-O's thaw is refused, with a reason", () => {
        const thaw = crioCheckpoint();
        assert.equal(thaw.status, 1);
        assert.match(thaw.stderr, /stays frozen for migration m1 until its target commits/);
        assert.equal(state(), "FROZEN");
        assert.ok(!runtimeLog().some(l => l.includes("resume")), "the real runtime never thawed it");
        until("the hold", () => fs.existsSync(path.join(dir, "hold", "heldAt")));
        const c = lease("commit");
        assert.equal(c.status, 0, c.stderr);
        assert.equal(c.stdout.trim(), "committed");
        assert.equal(lease("commit").stdout.trim(), "committed", "a repeated commit is still a commit");
        assert.equal(lease("abort", "late").stdout.trim(), "committed", "an abort after the commit changes nothing");
        assert.equal(fs.existsSync(holdFile()), false, "deciding releases the wrapper's lease file");
        until("the watcher to end", () => fs.existsSync(path.join(dir, "watch.done")), 3000);
        sleep(2200);
        assert.equal(state(), "FROZEN");
        assert.equal(fs.existsSync(path.join(dir, "aborted")), false);
        const s = JSON.parse(lease("status").stdout);
        assert.equal(s.decision, "committed");
        assert.ok(s.pausedAt > 0 && s.dumpedAt >= s.pausedAt && s.heldAt >= s.dumpedAt && s.committedAt >= s.heldAt, JSON.stringify(s));
    });

    it("gives the job back to the source when no commit comes in time, logs it, and refuses a late commit", () => {
        fakeCrio("paused");
        crioCheckpoint();
        // The watcher thaws, then logs the abort and ends: wait for the end, not only the thaw.
        until("the hold to expire", () => fs.existsSync(path.join(dir, "watch.done")), 6000);
        assert.equal(state(), "THAWED");
        assert.deepEqual(crioLog(), ["unpause paused"], "resumed by CRI-O, which then reads the state again");
        assert.match(fs.readFileSync(path.join(dir, "aborted"), "utf8"), /attempt first: no commit within 2s; the source resumed/);
        const c = lease("commit");
        assert.equal(c.status, 3);
        assert.equal(c.stdout.trim(), "aborted");
        assert.notEqual(lease("retire").status, 0, "an aborted source is never retired");
    });

    it("lets the job run on when the dump failed: CRI-O's thaw goes through, the attempt is void and logged", () => {
        fs.writeFileSync(path.join(dir, "fail-dump"), "");
        arm();
        assert.equal(runtime("pause", CID).status, 0);
        runtime("checkpoint", "--file-locks", "--image-path", "/i", "--work-path", "/w", "--leave-running", CID);
        // CRI-O's thaw comes late (a loaded machine): the watcher has seen the failure by then, and
        // must leave the thaw to CRI-O rather than make CRI-O's resume fail on a running container.
        sleep(600);
        const thaw = runtime("resume", CID);
        assert.equal(thaw.status, 0, `CRI-O's thaw after a failed dump is not held: ${thaw.stderr}`);
        assert.equal(state(), "THAWED");
        until("the watcher to end", () => fs.existsSync(path.join(dir, "watch.done")), 4000);
        assert.match(fs.readFileSync(path.join(dir, "hold", "state"), "utf8"), /the checkpoint failed \(the runtime's checkpoint exited 1\); the job runs on/);
        assert.match(fs.readFileSync(path.join(dir, "aborted"), "utf8"), /attempt first: the checkpoint failed/, "a void attempt is logged, so the hop is redone");
        assert.equal(lease("commit").status, 3);
    });

    it("gives the job back MAX_PAUSE after CRI-O's pause when CRI-O dies mid-checkpoint and never comes to thaw it", () => {
        arm();
        assert.equal(runtime("pause", CID).status, 0);
        runtime("checkpoint", "--file-locks", "--image-path", "/i", "--work-path", "/w", "--leave-running", CID);
        // No thaw: CRI-O was killed while it wrote the archive. The hold is 2 s, the checkpoint's time 10 s.
        const t = Date.now();
        until("the hold to end", () => fs.existsSync(path.join(dir, "watch.done")), 6000);
        assert.ok(Date.now() - t < 4000, `given back after ${Date.now() - t} ms, not at the checkpoint's timeout`);
        assert.equal(state(), "THAWED", "thawed by hand: CRI-O does not answer");
        assert.match(fs.readFileSync(path.join(dir, "aborted"), "utf8"), /attempt first: CRI-O paused the job for the dump but did not finish the checkpoint within 2s \(CRI-O stopped mid-checkpoint\?\); the source resumed/);
        assert.equal(lease("commit").status, 3, "no late commit");
    });

    it("voids an attempt whose checkpoint never came", () => {
        arm(1);
        until("the watcher to end", () => fs.existsSync(path.join(dir, "watch.done")), 4000);
        assert.match(fs.readFileSync(path.join(dir, "hold", "state"), "utf8"), /no checkpoint was held within 1s/);
        assert.equal(fs.existsSync(holdFile()), false);
        assert.equal(lease("commit").status, 3);
    });

    it("thaws by hand when CRI-O cannot resume it (CRI-O sees it running)", () => {
        fakeCrio("running");
        crioCheckpoint();
        until("the hold to expire", () => state() === "THAWED", 5000);
        assert.deepEqual(crioLog(), ["unpause running"]);
    });

    it("passes every other call through unchanged, and leaves containers without a hold alone", () => {
        arm();
        const other = "b".repeat(64);
        assert.equal(runtime("create", "--bundle", "/b", "--pid-file", "/p", CID).status, 0);
        assert.equal(runtime("pause", other).status, 0);
        assert.equal(runtime("resume", other).status, 0);
        assert.equal(runtime("checkpoint", "--help").status, 0);
        assert.deepEqual(runtimeLog(), [
            `--root /run/runc create --bundle /b --pid-file /p ${CID}`, `--root /run/runc pause ${other}`, `--root /run/runc resume ${other}`,
            "--root /run/runc checkpoint --help",
        ]);
        fs.rmSync(path.join(dir, "holds"), { recursive: true });
        assert.equal(runtime("pause", CID).status, 0, "no lease directory: straight through");
        assert.equal(fs.existsSync(path.join(dir, "hold", "pausedAt")), false);
    });

    it("keeps CRIU's restore figures and log, which CRI-O deletes right after the restore", () => {
        // conmon runs `runtime restore` without --work-path: CRIU writes stats-restore in the bundle.
        fs.mkdirSync(path.join(dir, "bundle"));
        fs.writeFileSync(path.join(dir, "bundle", "stats-restore"), "figures");
        fs.writeFileSync(path.join(dir, "bundle", "restore.log"), "Restore finished successfully");
        const r = runtime("restore", "--bundle", path.join(dir, "bundle"), "--detach", "--image-path", "/nowhere", CID);
        assert.equal(r.status, 0, r.stderr);
        assert.equal(fs.readFileSync(path.join(dir, "stats", `${CID}.restore`), "utf8"), "figures");
        assert.equal(fs.readFileSync(path.join(dir, "stats", `${CID}.restore.log`), "utf8"), "Restore finished successfully");
        assert.equal((fs.statSync(path.join(dir, "stats", `${CID}.restore.log`)).mode & 0o777), 0o600);
        assert.equal((fs.statSync(path.join(dir, "stats")).mode & 0o777), 0o700);
        assert.deepEqual(runtimeLog(), [`--root /run/runc restore --bundle ${dir}/bundle --detach --image-path /nowhere ${CID}`]);
    });

    it("mends a running container that CRI-O believes paused, and leaves a consistent one alone", () => {
        fakeCrio("paused");
        const m = lease("mend");
        assert.equal(m.status, 0, m.stderr);
        assert.match(m.stdout, /CRI-O saw p as paused while it ran; resumed through CRI-O/);
        assert.equal(state(), "THAWED");
        assert.deepEqual(crioLog(), ["unpause paused", "unpause paused"], "refused while thawed, then resumed once frozen");
        const again = lease("mend");
        assert.equal(again.stdout, "", "CRI-O now sees it running: nothing to mend");
        assert.deepEqual(crioLog().slice(2), ["unpause running"]);
    });

    it("an abort gives the job back at once and is logged", () => {
        crioCheckpoint();
        until("the hold", () => fs.existsSync(path.join(dir, "hold", "heldAt")));
        assert.equal(lease("abort", "verify failed").stdout.trim(), "aborted");
        assert.equal(state(), "THAWED");
        assert.match(fs.readFileSync(path.join(dir, "aborted"), "utf8"), /attempt first: verify failed/);
    });
});

describe("migration timeline picture (scripts/timeline.ts)", () => {
    const T0 = 1_795_000_000_000;
    const m = {
        id: "m1", workload: "flink", from: "master", to: "worker", attempt: "first", sourceArchive: "/s.tar", archive: "/a.tar", sha256: "ab", sizeBytes: 550 * 1048576,
        restoredFrom: "image" as const, image: "i", jobId: "j", records: { before: 1000, after: 2600 }, rssBytes: 556 * 1048576,
        seconds: { checkpoint: 1.4, transfer: 2.7, image: 8.4, restore: 2.8, cutover: 1.8 }, noProgressSeconds: 14.9,
        criu: {
            dump: { freezingMs: 2.1, frozenMs: 512.4, memdumpMs: 120.5, memwriteMs: 380.2, pagesScanned: 140000, pagesWritten: 134000, pagesSkippedParent: 0 },
            restore: { forkingMs: 40.2, restoreMs: 610.7, pagesRestored: 134000, pagesCompared: 0, pagesSkippedCow: 0 },
        },
        timeline: { checkpointAt: T0, pausedAt: T0 + 30, dumpedAt: T0 + 900, heldAt: T0 + 1400, transferAt: T0 + 1500, imageAt: T0 + 4300, restoredAt: T0 + 14930, cutoverAt: T0 + 15500, committedAt: T0 + 17300 },
    };
    const probes = [0, 14000, 16000].map((dt, i) => ({ pod: "p", node: i ? "worker" : "master", jobId: "j", state: "RUNNING", startTime: 1, records: 1000 + i * 800, checkpoints: 1, rssBytes: 1, at: T0 - 2000 + dt * 1.2 }));

    it("draws every phase with its duration, the no-progress band and one dot per probe", () => {
        const svg = renderTimeline(m, probes, "test machine");
        assert.deepEqual(phases(m).map(p => p[0]), ["checkpoint", "pause + dump", "archive", "transfer", "image", "restore", "cutover"]);
        for (const label of ["checkpoint", "transfer", "image", "restore", "cutover", "no progress 14.9 s", "8.4 s", "job on worker (restored)", "test machine",
            "CRIU dump: frozen 512 ms (freezing 2, memdump 121, memwrite 380), 134000 pages (523 MB) written; restore: 611 ms (forking 40), 134000 pages restored"]) {
            assert.ok(svg.includes(label), label);
        }
        assert.equal((svg.match(/<circle /g) ?? []).length, probes.length + 2, "a dot per probe plus the legend's two");
        assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]*>[\s\S]*<\/svg>\n$/);
        assert.ok(!/NaN|undefined/.test(svg), "every coordinate is a number");
        // Ticks every 5 s from the checkpoint request, probes before it included.
        assert.deepEqual([...svg.matchAll(/fill="#666">(-?\d+) s</g)].map(t => Number(t[1])), [0, 5, 10, 15]);
    });

    it("a direct restore has no image phase: the restore starts when the transfer ends", () => {
        const direct = {
            ...m, restoredFrom: "direct" as const, seconds: { checkpoint: 1.4, transfer: 2.7, restore: 2.1, cutover: 1.8 }, noProgressSeconds: 6.2,
            timeline: { ...m.timeline, imageAt: undefined, restoredAt: T0 + 6230, cutoverAt: T0 + 6300, committedAt: T0 + 8100 },
        };
        const ph = phases(direct);
        assert.deepEqual(ph.map(p => p[0]), ["checkpoint", "pause + dump", "archive", "transfer", "restore", "cutover"]);
        assert.equal(ph[4][1], T0 + 1500 + 2700);
        const svg = renderTimeline({ ...direct, criu: { dump: { unavailable: "x" }, restore: { unavailable: "y" } } }, probes, "test machine");
        assert.ok(!/NaN|undefined/.test(svg));
        assert.ok(svg.includes("CRIU dump: no figures; restore: no figures"));
    });
});
