// The migration planner and the drift review.
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as scripts from "../../components/node/scripts";
import { planMigrations } from "../../components/migration/plan";
import { archiveDirProblems, fileState, parseProbe, probeScript } from "../../components/node/drift";
import { attemptOf } from "../../components/migration/migration";

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
