// Workloads users bring, in the local lab beside the Flink job: the Redis example as it is shipped
// (examples/redis-sidecar.yaml: a server and a sidecar client in one pod, one loopback connection
// between them for the pod's whole life), its image built on every node from Debian's
// redis-server package. Stack config changes move Redis master -> worker -> master and, in between,
// the Flink job by its own entry, one hop per `pulumi up`, while a sampler reads the pod from outside
// (from the node, over the pod's loopback: nothing runs inside its containers while a hop holds
// them). Each hop: the counter never goes back, the sidecar's connection is the same one (its Redis
// client id; a reconnect would get a new id, and the sidecar exits rather than reconnect), the keys
// written before the hop are there after it, each container's archive is on both ends with the same
// digest, and the other workload is not touched. Needs root.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { createLocalLab, footprint, LocalLab, NodeName } from "../harness/local-lab-helpers";
import { ROOT } from "../harness/engine-helpers";
import { RedisSample, redisSampleScript, redisWentWrong, startRedisSampler } from "../harness/redis-helpers";
import { FlinkProbe, flinkProbeScript } from "../../components/flink/flink";

const EXAMPLE = YAML.parse(fs.readFileSync(path.join(ROOT, "examples", "redis-sidecar.yaml"), "utf8"))["live-migration-lab:workloads"];
const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

describe("workloads users bring in the local lab: the Redis example (server + sidecar) beside the Flink job", function () {
    this.timeout(3_600_000);
    let lab: LocalLab;
    let before0: ReturnType<typeof footprint>;
    /** Every sample of the Redis pod, oldest first: the counter never goes back, the connection never changes. */
    const seen: RedisSample[] = [];
    const saw = (s: RedisSample) => {
        seen.push(s);
        seen.sort((a, b) => a.at - b.at);
        const wrong = redisWentWrong(seen);
        if (wrong) assert.fail(`${wrong}\n${diagnostics(s.node as NodeName, s.pod)}`);
        return s;
    };
    /** The pod's containers, the sidecar's last lines and the fence's log, for a failure message. */
    const diagnostics = (node: NodeName, pod: string) => String(lab.ssh(node, [
        `crictl ps -a --label io.kubernetes.pod.name=${pod}`,
        `for c in $(crictl ps -a -q --label io.kubernetes.pod.name=${pod}); do echo "== $c"; crictl inspect -o go-template --template '{{.status.metadata.name}} {{.status.state}} exit {{.status.exitCode}} started {{.status.startedAt}} finished {{.status.finishedAt}}' "$c"; echo; crictl logs --tail 5 "$c" 2>&1; done`,
        `cat /run/live-migration-lab/fences/default_${pod}.log 2>/dev/null`,
    ].join("; ")).stdout);
    const sampleUntil = (what: string, node: NodeName, pod: string, ok: (s: RedisSample) => boolean, key?: number, seconds = 90): RedisSample => {
        let last: RedisSample | string = "no answer";
        const deadline = Date.now() + seconds * 1000;
        while (Date.now() < deadline) {
            const r = lab.ssh(node, redisSampleScript(pod, key));
            if (r.status === 0) {
                last = saw(JSON.parse(String(r.stdout).trim()) as RedisSample);
                if (ok(last)) return last;
            } else {
                last = String(r.stderr).trim();
            }
            sleep(500);
        }
        return assert.fail(`timed out after ${seconds}s waiting for ${what}; last sample: ${JSON.stringify(last)}\n${diagnostics(node, pod)}`);
    };
    /** Probes the Flink job until `ok` (its REST metrics refresh every second). */
    const flinkUntil = (what: string, node: NodeName, pod: string, ok: (p: FlinkProbe) => boolean, seconds = 120): FlinkProbe => {
        let last = "no answer";
        const deadline = Date.now() + seconds * 1000;
        while (Date.now() < deadline) {
            const r = lab.ssh(node, flinkProbeScript({ namespace: "default", pod }));
            if (r.status === 0) {
                const p = JSON.parse(String(r.stdout).trim()) as FlinkProbe;
                if (ok(p)) return p;
                last = JSON.stringify(p);
            } else {
                last = String(r.stderr).trim().split("\n").pop() ?? "";
            }
            sleep(1000);
        }
        return assert.fail(`timed out after ${seconds}s waiting for ${what}; last probe: ${last}`);
    };
    const kubectl = (args: string) => lab.sshOk("master", `KUBECONFIG=/etc/kubernetes/admin.conf kubectl ${args}`);
    const output = (name: string) => JSON.parse(lab.run.ok(["stack", "output", name, "--json", "--stack", "lab"], lab.project));
    const request = (index: number, id: string, workload: string, to: NodeName) => {
        for (const [k, v] of [["id", id], ["workload", workload], ["to", to]]) {
            lab.run.ok(["config", "set", "--path", `live-migration-lab:migrations[${index}].${k}`, v, "--stack", "lab"], lab.project);
        }
    };
    /** An update's errors, then its last lines. */
    const said = (out: string) => {
        const lines = out.split("\n").filter(l => !l.includes('running "bash'));
        return [...lines.filter(l => /error:|failed/.test(l)).slice(0, 20), "...", ...lines.slice(-40)].join("\n");
    };

    before(() => {
        before0 = footprint("lml-local-");
        lab = createLocalLab("10.231.95.0/24", { stack: "flink", workloadNode: "worker", workloads: EXAMPLE });
    });
    after(() => {
        if (!lab) return;
        lab.destroy();
        lab.dispose();
    });

    let first: RedisSample;
    let job: FlinkProbe;
    it("runs the Redis pod on the master and the Flink job on the worker after `pulumi up`, both images built on both nodes", () => {
        lab.run.ok(["up", "--yes", "--stack", "lab"], lab.project);
        const placed = output("workloads");
        assert.deepEqual(placed.redis, { pod: "redis", node: "master", image: "localhost/redis-lab:1" });
        assert.deepEqual({ pod: placed.flink.pod, node: placed.flink.node }, { pod: "flink-minimal", node: "worker" });
        // One image id on both nodes: a restore needs the same base image.
        const ids = (["master", "worker"] as const).map(n => lab.sshOk(n, "crictl inspecti -o go-template --template '{{.status.id}}' localhost/redis-lab:1").trim());
        assert.match(ids[0], /^(sha256:)?[0-9a-f]{64}$/);
        assert.equal(ids[0], ids[1]);
        first = sampleUntil("the sidecar to count", "master", "redis", s => s.counter > 0);
        const later = sampleUntil("the counter to grow", "master", "redis", s => s.counter > first.counter + 20);
        assert.equal(later.id, first.id, "one connection");
        job = flinkUntil("the Flink job to read records", "worker", "flink-minimal", p => p.state === "RUNNING" && p.records > 0);
    });

    /** Runs `pulumi up` for a Redis hop while the sampler watches both pods; checks the hop against the nodes. */
    const redisHop = (index: number, id: string, from: NodeName, to: NodeName, sourcePod: string) => {
        const before = sampleUntil("a sample before the hop", from, sourcePod, () => true);
        const flinkBefore = output("workloads").flink;
        request(index, id, "redis", to);
        const sampler = startRedisSampler(lab, [{ node: from, pod: sourcePod }, { node: to, pod: `redis-${id}` }]);
        let r;
        try {
            r = lab.run.pulumi(["up", "--yes", "--stack", "lab"], lab.project);
        } finally {
            const during = sampler.stop();
            for (const s of during) saw(s);
            console.log(`      ${during.length} samples from outside during ${id}`);
        }
        assert.equal(r.status, 0, `pulumi up failed:\n${said(r.out)}`);
        const m = output("migrations")[index];
        assert.equal(m.id, id);
        assert.equal(m.workload, "redis");
        assert.equal(m.from, from);
        assert.equal(m.to, to);
        assert.equal(m.restoredFrom, "direct");
        assert.equal(m.jobId, String(first.id), "the identity the probe reported: the sidecar's connection");
        assert.ok(m.records.before >= before.counter && m.records.after >= m.records.before, JSON.stringify(m.records));
        // One archive per container, the same bytes on both ends, root-only.
        assert.deepEqual(m.archives.map((a: { container: string }) => a.container), ["server", "sidecar"]);
        for (const a of m.archives) {
            assert.match(a.sourceArchive, new RegExp(`^/var/lib/kubelet/checkpoints/checkpoint-${sourcePod}_default-${a.container}-.*\\.tar$`));
            const [sum, mode] = lab.sshOk(to, `sha256sum ${a.archive} | cut -d' ' -f1; stat -c '%a %U' ${a.archive}`).trim().split("\n");
            assert.equal(sum, a.sha256);
            assert.equal(mode, "600 root");
            assert.equal(lab.sshOk(from, `sha256sum ${a.sourceArchive} | cut -d' ' -f1`).trim(), sum);
        }
        assert.equal(m.sizeBytes, m.archives.reduce((n: number, a: { sizeBytes: number }) => n + a.sizeBytes, 0));
        const t = m.timeline;
        assert.ok(t.pausedAt > 0 && t.pausedAt <= t.dumpedAt && t.dumpedAt <= t.heldAt && t.heldAt <= t.restoredAt && t.restoredAt <= t.committedAt, JSON.stringify(t));
        // After the hop: the same connection, counting on, and the key the sidecar wrote just before it.
        const after = sampleUntil("the restored pod to count on", to, `redis-${id}`, s => s.counter > m.records.after, before.counter);
        assert.equal(after.id, first.id, "the sidecar's connection survived the hop (no reconnect)");
        assert.ok(after.age >= before.age, `connection age ${after.age} s after, ${before.age} s before`);
        assert.equal(after.key, String(before.counter), `key:${before.counter}, written before the hop, is there after it`);
        const pods = kubectl("get pods -o name").trim().split("\n").sort();
        assert.deepEqual(pods, [`pod/${flinkBefore.pod}`, `pod/redis-${id}`].sort(), "the source pod is retired, the Flink pod untouched");
        assert.equal(kubectl(`get pod redis-${id} -o jsonpath={.spec.nodeName}`).trim(), to);
        assert.deepEqual(output("workloads").flink, flinkBefore, "the Flink job did not move");
        console.log(`      figures ${id}: no progress ${m.noProgressSeconds} s; checkpoint ${m.seconds.checkpoint} s, transfer ${m.seconds.transfer} s, restore ${m.seconds.restore} s, cutover ${m.seconds.cutover} s; archives ${m.archives.map((a: { container: string; sizeBytes: number }) => `${a.container} ${(a.sizeBytes / 1048576).toFixed(1)} MB`).join(", ")}; CRIU frozen ${m.criu.dump.frozenMs} ms`);
        return m;
    };

    it("moves Redis master -> worker (r1) by a stack config change: same connection, counter never back, keys kept, Flink untouched", () => {
        redisHop(0, "r1", "master", "worker", "redis");
        const flink = flinkUntil("the Flink job to count on beside it", "worker", "flink-minimal", p => p.records > job.records);
        assert.equal(flink.jobId, job.jobId);
    });

    it("moves the Flink job worker -> master (f1) by its own entry; the Redis pod and its connection are not touched", () => {
        const redisBefore = sampleUntil("a sample", "worker", "redis-r1", () => true);
        request(1, "f1", "flink", "master");
        // The Flink job's entry changes nothing of the Redis pod's resources.
        const plan = JSON.parse(lab.run.ok(["preview", "--json", "--stack", "lab"], lab.project)) as { steps: { op: string; urn: string }[] };
        const touched = plan.steps.filter(st => /workload-redis/.test(st.urn) && st.op !== "same").map(st => `${st.op} ${st.urn}`);
        assert.deepEqual(touched, [], "the preview of f1 leaves every Redis resource as it is");
        assert.ok(plan.steps.some(st => st.op === "create" && st.urn.endsWith("::migrate-f1-cutover")), "and does plan f1");
        const sampler = startRedisSampler(lab, [{ node: "worker", pod: "redis-r1" }]);
        let r;
        try {
            r = lab.run.pulumi(["up", "--yes", "--stack", "lab"], lab.project);
        } finally {
            for (const s of sampler.stop()) saw(s);
        }
        assert.equal(r.status, 0, `pulumi up failed:\n${said(r.out)}`);
        const redisAfter = sampleUntil("Redis to count on", "worker", "redis-r1", s => s.counter > redisBefore.counter);
        assert.equal(redisAfter.id, first.id);
        assert.equal(output("workloads").redis.pod, "redis-r1");
        const m = output("migrations")[1];
        assert.deepEqual([m.id, m.workload, m.from, m.to], ["f1", "flink", "worker", "master"]);
        assert.equal(m.jobId, job.jobId, "the same Flink job");
        assert.equal(flinkUntil("the job to count on at the master", "master", "flink-minimal-f1", p => p.records > m.records.after).jobId, job.jobId);
    });

    it("moves Redis back worker -> master (r2): the same connection since the pod started", () => {
        redisHop(2, "r2", "worker", "master", "redis-r1");
        assert.deepEqual(output("migrations").map((h: { id: string; workload: string }) => `${h.id}:${h.workload}`), ["r1:redis", "f1:flink", "r2:redis"]);
    });

    it("scripts/lab.sh status, kubectl, ssh, logs and timeline show the lab as it is", () => {
        const labSh = (...args: string[]) => spawnSync("bash", [path.join(ROOT, "scripts", "lab.sh"), ...args], {
            encoding: "utf8", timeout: 120_000,
            env: { ...process.env, LAB_PROJECT_DIR: lab.project, LAB_STACK: "lab", PULUMI_BACKEND_URL: `file://${lab.run.backend}`, PULUMI_CONFIG_PASSPHRASE: "engine-test" },
        });
        const ok = (...args: string[]) => {
            const r = labSh(...args);
            assert.equal(r.status, 0, `lab.sh ${args.join(" ")}: ${r.stderr}`);
            return r.stdout;
        };
        const status = ok("status");
        console.log(status.replace(/^/gm, "      "));
        assert.match(status, /^ {2}master +master +10\.231\.95\.10 +(v1|hybrid|v2) +\S+ +\S+ +\d+\.\d+/m, "the master with its cgroup, init, kernel and CRIU");
        assert.match(status, /^ {2}redis +master +redis-r2 +\d+ \(after r2\) +\d+ /m, "Redis on the master, the figure r2 verified");
        assert.match(status, /^ {2}flink +master +\S+ +\d+ \(after f1\) /m);
        assert.match(status, /^ {2}r2 +redis +worker -> master +\d+\.\d+ s /m);
        assert.deepEqual(ok("kubectl", "get", "pods", "-o", "name").trim().split("\n").filter(p => p.startsWith("pod/redis")), ["pod/redis-r2"],
            "kubectl from the host reaches the lab's API server");
        assert.equal(ok("ssh", "worker", "cat /proc/sys/kernel/hostname").trim(), "worker");
        assert.match(ok("logs", "redis", "server", "--tail", "5"), /\S/, "the server's last log lines");
        const svg = path.join(lab.work, "r2.svg");
        ok("timeline", "r2", svg);
        assert.match(fs.readFileSync(svg, "utf8"), /migration r2: worker -&gt; master/);
        assert.equal(fs.statSync(path.join(lab.project, ".lab", "kubeconfig-lab")).mode & 0o777, 0o600, "the kubeconfig is root-only");
    });

    it("previews no changes once the hops are done", () => {
        lab.run.ok(["preview", "--expect-no-changes", "--stack", "lab"], lab.project);
    });

    it("leaves no network namespace, mount, process or cgroup behind after destroy", () => {
        lab.destroy();
        assert.deepEqual(footprint("lml-local-"), before0);
        lab.dispose();
        lab = undefined as unknown as LocalLab;
    });
});
