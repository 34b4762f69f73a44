// A real Apache Flink job in the local lab: `pulumi up` of the whole program (nodes, Kubernetes,
// the Flink image built on every node from Maven Central's jars and Debian's JRE, the flink-minimal
// pod). The job must be RUNNING on the worker with a record count that grows; the kubelet's
// checkpoint API must fail with CRIU's TCP error without tcp-established in runc.conf and succeed
// with it, the job running on either way. Prints the figures (pod RSS, archive size, checkpoint
// time). Then two stack config changes move the job master -> worker -> master through the
// program's migration chain while a sampler watches it: the same job goes on, its count never
// goes back, and the outputs name real archives whose digests match. Before the second move
// succeeds, three injected faults fail it in turn: the target's disk too full (preflight stops it
// before anything is frozen), the transfer cut and the target's CRI-O stopped during the restore
// (the source's hold expires and it takes the job back). Each time the job runs on at the source
// with nothing lost, and the next `pulumi up` redoes the move from a fresh checkpoint of the same
// container once the faults are gone. Then hops m3-m8 are interrupted (SIGKILL to pulumi's process
// group, SIGINT to the engine) during the checkpoint, the transfer and the restore, and in m9-m10 a
// node goes away mid-hop (the target's sshd, the source's CRI-O): the job goes on where it was or
// where it was committed, never on both nodes, and the next `up` completes each hop. Needs root.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { createLocalLab, footprint, LocalLab } from "../harness/local-lab-helpers";
import { ROOT } from "../harness/engine-helpers";
import { checkpointScript } from "../../components/node/scripts";
import { FLINK_FREEZE_TOLERANCE_MS, FlinkProbe, flinkProbeScript } from "../../components/flink/flink";
import { serviceCommand } from "../../components/node/scripts";
import { abortLog, FENCES_DIR, LEASE_ROOT } from "../../components/migration/cutover";
import { flinkDiagnostics, flinkRest, startSampler, wentBack, when } from "../harness/flink-helpers";
import { KUBELET_CLIENT_CERT, KUBELET_CLIENT_KEY } from "../../components/cluster/cluster";

const SEED_ERROR = "Error (criu/sk-inet.c:200): inet: Connected TCP socket, consider using --tcp-established option.";
const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

describe("a real Flink job in the local lab (flink-minimal pod, kubelet checkpoint API, real CRIU)", function () {
    this.timeout(3_600_000);
    let lab: LocalLab;
    let before0: ReturnType<typeof footprint>;
    const HOME = "master";
    const MAX_PAUSE = 30;
    /** Every answer the test saw, oldest first: the job's count must never go back across them. */
    const seen: FlinkProbe[] = [];
    const saw = (p: FlinkProbe) => {
        seen.push(p);
        const back = wentBack(seen);
        if (back) assert.fail(`the job's count went back: ${back}\n${flinkDiagnostics(lab, p)}`);
        return p;
    };
    const probeOn = (node: "master" | "worker", pod: string): FlinkProbe =>
        saw(JSON.parse(lab.sshOk(node, flinkProbeScript({ namespace: "default", pod })).trim()));
    const probe = () => probeOn(HOME, "flink-minimal");
    /** Probes until `ok` holds (the REST metrics refresh every second). */
    const probeUntil = (what: string, ok: (p: FlinkProbe) => boolean, seconds = 90, node: "master" | "worker" = HOME, pod = "flink-minimal"): FlinkProbe => {
        let last: FlinkProbe | string = "no answer";
        const deadline = Date.now() + seconds * 1000;
        while (Date.now() < deadline) {
            const r = lab.ssh(node, flinkProbeScript({ namespace: "default", pod }));
            if (r.status === 0) {
                last = saw(JSON.parse(String(r.stdout).trim()) as FlinkProbe);
                if (ok(last)) return last;
            } else {
                last = String(r.stderr).trim();
            }
            sleep(1000);
        }
        return assert.fail(`timed out after ${seconds}s waiting for ${what}; last probe: ${JSON.stringify(last)}`);
    };
    const checkpoint = () => lab.ssh("master", checkpointScript({
        kubeletAddress: lab.nodes[HOME], namespace: "default", pod: "flink-minimal", containers: ["flink"],
        clientCert: KUBELET_CLIENT_CERT, clientKey: KUBELET_CLIENT_KEY, timeoutSeconds: 300,
    }));

    before(() => {
        before0 = footprint("lml-local-");
        lab = createLocalLab("10.231.97.0/24", { stack: "flink", workloadNode: HOME });
        // A short hold, so that a fault gives the job back to its source within the test's patience.
        lab.run.ok(["config", "set", "--path", "live-migration-lab:cutover.maxPauseSeconds", String(MAX_PAUSE), "--stack", "lab"], lab.project);
    });
    after(() => {
        if (!lab) return;
        lab.destroy();
        lab.dispose();
    });

    let first: FlinkProbe;
    it("runs the job on the master after `pulumi up`, from one image id on every node, and its record count grows", () => {
        lab.run.ok(["up", "--yes", "--stack", "lab"], lab.project);
        const out = JSON.parse(lab.run.ok(["stack", "output", "flink", "--json", "--stack", "lab"], lab.project));
        assert.equal(out.pod, "flink-minimal");
        assert.equal(out.node, HOME);
        assert.equal(out.image, "localhost/flink-minimal:1.20.0");
        assert.deepEqual(Object.keys(out.imageIds).sort(), ["master", "worker"]);
        assert.equal(out.imageIds.master, out.imageIds.worker, "a restore needs the same base image id on both nodes");
        assert.match(out.imageIds.worker, /^[0-9a-f]{64}$/);

        first = probeUntil("the job to read records", p => p.state === "RUNNING" && p.records > 0);
        assert.match(first.jobId, /^[0-9a-f]{32}$/);
        assert.equal(first.node, HOME);
        const later = probeUntil("the record count to grow", p => p.records > first.records + 100);
        assert.equal(later.jobId, first.jobId, "the same job");
        assert.equal(later.startTime, first.startTime, "not resubmitted");
        assert.equal(later.state, "RUNNING");
        assert.ok(later.checkpoints >= first.checkpoints, "Flink's own checkpoints only add up");
        // The JobManager took the freeze-tolerant timeouts (a misspelt key would be ignored silently).
        const conf = new Map((flinkRest(lab, HOME, "flink-minimal", "/jobmanager/config") as { key: string; value: string }[]).map(e => [e.key, e.value]));
        assert.equal(conf.get("pekko.ask.timeout"), `${FLINK_FREEZE_TOLERANCE_MS} ms`);
        assert.equal(conf.get("heartbeat.timeout"), String(FLINK_FREEZE_TOLERANCE_MS));
    });

    it("fails the kubelet checkpoint with CRIU's TCP error when runc.conf lacks tcp-established; the job keeps running", () => {
        lab.sshOk(HOME, "sed -i 's/^tcp-established$/# tcp-established (removed by the test)/' /etc/criu/runc.conf");
        let failedAt: FlinkProbe;
        try {
            const r = checkpoint();
            assert.notEqual(r.status, 0, "the checkpoint must fail");
            assert.ok(String(r.stderr).includes(SEED_ERROR), `CRIU's error reaches the caller:\n${r.stderr}`);
            failedAt = probe();
        } finally {
            lab.sshOk(HOME, "sed -i 's/^# tcp-established (removed by the test)$/tcp-established/' /etc/criu/runc.conf");
        }
        const after = probeUntil("the job to go on after the failed dump", p => p.records > failedAt.records + 100);
        assert.equal(after.jobId, first.jobId);
        assert.equal(after.state, "RUNNING");
        assert.equal(lab.sshOk(HOME, "ls /var/lib/kubelet/checkpoints 2>/dev/null | wc -l").trim(), "0", "a failed dump leaves no archive");
    });

    it("checkpoints it with the program's runc.conf: a root-only archive about the pod's size, the job still running", () => {
        const at = probe();
        const r = checkpoint();
        assert.equal(r.status, 0, String(r.stderr));
        const { archive, seconds } = JSON.parse(String(r.stdout).trim()) as { archive: string; seconds: number };
        assert.match(archive, /^\/var\/lib\/kubelet\/checkpoints\/checkpoint-flink-minimal_default-flink-.*\.tar$/);
        const [mode, owner, bytes] = lab.sshOk(HOME, `stat -c '%a %U %s' ${archive}`).trim().split(" ");
        assert.equal(`${mode} ${owner}`, "600 root");
        // The archive is the processes' memory: it cannot be much smaller than what they hold.
        assert.ok(Number(bytes) > at.rssBytes / 2, `archive ${bytes} B vs pod RSS ${at.rssBytes} B`);
        const after = probeUntil("the job to go on after the checkpoint", p => p.records > at.records + 100);
        assert.equal(after.jobId, first.jobId);
        assert.equal(after.startTime, first.startTime);
        const mb = (b: number) => (b / 1048576).toFixed(0);
        console.log(`      figures: pod RSS ${mb(at.rssBytes)} MB, archive ${mb(Number(bytes))} MB, kubelet checkpoint call ${seconds.toFixed(2)} s`);
    });

    /** Requests a migration the way `scripts/lab.sh migrate` does (config only; `up` is the caller's). */
    const request = (index: number, id: string, to: "master" | "worker") => {
        lab.run.ok(["config", "set", "--path", `live-migration-lab:migrations[${index}].id`, id, "--stack", "lab"], lab.project);
        lab.run.ok(["config", "set", "--path", `live-migration-lab:migrations[${index}].to`, to, "--stack", "lab"], lab.project);
    };
    const up = () => lab.run.pulumi(["up", "--yes", "--stack", "lab"], lab.project);
    /** What the failed steps printed, without the scripts the errors quote (they run to megabytes). */
    /** An update's errors, then its last lines (the whole output is long). */
    const said = (out: string) => {
        const lines = out.split("\n").filter(l => !l.includes('running "bash'));
        return [...lines.filter(l => /error:|failed/.test(l)).slice(0, 20), "...", ...lines.slice(-40)].join("\n");
    };
    const kubectl = (args: string) => lab.sshOk("master", `KUBECONFIG=/etc/kubernetes/admin.conf kubectl ${args}`);
    /** Runs `pulumi up` while a sampler watches both pods; checks the count never went back; returns the hop's summary. */
    const migrateWatched = (index: number, id: string, from: "master" | "worker", to: "master" | "worker", sourcePod: string) => {
        const sampler = startSampler(lab, [{ node: from, pod: sourcePod }, { node: to, pod: `flink-minimal-${id}` }]);
        let r;
        try {
            r = up();
        } finally {
            for (const p of sampler.stop()) saw(p);
        }
        assert.equal(r.status, 0, `pulumi up failed:\n${r.out}`);
        const all = JSON.parse(lab.run.ok(["stack", "output", "migrations", "--json", "--stack", "lab"], lab.project));
        assert.equal(all.length, index + 1);
        return all[index];
    };
    /** The hop's outputs against the nodes: real paths, matching digests, root-only archives, the same job. */
    const checkHop = (m: any, id: string, from: "master" | "worker", to: "master" | "worker", before: FlinkProbe) => {
        assert.equal(m.from, from);
        assert.equal(m.to, to);
        assert.equal(m.jobId, first.jobId, "the restored job is the one submitted at the start");
        assert.match(m.sourceArchive, /^\/var\/lib\/kubelet\/checkpoints\/checkpoint-flink-minimal.*\.tar$/);
        // ID.tar, or ID-DIGEST.tar for a retried hop (its own archive: a pod left waiting by a failed attempt never takes it).
        assert.match(m.archive, new RegExp(`^/var/lib/live-migration-lab/checkpoints/${id}(-[0-9a-f]{12})?\\.tar$`));
        assert.equal(/-[0-9a-f]{12}\.tar$/.test(m.archive), m.attempt !== "first");
        const [sum, mode, size] = lab.sshOk(to, `sha256sum ${m.archive} | cut -d' ' -f1; stat -c '%a %U' ${m.archive}; stat -c %s ${m.archive}`).trim().split("\n");
        assert.equal(m.sha256, sum, "the recorded digest is the archive's on the target");
        assert.equal(lab.sshOk(from, `sha256sum ${m.sourceArchive} | cut -d' ' -f1`).trim(), sum, "and the source's");
        assert.equal(lab.sshOk(from, `stat -c '%a %U' ${m.sourceArchive}`).trim(), "600 root");
        assert.equal(mode, "600 root");
        assert.equal(m.sizeBytes, Number(size));
        // Restored straight from the archive: no image phase, no checkpoint image.
        assert.equal(m.restoredFrom, "direct");
        assert.equal(m.seconds.image, undefined);
        assert.equal(String(lab.ssh(to, `crictl images -q localhost/flink-minimal-checkpoint`).stdout).trim(), "", "no checkpoint image was built");
        assert.match(lab.sshOk(to, "cat /var/log/lab/cri-proxy.log"), new RegExp(`pod default/flink-minimal-${id} container flink: restoring from ${m.archive.replace(/\./g, "\\.")}`));
        for (const phase of ["checkpoint", "transfer", "restore", "cutover"]) assert.ok(m.seconds[phase] > 0, `${phase} timed: ${JSON.stringify(m.seconds)}`);
        assert.ok(m.noProgressSeconds > 0 && m.noProgressSeconds < MAX_PAUSE, `no-progress window ${m.noProgressSeconds} s`);
        // The hold: CRI-O's pause, the end of CRIU's dump, CRI-O's refused thaw, the restore, the commit.
        const t = m.timeline;
        assert.ok(t.pausedAt > 0 && t.pausedAt <= t.dumpedAt && t.dumpedAt <= t.heldAt && t.heldAt <= t.restoredAt && t.restoredAt <= t.committedAt, JSON.stringify(t));
        // CRIU's own figures, read from its stats images with pycriu.
        assert.ok(m.criu.dump.frozenMs > 0 && m.criu.dump.pagesWritten > 10000, `dump figures ${JSON.stringify(m.criu.dump)}`);
        assert.ok(m.criu.restore.restoreMs > 0 && m.criu.restore.pagesRestored > 10000, `restore figures ${JSON.stringify(m.criu.restore)}`);
        // records.before is from the hop's source-probe, which an earlier failed `up` may have run.
        assert.ok(m.records.after >= m.records.before && m.records.after >= before.records, `${JSON.stringify(m.records)} vs ${before.records} before this up`);

        const pod = `flink-minimal-${id}`;
        const restored = probeUntil("the restored job to count on", p => p.records > m.records.after, 60, to, pod);
        assert.equal(restored.jobId, first.jobId);
        assert.equal(restored.startTime, first.startTime, "not resubmitted: the JVMs' memory came along");
        assert.equal(kubectl(`get pod ${pod} -o jsonpath={.spec.nodeName}`).trim(), to);
        assert.deepEqual(kubectl("get pods -o name").trim().split("\n"), [`pod/${pod}`], "the source pod is retired");
        const mb = (b: number) => (b / 1048576).toFixed(0);
        console.log(`      figures ${id} (${m.attempt}): checkpoint ${m.seconds.checkpoint} s, transfer ${m.seconds.transfer} s, restore ${m.seconds.restore} s, cutover ${m.seconds.cutover} s; no progress for ${m.noProgressSeconds} s; archive ${mb(m.sizeBytes)} MB vs pod RSS ${mb(m.rssBytes)} MB; CRIU frozen ${m.criu.dump.frozenMs} ms, restore ${m.criu.restore.restoreMs} ms`);
    };

    it("migrates the job master -> worker by a stack config change (m1): same job, its count never going back, outputs matching the archives", () => {
        const before = probeOn(HOME, "flink-minimal");
        request(0, "m1", "worker");
        const m = migrateWatched(0, "m1", "master", "worker", "flink-minimal");
        assert.equal(m.attempt, "first");
        checkHop(m, "m1", "master", "worker", before);
    });

    /** After a failed `up`: the job runs on the worker in the m1 pod, same job, counting on from `before`. */
    const runsOnAtSource = (before: FlinkProbe, seconds: number) => {
        const p = probeUntil("the job to run on at the source", q => q.records > before.records + 100, seconds, "worker", "flink-minimal-m1");
        assert.equal(p.jobId, first.jobId);
        assert.equal(p.startTime, first.startTime);
        assert.equal(p.state, "RUNNING");
        // The restored pod is made before the archive arrives; a hop given up may leave it waiting
        // (the next `up` replaces it), never running a copy of the job. Asked of the master's own
        // processes (a node has its own PID namespace): the kubelet's status of the restored pod is
        // stale while the master's CRI-O is stopped.
        const pods = kubectl("get pods -o name").trim().split("\n");
        assert.ok(pods.includes("pod/flink-minimal-m1") && pods.every(n => ["pod/flink-minimal-m1", "pod/flink-minimal-m2"].includes(n)), pods.join(" "));
        assert.equal(flinkJvms("master"), "", "no restored copy runs beside the source");
    };
    /** The Flink JVMs running on `node` (JobManager, TaskManager), as `pgrep -a` lines. */
    const flinkJvms = (node: "master" | "worker") =>
        String(lab.ssh(node, "pgrep -a -f '[o]rg.apache.flink.runtime.(entrypoint|taskexecutor)'").stdout).trim();
    const ARCHIVES = "/var/lib/live-migration-lab/checkpoints";

    it("fault: the target's disk is too full for the archive; preflight stops the move before the job is touched", () => {
        request(1, "m2", "master");
        const before = probeOn("worker", "flink-minimal-m1");
        lab.sshOk("master", `mount -t tmpfs -o size=256m,mode=0700 lml-fault-full ${ARCHIVES}`);
        try {
            const r = up();
            assert.notEqual(r.status, 0);
            assert.match(r.out, /only \d+ MB free for \/var\/lib\/live-migration-lab\/checkpoints on master; the archive and its joined copy need \d+ MB/);
            assert.equal(lab.ssh("worker", `test -e /var/lib/live-migration-lab/migrations/m2/hold`).status, 1, "the job was never held");
            runsOnAtSource(before, 30);
        } finally {
            lab.sshOk("master", `umount ${ARCHIVES}`);
        }
    });

    it("fault: the transfer fails; the source takes the job back when its hold expires, and keeps its archive", () => {
        const before = probeOn("worker", "flink-minimal-m1");
        const rule = `OUTPUT -p tcp -d ${lab.nodes.worker} --dport 22 -j REJECT`;
        lab.sshOk("master", `iptables -I ${rule}`);
        try {
            const r = up();
            assert.notEqual(r.status, 0);
            assert.match(r.out, /transfer m2: sending the archive from [0-9.]+ failed: ssh: connect to host [0-9.]+ port 22: Connection refused/, said(r.out));
            runsOnAtSource(before, MAX_PAUSE + 60);
            assert.match(lab.sshOk("worker", `cat ${abortLog("m2")}`), new RegExp(`no commit within ${MAX_PAUSE}s; the source resumed`));
            const kept = lab.sshOk("worker", "stat -c '%a %U %n' /var/lib/kubelet/checkpoints/checkpoint-flink-minimal-m1_*.tar").trim().split("\n");
            assert.ok(kept.length >= 1 && kept.every(l => l.startsWith("600 root ")), `the source's archive is kept: ${kept}`);
        } finally {
            lab.sshOk("master", `iptables -D ${rule}`);
        }
    });

    it("fault: the target's CRI-O is stopped during the restore; the move fails, the source takes the job back", () => {
        const before = probeOn("worker", "flink-minimal-m1");
        // Stop CRI-O on the master as soon as the CRI proxy hands it the archive: the restore is under way.
        const stopped = when(lab, "master", `grep -q 'flink-minimal-m2 container flink: restoring from' /var/log/lab/cri-proxy.log`, serviceCommand("stop", "crio"));
        try {
            const r = up();
            assert.ok(stopped(), "CRI-O was stopped during the restore");
            assert.notEqual(r.status, 0);
            // The cutover finds no restored job, stops whatever was restored and gives the job back.
            assert.match(r.out, /cutover m2: .*the restored copy was stopped and the source aborted/, said(r.out));
            runsOnAtSource(before, MAX_PAUSE + 60);
        } finally {
            lab.sshOk("master", serviceCommand("restart_if_down", "crio"));
            kubectl("wait --for=condition=Ready node/master --timeout=120s");
        }
        // With CRI-O back, the kubelet sees what the cutover did: the restored container (if the
        // restore finished before CRI-O stopped) is no longer running.
        const running = () => kubectl("get pod flink-minimal-m2 --ignore-not-found -o jsonpath={.status.containerStatuses[0].state.running}").trim();
        for (let i = 0; i < 60 && running() !== ""; i++) sleep(1000);
        assert.equal(running(), "", "the kubelet reports no running restored copy once CRI-O is back");
        assert.equal(flinkJvms("master"), "");
        assert.equal(lab.sshOk("worker", `wc -l <${abortLog("m2")}`).trim(), "2", "both failed holds are logged on the source");
    });

    it("completes the move worker -> master (m2) with the next `pulumi up` once the fault is gone: same job, nothing lost", () => {
        const before = probeOn("worker", "flink-minimal-m1");
        const m = migrateWatched(1, "m2", "worker", "master", "flink-minimal-m1");
        // Two holds were given back (transfer cut, CRI-O stopped): the hop is redone from a new
        // checkpoint of the same container, which CRI-O must see as running again.
        assert.match(m.attempt, /^retry [0-9a-f]{12}$/);
        checkHop(m, "m2", "worker", "master", before);
    });

    it("does nothing when `pulumi up` runs again after the migrations", () => {
        lab.run.ok(["preview", "--expect-no-changes", "--stack", "lab"], lab.project);
    });

    it("refuses to drop a carried-out migration (m2) from the list, in preview, before anything is touched", () => {
        lab.run.ok(["config", "rm", "--path", "live-migration-lab:migrations[1]", "--stack", "lab"], lab.project);
        try {
            const r = lab.run.pulumi(["preview", "--stack", "lab"], lab.project);
            assert.notEqual(r.status, 0);
            assert.match(r.out, /live-migration-lab:migrations\[1\]: missing, but migration \{id: m2, to: master\} was carried out there; the list is append-only/);
        } finally {
            request(1, "m2", "master");
        }
        lab.run.ok(["preview", "--expect-no-changes", "--stack", "lab"], lab.project);
    });

    it("refuses two new migrations appended at once (m3, m4), naming the second, in preview", () => {
        request(2, "m3", "worker");
        request(3, "m4", "master");
        try {
            const r = lab.run.pulumi(["preview", "--stack", "lab"], lab.project);
            assert.notEqual(r.status, 0);
            assert.match(r.out, /live-migration-lab:migrations\[3\]: got \{id: m4, to: master\}, but \{id: m3, to: worker\} before it has not been carried out yet/);
        } finally {
            lab.run.ok(["config", "rm", "--path", "live-migration-lab:migrations[3]", "--stack", "lab"], lab.project);
            lab.run.ok(["config", "rm", "--path", "live-migration-lab:migrations[2]", "--stack", "lab"], lab.project);
        }
        lab.run.ok(["preview", "--expect-no-changes", "--stack", "lab"], lab.project);
    });

    /** Whether a process still runs (a zombie Node has not reaped yet does not). */
    const alive = (pid: number) => {
        try { return !/^\d+ \(.*\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8")); } catch { return false; }
    };
    /**
     * Starts `pulumi up` and interrupts it once `condition` (a shell test) holds on `node`: SIGKILL to
     * its whole process group (the engine and its plugins, as when a terminal or a CI job is killed),
     * or SIGINT to the engine (`kill -INT`, what Ctrl-C asks of it: it cancels, lets the steps in
     * flight finish and stops). Returns the update's output once it has ended.
     */
    const interruptedUp = (node: "master" | "worker", condition: string, signal: "SIGKILL" | "SIGINT") => {
        const log = path.join(lab.work, `interrupted-${Date.now()}.log`);
        const child = lab.run.start(["up", "--yes", "--stack", "lab"], lab.project, log);
        const deadline = Date.now() + 300_000;
        while (lab.ssh(node, condition).status !== 0) {
            assert.ok(alive(child.pid!), `pulumi up ended before ${condition} held on ${node}:\n${fs.readFileSync(log, "utf8")}`);
            assert.ok(Date.now() < deadline, `${condition} never held on ${node}`);
            sleep(100);
        }
        if (signal === "SIGKILL") {
            process.kill(-child.pid!, signal);
        } else {
            // The engine is the Go binary in the group (the npm launcher and the plugins are other processes).
            const engine = spawnSync("ps", ["-o", "pid=,comm=", "-g", String(child.pid)], { encoding: "utf8" }).stdout
                .split("\n").map(l => l.trim().split(/\s+/)).find(([, comm]) => comm === "pulumi");
            assert.ok(engine, "the engine process of the update");
            process.kill(Number(engine[0]), signal);
        }
        for (let i = 0; i < 1200 && alive(child.pid!); i++) sleep(250);
        try { process.kill(-child.pid!, "SIGKILL"); } catch { /* ended */ }
        return fs.readFileSync(log, "utf8");
    };
    /** After an interrupted hop of m3 from the master: the job counts on there, and no copy of it ran on the worker. */
    const runsOnAfterInterrupt = (before: FlinkProbe) => {
        const p = probeUntil("the job to run on at the source", q => q.records > before.records + 100, MAX_PAUSE + 60, "master", "flink-minimal-m2");
        assert.equal(p.jobId, first.jobId);
        assert.equal(p.startTime, first.startTime);
        const running = lab.sshOk("worker", "crictl ps -q --state running --name '^flink$' --label io.kubernetes.pod.name=flink-minimal-m3").trim();
        assert.equal(running, "", "no restored copy runs on the worker");
    };
    /** The next `up` after an interrupted one: clears the dead engine's lock, then completes m3. */
    const completeAfterInterrupt = () => {
        const lock = spawnSync("bash", [path.join(ROOT, "scripts", "stale-lock.sh"), lab.run.backend, "lab"], { encoding: "utf8" });
        assert.equal(lock.status, 0, lock.stderr);
        const before = probeOn("master", "flink-minimal-m2");
        const m = migrateWatched(2, "m3", "master", "worker", "flink-minimal-m2");
        assert.match(m.attempt, /^retry [0-9a-f]{12}$/, "redone from a new checkpoint: the source took the job back");
        checkHop(m, "m3", "master", "worker", before);
        return lock.stderr;
    };

    it("interrupted: pulumi killed (SIGKILL) while m3's archive is on the way; the job runs on at its source and the restore is refused, never beside it; the next up clears the dead lock and completes the hop", () => {
        request(2, "m3", "worker");
        const before = probeOn("master", "flink-minimal-m2");
        const sampler = startSampler(lab, [{ node: "master", pod: "flink-minimal-m2" }, { node: "worker", pod: "flink-minimal-m3" }], "killed");
        let samples: FlinkProbe[];
        try {
            interruptedUp("worker", "test -e /var/lib/live-migration-lab/checkpoints/m3.tar.part", "SIGKILL");
            runsOnAfterInterrupt(before);
        } finally {
            samples = sampler.stop();
        }
        assert.equal(wentBack(samples), undefined);
        assert.ok(samples.every(p => p.pod !== "flink-minimal-m3"), "the worker's copy never answered");
        // Either the transfer died with the engine, or it ran on and the worker's CRI-O asked for
        // the restore, which the runtime wrapper refused: no cutover watched.
        const arrived = lab.ssh("worker", "test -e /var/lib/live-migration-lab/checkpoints/m3.tar").status === 0;
        if (arrived) assert.match(lab.sshOk("worker", "cat /run/live-migration-lab/fences/default_flink-minimal-m3.log"), /not restored: no cutover watched it before the source's hold ended/);
        console.log(`      the killed update's transfer ${arrived ? "ran on; its restore was refused" : "died with it"}`);
        const said = completeAfterInterrupt();
        assert.match(said, /stack lab was locked by pid \d+ .*which is no longer running: removing its lock/);
    });

    it("interrupted: SIGINT to the engine while m4's archive is on the way; the engine lets the transfer finish and stops, the target refuses the restore nothing would verify, the job runs on at its source; the next up completes the hop", () => {
        request(3, "m4", "master");
        const before = probeOn("worker", "flink-minimal-m3");
        const sampler = startSampler(lab, [{ node: "worker", pod: "flink-minimal-m3" }, { node: "master", pod: "flink-minimal-m4" }], "interrupted");
        let samples: FlinkProbe[];
        let out: string;
        try {
            out = interruptedUp("master", "test -e /var/lib/live-migration-lab/checkpoints/m4.tar.part", "SIGINT");
            const p = probeUntil("the job to run on at the source", q => q.records > before.records + 100, MAX_PAUSE + 60, "worker", "flink-minimal-m3");
            assert.equal(p.jobId, first.jobId);
            assert.equal(p.startTime, first.startTime);
        } finally {
            samples = sampler.stop();
        }
        assert.match(out, /\^C received; cancelling/, out.split("\n").slice(-20).join("\n"));
        assert.equal(wentBack(samples), undefined);
        assert.ok(samples.every(q => q.pod !== "flink-minimal-m4"), "the master's copy never answered");
        // The transfer in flight was let finish: the archive arrived, CRI-O asked for the restore, and
        // the runtime wrapper refused it once the source's hold ended.
        assert.equal(lab.ssh("master", "test -e /var/lib/live-migration-lab/checkpoints/m4.tar").status, 0, "the transfer finished");
        assert.match(lab.sshOk("master", "cat /run/live-migration-lab/fences/default_flink-minimal-m4.log"), /not restored: no cutover watched it before the source's hold ended/);
        assert.equal(lab.sshOk("master", "crictl ps -q --state running --name '^flink$' --label io.kubernetes.pod.name=flink-minimal-m4").trim(), "");
        const again = probeOn("worker", "flink-minimal-m3");
        const m = migrateWatched(3, "m4", "worker", "master", "flink-minimal-m3");
        assert.match(m.attempt, /^retry [0-9a-f]{12}$/);
        checkHop(m, "m4", "worker", "master", again);
    });

    /**
     * Where the job went on after an interrupted hop: "source" once the source's pod counts on past
     * `before` (the hold ended and the source took the job back), "target" once the restored pod does
     * (the cutover had committed before the engine stopped). The same job either way.
     */
    const settle = (before: FlinkProbe, from: "master" | "worker", sourcePod: string, to: "master" | "worker", targetPod: string): "source" | "target" => {
        const deadline = Date.now() + (MAX_PAUSE + 60) * 1000;
        let last = "no answer";
        while (Date.now() < deadline) {
            for (const [node, pod, where] of [[from, sourcePod, "source"], [to, targetPod, "target"]] as const) {
                const r = lab.ssh(node, flinkProbeScript({ namespace: "default", pod }));
                if (r.status !== 0) { last = `${pod}: ${String(r.stderr).trim().split("\n").pop()}`; continue; }
                const p = saw(JSON.parse(String(r.stdout).trim()) as FlinkProbe);
                last = `${pod}: ${p.records} records`;
                if (p.records > before.records + 100) {
                    assert.equal(p.jobId, first.jobId);
                    assert.equal(p.startTime, first.startTime);
                    return where;
                }
            }
            sleep(1000);
        }
        return assert.fail(`the job made no progress on either node within ${MAX_PAUSE + 60}s of the interrupt; last: ${last}`);
    };
    /**
     * After a disrupted hop, the job went on at `where` only: its count never went back, the target's
     * copy answered only once the hop committed, and the source never answered after it did.
     */
    const wentOnOnce = (where: "source" | "target", samples: FlinkProbe[], to: "master" | "worker", targetPod: string) => {
        assert.equal(wentBack(samples), undefined);
        const firstTarget = samples.findIndex(q => q.pod === targetPod);
        if (where === "source") {
            assert.equal(firstTarget, -1, "the target's copy never answered");
            assert.equal(lab.sshOk(to, `crictl ps -q --state running --name '^flink$' --label io.kubernetes.pod.name=${targetPod}`).trim(), "", "no restored copy runs on the target");
        } else {
            assert.ok(samples.slice(firstTarget).every(q => q.pod === targetPod), "the source never answered after the target's copy did");
        }
    };
    /**
     * One interrupted hop: `pulumi up` of migration `id` is interrupted with `signal` while `step` is
     * under way (checkpoint: CRI-O has paused the job for the dump, on the source; restore: the CRI
     * proxy has handed the arrived archive to the target's CRI-O). The job must go on where it was or
     * where it was committed, never on both nodes and never losing its count; the next `up` (after
     * clearing the dead engine's lock) completes the hop.
     */
    const interruptedHop = (index: number, id: string, from: "master" | "worker", to: "master" | "worker", sourcePod: string,
        step: "checkpoint" | "restore", signal: "SIGKILL" | "SIGINT") => {
        request(index, id, to);
        const targetPod = `flink-minimal-${id}`;
        const before = probeOn(from, sourcePod);
        const [node, condition] = step === "checkpoint"
            ? [from, `test -e ${LEASE_ROOT}/${id}/hold/pausedAt`]
            : [to, `grep -q 'pod default/${targetPod} container flink: restoring from' /var/log/lab/cri-proxy.log`];
        const sampler = startSampler(lab, [{ node: from, pod: sourcePod }, { node: to, pod: targetPod }], `${signal}-${step}`);
        let samples: FlinkProbe[];
        let out: string;
        let where: "source" | "target";
        try {
            out = interruptedUp(node, condition, signal);
            where = settle(before, from, sourcePod, to, targetPod);
        } finally {
            samples = sampler.stop();
        }
        if (signal === "SIGINT") assert.match(out, /\^C received; cancelling/, out.split("\n").slice(-20).join("\n"));
        wentOnOnce(where, samples, to, targetPod);
        const fenceLog = lab.ssh(to, `cat ${FENCES_DIR}/default_${targetPod}.log 2>/dev/null`).stdout;
        console.log(`      ${signal} during the ${step}: the job went on at the ${where}${fenceLog ? `; the target's fence: ${String(fenceLog).trim().split("\n").pop()}` : ""}`);
        if (signal === "SIGKILL") {
            const lock = spawnSync("bash", [path.join(ROOT, "scripts", "stale-lock.sh"), lab.run.backend, "lab"], { encoding: "utf8" });
            assert.equal(lock.status, 0, lock.stderr);
        }
        const again = where === "source" ? probeOn(from, sourcePod) : before;
        const m = migrateWatched(index, id, from, to, sourcePod);
        if (where === "source") assert.match(m.attempt, /^retry [0-9a-f]{12}$/, "redone from a new checkpoint: the source took the job back");
        checkHop(m, id, from, to, again);
    };

    it("interrupted: pulumi killed (SIGKILL) while CRI-O checkpoints the job for m5; the job goes on where it was, never twice; the next up completes the hop", () => {
        interruptedHop(4, "m5", "master", "worker", "flink-minimal-m4", "checkpoint", "SIGKILL");
    });

    it("interrupted: SIGINT to the engine while CRI-O checkpoints the job for m6; the job goes on where it was, never twice; the next up completes the hop", () => {
        interruptedHop(5, "m6", "worker", "master", "flink-minimal-m5", "checkpoint", "SIGINT");
    });

    it("interrupted: pulumi killed (SIGKILL) while the target's CRI-O restores m7; the job goes on at its source or committed at its target, never twice; the next up completes the hop", () => {
        interruptedHop(6, "m7", "master", "worker", "flink-minimal-m6", "restore", "SIGKILL");
    });

    it("interrupted: SIGINT to the engine while the target's CRI-O restores m8; the job goes on at its source or committed at its target, never twice; the next up completes the hop", () => {
        interruptedHop(7, "m8", "worker", "master", "flink-minimal-m7", "restore", "SIGINT");
    });

    /**
     * A hop disrupted by `disrupt` (a `when` trigger, armed before the update): the update fails, the
     * job goes on where it was or where it was committed, never on both nodes; once `recovered` holds,
     * the next `up` completes the hop.
     */
    const nodeAwayHop = (index: number, id: string, from: "master" | "worker", to: "master" | "worker", sourcePod: string,
        what: string, disrupt: () => () => boolean, recovered: () => void) => {
        request(index, id, to);
        const targetPod = `flink-minimal-${id}`;
        const before = probeOn(from, sourcePod);
        const done = disrupt();
        const sampler = startSampler(lab, [{ node: from, pod: sourcePod }, { node: to, pod: targetPod }], what.replace(/\W+/g, "-"));
        let samples: FlinkProbe[];
        let where: "source" | "target";
        let r: { status: number; out: string };
        try {
            r = up();
            assert.ok(done(), `${what} during the hop`);
            assert.notEqual(r.status, 0, "the update failed");
            where = settle(before, from, sourcePod, to, targetPod);
        } finally {
            samples = sampler.stop();
            recovered();
        }
        wentOnOnce(where, samples, to, targetPod);
        const fenceLog = lab.ssh(to, `cat ${FENCES_DIR}/default_${targetPod}.log 2>/dev/null`).stdout;
        console.log(`      ${what}: the job went on at the ${where}${fenceLog ? `; the target's fence: ${String(fenceLog).trim().split("\n").pop()}` : ""}; the update said: ` +
            r.out.split("\n").filter(l => /error:/.test(l) && !l.includes('running "bash')).slice(0, 2).map(l => l.trim().slice(0, 200)).join(" | "));
        const again = where === "source" ? probeOn(from, sourcePod) : before;
        const m = migrateWatched(index, id, from, to, sourcePod);
        if (where === "source") assert.match(m.attempt, /^retry [0-9a-f]{12}$/, "redone from a new checkpoint: the source took the job back");
        checkHop(m, id, from, to, again);
    };

    it("node away: the target's sshd refuses every connection for 60 s once m9's archive arrived; the update fails, the job goes on at its source or committed at its target, never twice; the next up completes the hop", () => {
        // Every packet to the target's port 22 is refused, open sessions included (the engine's, the
        // tests', and the one that sets the rule: hence detached); the node takes the rule back after 60 s.
        const rule = "INPUT -p tcp --dport 22 -j REJECT --reject-with tcp-reset";
        nodeAwayHop(8, "m9", "master", "worker", "flink-minimal-m8", "the target's sshd gone",
            () => when(lab, "worker", "grep -q 'pod default/flink-minimal-m9 container flink: restoring from' /var/log/lab/cri-proxy.log",
                `setsid bash -c 'iptables -I ${rule}; sleep 60; iptables -D ${rule}' </dev/null >/dev/null 2>&1 &`),
            () => { for (let i = 0; i < 120 && lab.ssh("worker", "true").status !== 0; i++) sleep(1000); });
    });

    it("node away: the source's CRI-O is killed (SIGKILL) right after CRIU's dump for m10 and started again 2 s later; the update fails, the job goes on at its source, never twice; the next up completes the hop", () => {
        // Waits on the node itself for the end of the dump (CRI-O is writing the archive), then kills
        // CRI-O as a crash would, and starts it again as its systemd unit would.
        const hold = `${LEASE_ROOT}/m10/hold`;
        nodeAwayHop(9, "m10", "worker", "master", "flink-minimal-m9", "the source's CRI-O killed",
            () => when(lab, "worker", `test -d ${hold}`,
                `for i in $(seq 1 6000); do test -e ${hold}/dumpedAt && break; sleep 0.01; done\n` +
                `test -e ${hold}/dumpedAt || exit 1\nkill -KILL "$(cat /run/lab/crio.pid)"\nsleep 2\n${serviceCommand("restart", "crio")}`),
            () => { lab.sshOk("worker", serviceCommand("restart_if_down", "crio")); kubectl("wait --for=condition=Ready node/worker --timeout=120s"); });
    });

    it("leaves no network namespace, mount, process or cgroup behind after destroy", () => {
        lab.destroy();
        assert.deepEqual(footprint("lml-local-"), before0);
        lab.dispose();
        lab = undefined as unknown as LocalLab;
    });
});
