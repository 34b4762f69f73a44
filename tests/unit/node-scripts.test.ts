// The node programs, rendered and run for real in a scratch directory.
import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { cgroupWarnings } from "../../components/node/kubelet";
import { flinkVerifyScript } from "../../components/flink/flink";
import { clusterReadyScript, renderKubeadmInitScript, renderKubeadmJoinScript, renderKubeadmResetScript, renderNodeInstallScript } from "../../components/cluster/kubeadm";
import * as scripts from "../../components/node/scripts";
import { cutoverScript, holdScript } from "../../components/migration/cutover";
import { parseProbe, probeScript } from "../../components/node/drift";
import * as local from "../../components/cluster/localCluster";

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
