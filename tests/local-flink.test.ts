// A real Apache Flink job in the local lab: `pulumi up` of the whole program (nodes, Kubernetes,
// the Flink image built on every node from Maven Central's jars and Debian's JRE, the flink-minimal
// pod). The job must be RUNNING on the worker with a record count that grows; the kubelet's
// checkpoint API must fail with CRIU's TCP error without tcp-established in runc.conf and succeed
// with it, the job running on either way. Prints the figures (pod RSS, archive size, checkpoint
// time). Then two stack config changes move the job worker -> master -> worker through the
// program's migration chain: the same job goes on with its count carried over, and the outputs
// name real archives whose digests match. Needs root (CI runs as root).
import { strict as assert } from "assert";
import { createLocalLab, footprint, LocalLab } from "./local-lab-helpers";
import { checkpointScript } from "../components/scripts";
import { FlinkProbe, flinkProbeScript } from "../components/flink";
import { KUBELET_CLIENT_CERT, KUBELET_CLIENT_KEY } from "../components/cluster";

const SEED_ERROR = "Error (criu/sk-inet.c:200): inet: Connected TCP socket, consider using --tcp-established option.";
const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

describe("a real Flink job in the local lab (flink-minimal pod, kubelet checkpoint API, real CRIU)", function () {
    this.timeout(3_600_000);
    let lab: LocalLab;
    let before0: ReturnType<typeof footprint>;
    const probeOn = (node: "master" | "worker", pod: string): FlinkProbe =>
        JSON.parse(lab.sshOk(node, flinkProbeScript({ namespace: "default", pod })).trim());
    const probe = () => probeOn("worker", "flink-minimal");
    /** Probes until `ok` holds (the REST metrics refresh every second). */
    const probeUntil = (what: string, ok: (p: FlinkProbe) => boolean, seconds = 90): FlinkProbe => {
        let last: FlinkProbe | string = "no answer";
        for (let i = 0; i < seconds; i++) {
            const r = lab.ssh("worker", flinkProbeScript({ namespace: "default", pod: "flink-minimal" }));
            if (r.status === 0) {
                last = JSON.parse(String(r.stdout).trim()) as FlinkProbe;
                if (ok(last)) return last;
            } else {
                last = String(r.stderr).trim();
            }
            sleep(1000);
        }
        return assert.fail(`timed out after ${seconds}s waiting for ${what}; last probe: ${JSON.stringify(last)}`);
    };
    const checkpoint = () => lab.ssh("master", checkpointScript({
        kubeletAddress: lab.nodes.worker, namespace: "default", pod: "flink-minimal", container: "flink",
        clientCert: KUBELET_CLIENT_CERT, clientKey: KUBELET_CLIENT_KEY, timeoutSeconds: 300,
    }));

    before(() => {
        before0 = footprint("lml-local-");
        lab = createLocalLab("10.231.97.0/24", { stack: "flink", workloadNode: "worker" });
    });
    after(() => {
        if (!lab) return;
        lab.destroy();
        lab.dispose();
    });

    let first: FlinkProbe;
    it("runs the job on the worker after `pulumi up`, from one image id on every node, and its record count grows", () => {
        lab.run.ok(["up", "--yes", "--stack", "lab"], lab.project);
        const out = JSON.parse(lab.run.ok(["stack", "output", "flink", "--json", "--stack", "lab"], lab.project));
        assert.equal(out.pod, "flink-minimal");
        assert.equal(out.node, "worker");
        assert.equal(out.image, "localhost/flink-minimal:1.20.0");
        assert.deepEqual(Object.keys(out.imageIds).sort(), ["master", "worker"]);
        assert.equal(out.imageIds.master, out.imageIds.worker, "a restore needs the same base image id on both nodes");
        assert.match(out.imageIds.worker, /^[0-9a-f]{64}$/);

        first = probeUntil("the job to read records", p => p.state === "RUNNING" && p.records > 0);
        assert.match(first.jobId, /^[0-9a-f]{32}$/);
        assert.equal(first.node, "worker");
        const later = probeUntil("the record count to grow", p => p.records > first.records + 100);
        assert.equal(later.jobId, first.jobId, "the same job");
        assert.equal(later.startTime, first.startTime, "not resubmitted");
        assert.equal(later.state, "RUNNING");
        assert.ok(later.checkpoints >= first.checkpoints, "Flink's own checkpoints only add up");
    });

    it("fails the kubelet checkpoint with CRIU's TCP error when runc.conf lacks tcp-established; the job keeps running", () => {
        lab.sshOk("worker", "sed -i 's/^tcp-established$/# tcp-established (removed by the test)/' /etc/criu/runc.conf");
        let failedAt: FlinkProbe;
        try {
            const r = checkpoint();
            assert.notEqual(r.status, 0, "the checkpoint must fail");
            assert.ok(String(r.stderr).includes(SEED_ERROR), `CRIU's error reaches the caller:\n${r.stderr}`);
            failedAt = probe();
        } finally {
            lab.sshOk("worker", "sed -i 's/^# tcp-established (removed by the test)$/tcp-established/' /etc/criu/runc.conf");
        }
        const after = probeUntil("the job to go on after the failed dump", p => p.records > failedAt.records + 100);
        assert.equal(after.jobId, first.jobId);
        assert.equal(after.state, "RUNNING");
        assert.equal(lab.sshOk("worker", "ls /var/lib/kubelet/checkpoints 2>/dev/null | wc -l").trim(), "0", "a failed dump leaves no archive");
    });

    it("checkpoints it with the program's runc.conf: a root-only archive about the pod's size, the job still running", () => {
        const at = probe();
        const r = checkpoint();
        assert.equal(r.status, 0, String(r.stderr));
        const { archive, seconds } = JSON.parse(String(r.stdout).trim()) as { archive: string; seconds: number };
        assert.match(archive, /^\/var\/lib\/kubelet\/checkpoints\/checkpoint-flink-minimal_default-flink-.*\.tar$/);
        const [mode, owner, bytes] = lab.sshOk("worker", `stat -c '%a %U %s' ${archive}`).trim().split(" ");
        assert.equal(`${mode} ${owner}`, "600 root");
        // The archive is the processes' memory: it cannot be much smaller than what they hold.
        assert.ok(Number(bytes) > at.rssBytes / 2, `archive ${bytes} B vs pod RSS ${at.rssBytes} B`);
        const after = probeUntil("the job to go on after the checkpoint", p => p.records > at.records + 100);
        assert.equal(after.jobId, first.jobId);
        assert.equal(after.startTime, first.startTime);
        const mb = (b: number) => (b / 1048576).toFixed(0);
        console.log(`      figures: pod RSS ${mb(at.rssBytes)} MB, archive ${mb(Number(bytes))} MB, kubelet checkpoint call ${seconds.toFixed(2)} s`);
    });

    /** Requests a migration the way `scripts/lab.sh migrate` does, runs `pulumi up`, returns its summary. */
    const migrate = (index: number, id: string, to: "master" | "worker") => {
        lab.run.ok(["config", "set", "--path", `live-migration-lab:migrations[${index}].id`, id, "--stack", "lab"], lab.project);
        lab.run.ok(["config", "set", "--path", `live-migration-lab:migrations[${index}].to`, to, "--stack", "lab"], lab.project);
        lab.run.ok(["up", "--yes", "--stack", "lab"], lab.project);
        const all = JSON.parse(lab.run.ok(["stack", "output", "migrations", "--json", "--stack", "lab"], lab.project));
        assert.equal(all.length, index + 1);
        return all[index];
    };
    for (const [index, id, from, to] of [[0, "m1", "worker", "master"], [1, "m2", "master", "worker"]] as const) {
        it(`migrates the job ${from} -> ${to} by a stack config change (${id}): same job, its count carried over, outputs matching the archive`, () => {
            const sourcePod = index === 0 ? "flink-minimal" : "flink-minimal-m1";
            const before = probeOn(from, sourcePod);
            const m = migrate(index, id, to);
            assert.equal(m.from, from);
            assert.equal(m.to, to);
            assert.equal(m.jobId, first.jobId, "the restored job is the one submitted at the start");
            assert.match(m.sourceArchive, /^\/var\/lib\/kubelet\/checkpoints\/checkpoint-flink-minimal.*\.tar$/);
            assert.equal(m.archive, `/var/lib/live-migration-lab/checkpoints/${id}.tar`);
            const [sum, mode, size] = lab.sshOk(to, `sha256sum ${m.archive} | cut -d' ' -f1; stat -c '%a %U' ${m.archive}; stat -c %s ${m.archive}`).trim().split("\n");
            assert.equal(m.sha256, sum, "the recorded digest is the archive's on the target");
            assert.equal(lab.sshOk(from, `sha256sum ${m.sourceArchive} | cut -d' ' -f1`).trim(), sum, "and the source's");
            assert.equal(mode, "600 root");
            assert.equal(m.sizeBytes, Number(size));
            for (const phase of ["checkpoint", "transfer", "image", "verify"]) assert.ok(m.seconds[phase] > 0, `${phase} timed`);

            const pod = `flink-minimal-${id}`;
            const restored = probeOn(to, pod);
            assert.equal(restored.jobId, first.jobId);
            assert.equal(restored.startTime, first.startTime, "not resubmitted: the JVMs' memory came along");
            assert.ok(restored.records >= before.records, `count carried over: ${restored.records} >= ${before.records} before the checkpoint`);
            const kubectl = (args: string) => lab.sshOk("master", `KUBECONFIG=/etc/kubernetes/admin.conf kubectl ${args}`);
            assert.equal(kubectl(`get pod ${pod} -o jsonpath={.spec.nodeName}`).trim(), to);
            assert.deepEqual(kubectl("get pods -o name").trim().split("\n"), [`pod/${pod}`], "the source pod is retired");
            console.log(`      figures ${id}: checkpoint ${m.seconds.checkpoint} s, transfer ${m.seconds.transfer} s, image ${m.seconds.image} s, verify ${m.seconds.verify} s, archive ${(m.sizeBytes / 1048576).toFixed(0)} MB`);
        });
    }

    it("does nothing when `pulumi up` runs again after the migrations", () => {
        lab.run.ok(["preview", "--expect-no-changes", "--stack", "lab"], lab.project);
    });

    it("leaves no network namespace, mount, process or cgroup behind after destroy", () => {
        lab.destroy();
        assert.deepEqual(footprint("lml-local-"), before0);
        lab.dispose();
        lab = undefined as unknown as LocalLab;
    });
});
