// The pods users bring (`workloads`): validation, planning across workloads, the history check
// and what the program declares for them (the Redis example with its sidecar), under Pulumi mocks.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as YAML from "yaml";
import { ConfigError, validateConfig } from "../../components/config/config";
import { desiredLab } from "../../components/desired";
import { buildLab } from "../../components/lab";
import { checkHistory, checkPending } from "../../components/migration/plan";
import { execProbeScript, firstFigureScript, restoredPodIgnores, rootfsName, workloadPodManifest } from "../../components/workload/pod";
import { promiseOf, runWithMocks } from "./mocks";
import { verifyScript } from "../../components/workload/workload";

const EXAMPLE = path.join(__dirname, "..", "..", "examples", "redis-sidecar.yaml");
/** The Redis example's workloads, as the stack config holds them. */
export const redisExample = () => YAML.parse(fs.readFileSync(EXAMPLE, "utf8"))["live-migration-lab:workloads"];

function problems(raw: Record<string, unknown>, hostMemoryMb = 16384): string[] {
    try {
        validateConfig(raw, false, hostMemoryMb);
    } catch (e) {
        assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
        return e.problems.map(p => `${p.path}: ${p.message}`);
    }
    assert.fail("config was accepted");
}
function hasProblem(lines: string[], at: string, ...fragments: string[]) {
    const hit = lines.find(l => l.startsWith(`live-migration-lab:${at}: `) && fragments.every(f => l.includes(f)));
    assert.ok(hit, `no problem at ${at} containing ${JSON.stringify(fragments)}; got:\n${lines.join("\n")}`);
}

describe("workloads: the pods users bring", () => {
    it("accepts the Redis example as it is shipped, with its defaults filled in", () => {
        const c = validateConfig({ workloads: redisExample() }, false, 16384);
        assert.equal(c.workloads.length, 1);
        const [w] = c.workloads;
        assert.equal(w.node, "master");
        assert.deepEqual(w.containers.map(x => x.name), ["server", "sidecar"]);
        assert.equal(w.probe.container, "server");
        assert.deepEqual(w.containers[1].ports, []);
        assert.deepEqual(c.plan.starts.map(s => `${s.name}@${s.node}`), ["flink@worker", "redis@master"]);
    });

    it("reports every problem at once: unknown workload, duplicate names, probe without command, container without image, bad node, unknown probe container", () => {
        const bad = problems({
            workloads: [
                { name: "a", node: "nowhere", containers: [{ name: "c", image: "localhost/a:1", packages: ["x1"] }, { name: "c", packages: ["x1"] }], probe: { container: "d", command: [] } },
                { name: "a", containers: [{ name: "c", image: "localhost/a:1", packages: ["x1"] }], probe: {} },
                { name: "flink", containers: [{ name: "c", image: "localhost/b:1", packages: ["x2"] }], probe: { command: ["true"] } },
            ],
            migrations: [{ id: "m1", workload: "postgres", to: "master" }],
        });
        hasProblem(bad, "workloads[0].node", `got "nowhere"`, `"master", "worker"`);
        hasProblem(bad, "workloads[0].containers[1].image", "missing; this key is required");
        hasProblem(bad, "workloads[0].containers[1].name", `got "c", already used by containers[0]`);
        hasProblem(bad, "workloads[0].probe.command", "needs at least 1");
        hasProblem(bad, "workloads[0].probe.container", `got "d", which is not a container of this workload`);
        hasProblem(bad, "workloads[1].probe.command", "missing; this key is required");
        hasProblem(bad, "workloads[1].name", `got "a", already used by workloads[0]`);
        hasProblem(bad, "workloads[2].name", `got "flink"`, "choose another name");
        hasProblem(bad, "migrations[0].workload", `got "postgres", which is not a workload of this stack`);
        const prefix = redisExample();
        hasProblem(problems({ workloads: [...prefix, { ...prefix[0], name: "redis-b" }] }), "workloads[1].name", `got "redis-b", which with "redis" (workloads[0]) would share pod names`);
    });

    it("says how the local lab gets images (built from Debian packages) and refuses packages where nodes pull", () => {
        const noPackages = problems({ workloads: [{ name: "a", containers: [{ name: "c", image: "localhost/a:1" }], probe: { command: ["true"] } }] });
        hasProblem(noPackages, "workloads[0].containers[0].packages", "missing with driver local", "Debian packages");
        const registryName = problems({ workloads: [{ name: "a", containers: [{ name: "c", image: "docker.io/library/redis:7", packages: ["redis-server"] }], probe: { command: ["true"] } }] });
        hasProblem(registryName, "workloads[0].containers[0].image", `"localhost/redis:1"`);
        const vagrant = problems({ driver: "vagrant", workloads: [{ name: "a", containers: [{ name: "c", image: "redis:7", packages: ["redis-server"] }], probe: { command: ["true"] } }] });
        hasProblem(vagrant, "workloads[0].containers[0].packages", "set with driver vagrant", "remove packages");
        // Existing hosts build images only with existing.images "build" (binaries present, no registry).
        const existing = (images: string) => ({
            driver: "existing", nodes: [{ name: "master", role: "master", address: "10.0.0.10" }, { name: "worker", role: "worker", address: "10.0.0.11" }],
            existing: { install: "present", images }, flink: { enabled: false }, sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
            workloads: [{ name: "a", containers: [{ name: "c", image: "localhost/a:1", packages: ["redis-server"] }], probe: { command: ["true"] } }],
        });
        hasProblem(problems(existing("pull")), "workloads[0].containers[0].packages", "set with driver existing", `or set existing.images "build"`);
        assert.deepEqual(validateConfig(existing("build"), true).workloads[0].containers[0].packages, ["redis-server"]);
        const twoLists = problems({ workloads: [{ name: "a", containers: [{ name: "c", image: "localhost/a:1", packages: ["x1"] }, { name: "d", image: "localhost/a:1", packages: ["x2"] }], probe: { command: ["true"] } }] });
        hasProblem(twoLists, "workloads[0].containers[1].packages", `image "localhost/a:1", which workloads[0].containers[0] builds from [x1]`);
        const image = problems({ archive: { restore: "image" }, workloads: redisExample() });
        hasProblem(image, "workloads[0].containers", `has 2 containers with archive.restore "image"`);
    });

    it("needs the workload named in migrations once the stack runs several; with one it may be left out", () => {
        hasProblem(problems({ workloads: redisExample(), migrations: [{ id: "r1", to: "worker" }] }), "migrations[0].workload", "missing; the stack runs 2 workloads", `"flink", "redis"`);
        const only = validateConfig({ flink: { enabled: false }, workloads: redisExample(), migrations: [{ id: "r1", to: "worker" }] }, false, 16384);
        assert.deepEqual(only.plan.hops.map(h => `${h.id}:${h.workload}:${h.from}->${h.to}`), ["r1:redis:master->worker"]);
        hasProblem(problems({ flink: { enabled: false }, migrations: [{ id: "m1", to: "master" }] }), "migrations[0]", "runs no workload to move");
        hasProblem(problems({ kubernetes: { enabled: false }, workloads: redisExample() }), "workloads", "kubernetes.enabled is false");
    });

    it("refuses pods that cannot fit where they start or where a hop restores them beside what runs there", () => {
        const big = redisExample();
        big[0].containers[0].memoryMb = 3000;
        // Flink's pod takes 768 + 1024 + 256 MB; a 4 GiB VM keeps 1 GiB for its system.
        const vagrant = { driver: "vagrant", archive: { restore: "direct" }, workloads: big.map((w: any) => ({ ...w, node: "worker", containers: w.containers.map((x: any) => ({ ...x, image: "redis:7", packages: [] })) })) };
        hasProblem(problems({ ...vagrant, archive: undefined }), "workloads[0]", "needs 3064 MB for its pod on worker", "node worker, which has 3072 MB for pods", "2048 MB of it go to the workloads before it");
        const hop = problems({ workloads: redisExample(), migrations: [{ id: "f1", workload: "flink", to: "master" }] }, 2100);
        hasProblem(hop, "migrations[0].to", "workload flink's restored pod needs 2048 MB beside the 2240 MB running there", "this machine, which all the local lab's nodes share,");
    });

    it("reads the history of each workload apart: an edited entry is named, and a workload not started yet cannot move", () => {
        const starts = [{ name: "flink", node: "worker", nodePath: "flink.node" }, { name: "redis", node: "master", nodePath: "workloads[0].node" }];
        const done = [{ id: "r1", workload: "redis", from: "master", to: "worker" }];
        const moved = checkHistory(done, [starts[0], { ...starts[1], node: "worker" }], [{ id: "r1", workload: "redis", to: "worker" }]);
        assert.match(moved.map(p => `${p.path}: ${p.message}`).join("\n"), /workloads\[0\]\.node: got "worker", but workload redis started on "master" and has moved since \(r1\)/);
        const edited = checkHistory(done, starts, [{ id: "r1", workload: "flink", to: "worker" }]);
        assert.match(edited[0].message, /got \{id: r1, workload: flink, to: worker\}, but migration \{id: r1, workload: redis, to: worker\} was carried out there/);
        const notStarted = checkPending([], new Set(["flink"]), [{ id: "r1", workload: "redis", to: "worker" }]);
        assert.match(notStarted[0].message, /workload redis has not been started by a successful `pulumi up` yet/);
    });

    it("keeps a carried-out entry without workload meaning what it moved when the stack ran one workload, after another is added or removed", () => {
        // `lab.sh migrate master` on a stack with only the Flink job wrote {id: m1, to: master}; m1 was carried out.
        const history = [{ id: "m1", to: "master" }];
        const withRedis = { flink: { node: "worker" }, workloads: redisExample(), migrations: history };
        hasProblem(problems(withRedis), "migrations[0].workload", "missing; the stack runs 2 workloads");
        const recorded = new Map([["m1", "flink"]]);
        const c = validateConfig(withRedis, false, 16384, recorded);
        assert.deepEqual(c.plan.hops.map(h => [h.id, h.workload, h.from, h.to]), [["m1", "flink", "worker", "master"]]);
        // A new entry still names its workload, and later hops of the same workload follow m1.
        const more = validateConfig({ ...withRedis, migrations: [...history, { id: "r1", workload: "redis", to: "worker" }, { id: "m2", workload: "flink", to: "worker" }] }, false, 16384, recorded);
        assert.deepEqual(more.plan.hops.map(h => `${h.id}:${h.workload}:${h.from}->${h.to}:${h.previous ?? "-"}`), ["m1:flink:worker->master:-", "r1:redis:master->worker:-", "m2:flink:master->worker:m1"]);
        // Its workload removed since: said so, not silently given to the one left.
        const redisOnly = { flink: { enabled: false }, workloads: redisExample(), migrations: history };
        let said = "";
        try { validateConfig(redisOnly, false, 16384, recorded); } catch (e) { said = String(e); }
        assert.match(said, /migrations\[0\]\.workload: missing, and this carried-out hop moved workload flink, which the stack no longer runs/);
    });

    it("never replaces a restored pod for a change of its containers, which would restore the same archive again; a redone hop makes a new one", () => {
        assert.deepEqual(restoredPodIgnores("r1", { retrying: false }, ["spec.containers[0].env"]), ["spec.containers"]);
        assert.deepEqual(restoredPodIgnores("r1", { retrying: true }, ["spec.containers[0].env"]), []);
        assert.deepEqual(restoredPodIgnores("initial", undefined, ["spec.containers[0].env"]), ["spec.containers[0].env"]);
    });

    it("names the rootfs by its packages as scripts/rootfs-build.sh --workload does", () => {
        assert.equal(rootfsName(["redis-server", "bash"]), rootfsName(["bash", "redis-server", "bash"]));
        assert.equal(rootfsName(["redis-server", "bash"]), "rootfs-sid-20cd12015134ae25");
    });

    it("renders the pod: every container, restore annotations per container, never pulling what the lab builds", () => {
        const [w] = validateConfig({ workloads: redisExample() }, false, 16384).workloads;
        const initial = workloadPodManifest({ spec: w, namespace: "default", nodeName: "master", stage: "initial" });
        assert.equal(initial.metadata.name, "redis");
        assert.deepEqual(initial.spec.containers.map(c => [c.name, c.image, c.imagePullPolicy]), [["server", "localhost/redis-lab:1", "Never"], ["sidecar", "localhost/redis-lab:1", "Never"]]);
        assert.deepEqual(initial.spec.containers[0].resources.limits, { memory: "128Mi" });
        const restored = workloadPodManifest({ spec: w, namespace: "default", nodeName: "worker", stage: "r1", attempt: "first", restoreArchives: { server: "/a/r1.tar", sidecar: "/a/r1-sidecar.tar" } });
        assert.equal(restored.metadata.name, "redis-r1");
        assert.deepEqual(restored.metadata.annotations, {
            "live-migration-lab/restore.server": "/a/r1.tar", "live-migration-lab/restore.sidecar": "/a/r1-sidecar.tar", "pulumi.com/skipAwait": "true",
        });
        assert.deepEqual(restored.spec.containers[1].env, [{ name: "LAB_MIGRATION_ATTEMPT", value: "first" }]);
    });

    it("declares the workload's pod and images, and a hop that checkpoints, streams, restores and verifies both containers", async () => {
        const raw = { workloads: redisExample(), migrations: [{ id: "r1", workload: "redis", to: "worker" }] };
        const { resources, result } = await runWithMocks(raw, () => buildLab(desiredLab(validateConfig(raw, false, 16384)), undefined, "/tmp/lml-test"));
        const pods = resources.filter(r => r.type === "kubernetes:core/v1:Pod").map(p => p.inputs.metadata.name).sort();
        assert.deepEqual(pods, ["flink-minimal", "redis-r1"]);
        const images = resources.filter(r => r.name.startsWith("workload-images-")).map(r => r.name).sort();
        assert.deepEqual(images, ["workload-images-redis-lab-1-master", "workload-images-redis-lab-1-worker"]);
        const build = resources.find(r => r.name === "workload-images-redis-lab-1-worker")!;
        assert.match(build.inputs.create, /\/opt\/lab\/images\/rootfs-sid-[0-9a-f]{16}\.tar/);
        const create = (step: string) => resources.find(r => r.name === `migrate-r1-${step}`)!.inputs.create as string;
        assert.match(create("checkpoint"), /checkpoint\/default\/redis\/server\?timeout=300\nhttps:\/\/[0-9.]+:10250\/checkpoint\/default\/redis\/sidecar\?timeout=300/);
        assert.match(create("hold"), /CONTAINERS='\\''server sidecar'\\''/);
        assert.match(create("transfer"), /checkpoint-redis_default-server-\ncheckpoint-redis_default-sidecar-/);
        assert.match(create("cutover"), /redis-cli GET counter/, "verify runs the workload's own probe");
        assert.match(create("source-probe"), /first-figure\.sh/);
        const restored = resources.find(r => r.type === "kubernetes:core/v1:Pod" && r.inputs.metadata.name === "redis-r1")!;
        assert.deepEqual(Object.keys(restored.inputs.metadata.annotations).sort(), ["live-migration-lab/restore.server", "live-migration-lab/restore.sidecar", "pulumi.com/skipAwait"]);
        const placed = await promiseOf(result.workloads!);
        assert.deepEqual(placed.redis, { pod: "redis-r1", node: "worker", image: "localhost/redis-lab:1" });
        assert.deepEqual(placed.flink, { pod: "flink-minimal", node: "worker", image: "localhost/flink-minimal:1.20.0" });
        const [m] = await promiseOf(result.migrations!);
        assert.equal(m.workload, "redis");
    });
});

// The mocks need pulumi loaded once (mocks.ts); keeps the import used.
void pulumi;

describe("a workload's probe programs run for real against a stand-in crictl (exec-probe.sh, first-figure.sh)", () => {
    let dir: string;
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "lml-probe-"));
        fs.mkdirSync(path.join(dir, "bin"));
        // The stand-in: `ps` finds the probe container (and lists the pod's), `inspect` gives this
        // test's own pid, `exec` logs its arguments and prints what the test put in `said`.
        fs.writeFileSync(path.join(dir, "bin", "crictl"), [
            "#!/usr/bin/env bash",
            `d=${dir}`,
            'args=" $* "',
            'case $args in',
            '  *" ps "*) echo c0ffee ;;',
            `  *" inspect "*) echo ${process.pid} ;;`,
            '  *" exec "*) echo "$*" >"$d/exec.args"; cat "$d/said"; exit "$(cat "$d/rc" 2>/dev/null || echo 0)" ;;',
            "esac",
            "",
        ].join("\n"), { mode: 0o755 });
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
    const [spec] = validateConfig({ workloads: redisExample() }, false, 16384).workloads;
    const run = (script: string) => spawnSync("bash", ["-c", script.replace('PATH="/usr/local/sbin:/usr/local/bin:$PATH"', `PATH="${dir}/bin:$PATH"`)], { encoding: "utf8" });
    const probe = () => run(execProbeScript(spec, { namespace: "default", pod: "redis" }));

    it("runs the probe command in its container, word for word, and reports its figure and identity with the pod's RSS", () => {
        fs.writeFileSync(path.join(dir, "said"), "noise\n1234 7\n");
        const r = probe();
        assert.equal(r.status, 0, r.stderr);
        const p = JSON.parse(r.stdout.trim());
        assert.deepEqual([p.pod, p.jobId, p.records, p.state], ["redis", "7", 1234, "RUNNING"]);
        assert.ok(p.rssBytes > 0, "this process stands in for the pod's: its RSS is counted");
        assert.equal(fs.readFileSync(path.join(dir, "exec.args"), "utf8").trim(),
            `--runtime-endpoint unix:///var/run/crio/crio.sock exec --timeout 10 c0ffee ${spec.probe.command.join(" ")}`);
    });

    it("fails saying why: no figure, an identity it cannot carry, the command failing", () => {
        fs.writeFileSync(path.join(dir, "said"), "(nil) 7\n");
        assert.match(probe().stderr, /the probe of default\/redis printed no figure \(a whole number first on its last line\)/);
        fs.writeFileSync(path.join(dir, "said"), "12 a\"b\n");
        assert.match(probe().stderr, /printed an identity with characters other than/);
        fs.writeFileSync(path.join(dir, "said"), "Could not connect to Redis\n");
        fs.writeFileSync(path.join(dir, "rc"), "1");
        assert.match(probe().stderr, /the probe of default\/redis failed in its container server: Could not connect to Redis/);
    });

    it("the source probe waits for a figure above 0, and gives up saying so", () => {
        const counter = path.join(dir, "n");
        fs.writeFileSync(counter, "0");
        // A probe whose figure is 0 twice, then 5.
        const stand = `n=$(cat ${counter}); echo $((n + 1)) >${counter}; f=0; [ "$n" -lt 2 ] || f=5; echo "{\\"records\\": $f, \\"jobId\\": \\"\\"}"`;
        const ok = run(firstFigureScript("redis", stand, 10));
        assert.equal(ok.status, 0, ok.stderr);
        assert.equal(JSON.parse(ok.stdout.trim()).records, 5);
        const never = run(firstFigureScript("redis", `echo '{"records": 0}'`, 1));
        assert.notEqual(never.status, 0);
        assert.match(never.stderr, /the probe of redis reported no figure above 0 within 1s/);
    });

    it("verify keeps the probe's last answer where a caller that stops it at its own deadline reads it (VERIFY_LAST)", () => {
        // A restored job stuck at its figure (never growing): verify would wait its 30 s; the caller stops it after 3.
        const stuck = `echo '{"pod": "redis-r1", "records": 120, "jobId": "7", "state": "RUNNING"}'`;
        const last = path.join(dir, "verify.last");
        const r = spawnSync("bash", ["-c", `VERIFY_LAST=${last} timeout 3 bash -c "$V"`], {
            encoding: "utf8", env: { ...process.env, V: verifyScript({ namespace: "default", pod: "redis-r1", jobId: "7", recordsBefore: 100, timeoutSeconds: 30 }, stuck) },
        });
        assert.equal(r.status, 124, "stopped by the caller's timeout");
        assert.match(fs.readFileSync(last, "utf8"), /^\{"pod": "redis-r1", "records": 120, "jobId": "7", "state": "RUNNING"\} \(no progress since verify.s first probe\)\n$/);
        const failing = spawnSync("bash", ["-c", `VERIFY_LAST=${last} timeout 2 bash -c "$V"`], {
            encoding: "utf8", env: { ...process.env, V: verifyScript({ namespace: "default", pod: "redis-r1", jobId: "7", recordsBefore: 100, timeoutSeconds: 30 }, "echo 'no running server container' >&2; exit 1") },
        });
        assert.equal(failing.status, 124);
        assert.equal(fs.readFileSync(last, "utf8"), "the probe failed: no running server container\n");
    });
});
