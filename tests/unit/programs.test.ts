// Every node program is a file that its linter passes: ShellCheck for .sh (the pinned one the tests
// install, tests/harness/shellcheck.ts), Python's own parser for .py.
import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as YAML from "yaml";
import * as os from "os";
import * as path from "path";
import { renderKubeadmJoinConfig, renderKubeadmJoinScript, renderKubeadmResetScript } from "../../components/cluster/kubeadm";
import { ensurePrivateDirScript, MANAGED_FILES_RECORD, NODE_ROOT, putBackFileScript, removeDirScript, writeFileScript } from "../../components/node/scripts";
import { renderEntrypoint } from "../../components/flink/flink";
import { shellcheck } from "../harness/shellcheck";

const COMPONENTS = path.join(__dirname, "..", "..", "components");
const programs = fs.readdirSync(COMPONENTS, { recursive: true, encoding: "utf8" })
    .filter(f => /(^|\/)programs\/[^/]+\.(sh|py)$/.test(f)).sort();

describe("node programs as files (components/*/programs)", () => {
    it("are there: the lease tool, hold, cutover, transfer, the Flink probe and verify, kubeadm join", () => {
        for (const f of ["migration/programs/lease.sh", "migration/programs/hold.sh", "migration/programs/cutover.sh", "node/programs/transfer.sh",
            "flink/programs/probe.py", "workload/programs/verify.sh", "cluster/programs/kubeadm-join.sh"]) {
            assert.ok(programs.includes(f), `${f} missing; have ${programs.join(", ")}`);
        }
    });

    for (const f of programs.filter(p => p.endsWith(".sh"))) {
        it(`${f} passes shellcheck`, () => {
            const r = spawnSync(shellcheck(), ["-s", "bash", "-S", "style", path.join(COMPONENTS, f)], { encoding: "utf8" });
            assert.equal(r.status, 0, r.stdout + r.stderr);
        });
    }
    // The host side too: the entry point, the engine and local-lab scripts, CI's script, fixtures.
    const ROOT = path.join(COMPONENTS, "..");
    for (const f of [".ci/run", ...fs.readdirSync(path.join(ROOT, "scripts")).filter(n => n.endsWith(".sh")).map(n => `scripts/${n}`), "tests/fixtures/tcp-workload/container.sh"]) {
        it(`${f} passes shellcheck`, () => {
            const r = spawnSync(shellcheck(), ["-x", "-s", "bash", "-S", "style", f], { encoding: "utf8", cwd: ROOT });
            assert.equal(r.status, 0, r.stdout + r.stderr);
        });
    }
    it("the Flink container's entrypoint (rendered into the pod spec) passes shellcheck", () => {
        const entry = renderEntrypoint({
            enabled: true, version: "1.20.0", image: "i", job: "StateMachineExample", args: ["--error-rate", "0.0"], parallelism: 1,
            jobManagerMemory: "768m", taskManagerMemory: "1024m", checkpointIntervalMs: 10000, node: "worker",
        });
        const r = spawnSync(shellcheck(), ["-s", "bash", "-S", "style", "-"], { input: entry, encoding: "utf8" });
        assert.equal(r.status, 0, r.stdout + r.stderr);
    });
    for (const f of programs.filter(p => p.endsWith(".py"))) {
        it(`${f} is valid Python 3`, () => {
            const r = spawnSync("python3", ["-c", "import ast, sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])", path.join(COMPONENTS, f)], { encoding: "utf8" });
            assert.equal(r.status, 0, r.stderr);
        });
    }
});

describe("kubeadm join, run for real against a stand-in kubeadm", () => {
    let dir: string;
    beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "lml-join-")); });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("fills the join config from stdin into a 0600 file kubeadm reads, removes it after, and keeps the token out of its own text", () => {
        const template = renderKubeadmJoinConfig({ node: { name: "worker", address: "10.9.0.11" }, facts: { cgroupDriver: "cgroupfs", imagePullPolicy: "Never", ignorePreflightErrors: [] } });
        fs.writeFileSync(path.join(dir, "join.yaml"), template);
        // The stand-in kubeadm keeps what it was given and the mode of the file.
        fs.mkdirSync(path.join(dir, "bin"));
        fs.writeFileSync(path.join(dir, "bin", "kubeadm"), `#!/bin/bash\n[ "$1" = version ] && exit 0\necho "$@" >${dir}/args; cp "$3" ${dir}/seen; stat -c %a "$3" >${dir}/mode\n`, { mode: 0o755 });
        // sed's arguments are readable by every local user (/proc/PID/cmdline): the stand-in records them.
        fs.writeFileSync(path.join(dir, "bin", "sed"), `#!/bin/bash\necho "$@" >>${dir}/sed-args\nexec /bin/sed "$@"\n`, { mode: 0o755 });
        const script = renderKubeadmJoinScript(path.join(dir, "join.yaml"))
            .replace(/\/etc\/kubernetes\/kubelet\.conf/g, `${dir}/kubelet.conf`)
            .replace(/\/etc\/live-migration-lab\/\.join/g, `${dir}/.join`)
            .replace(/\/var\/log\//g, `${dir}/`);
        const token = "abcdef.0123456789abcdef";
        const join = JSON.stringify({ join: `kubeadm join 10.9.0.10:6443 --token ${token} --discovery-token-ca-cert-hash sha256:${"ab".repeat(32)} ` });
        assert.ok(!script.includes(token));
        const out = execFileSync("bash", ["-c", script], { input: join, encoding: "utf8", env: { ...process.env, PATH: `${dir}/bin:${process.env.PATH}` } });
        assert.equal(out.trim(), '{"joined":"now"}');
        const seen = YAML.parse(fs.readFileSync(path.join(dir, "seen"), "utf8"));
        assert.deepEqual(seen.discovery.bootstrapToken, { apiServerEndpoint: "10.9.0.10:6443", token, caCertHashes: [`sha256:${"ab".repeat(32)}`] });
        assert.equal(seen.nodeRegistration.name, "worker");
        assert.equal(fs.readFileSync(path.join(dir, "mode"), "utf8").trim(), "600");
        assert.match(fs.readFileSync(path.join(dir, "args"), "utf8"), /^join --config \S+\/\.join\.\w+$/m);
        assert.deepEqual(fs.readdirSync(dir).filter(f => f.startsWith(".join")), [], "the filled-in config is removed");
        assert.ok(!fs.readFileSync(path.join(dir, "sed-args"), "utf8").includes(token), "the token never is a command's argument");

        // Without join parameters on stdin it says so, and kubeadm is not run.
        fs.rmSync(path.join(dir, "args"));
        const r = spawnSync("bash", ["-c", script], { input: "", encoding: "utf8", env: { ...process.env, PATH: `${dir}/bin:${process.env.PATH}` } });
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /no join parameters on stdin/);
        assert.ok(!fs.existsSync(path.join(dir, "args")));
    });
    it("tries a join again whose preflight could not reach CRI-O within kubeadm's 2 s, and not one that failed otherwise", () => {
        fs.writeFileSync(path.join(dir, "join.yaml"), renderKubeadmJoinConfig({ node: { name: "worker", address: "10.9.0.11" }, facts: { cgroupDriver: "systemd", imagePullPolicy: "Never", ignorePreflightErrors: [] } }));
        fs.mkdirSync(path.join(dir, "bin"));
        const standIn = (failures: number, error: string) => fs.writeFileSync(path.join(dir, "bin", "kubeadm"), [
            "#!/bin/bash", '[ "$1" = version ] && exit 0', `echo x >>${dir}/calls`,
            `if [ "$(wc -l <${dir}/calls)" -le ${failures} ]; then echo '${error}'; echo 'error: error execution phase preflight: preflight checks failed'; exit 1; fi`, "",
        ].join("\n"), { mode: 0o755 });
        const script = renderKubeadmJoinScript(path.join(dir, "join.yaml"))
            .replace(/\/etc\/kubernetes\/kubelet\.conf/g, `${dir}/kubelet.conf`)
            .replace(/\/etc\/live-migration-lab\/\.join/g, `${dir}/.join`)
            .replace(/\/var\/log\//g, `${dir}/`)
            .replace(/sleep 5/, "sleep 0");
        const join = JSON.stringify({ join: `kubeadm join 10.9.0.10:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:${"ab".repeat(32)} ` });
        const run = () => spawnSync("bash", ["-c", script], { input: join, encoding: "utf8", env: { ...process.env, PATH: `${dir}/bin:${process.env.PATH}` } });
        const calls = () => fs.readFileSync(path.join(dir, "calls"), "utf8").split("\n").filter(Boolean).length;
        const cri = `\t[ERROR CRI]: could not connect to the container runtime: failed to create new CRI runtime service: validate service connection: validate CRI v1 runtime API for endpoint "unix:///var/run/crio/crio.sock": rpc error: code = DeadlineExceeded desc = context deadline exceeded`;
        standIn(1, cri);
        assert.equal(run().stdout.trim(), '{"joined":"now"}');
        assert.equal(calls(), 2, "tried again once");
        fs.rmSync(path.join(dir, "calls"));
        standIn(5, cri);
        const r = run();
        assert.equal(r.status, 1);
        assert.equal(calls(), 3, "at most three tries");
        assert.match(r.stderr, /kubeadm join failed; last lines of .*kubeadm-join\.log:\n.*could not connect to the container runtime/);
        fs.rmSync(path.join(dir, "calls"));
        standIn(1, "\t[ERROR FileAvailable--etc-kubernetes-kubelet.conf]: /etc/kubernetes/kubelet.conf already exists");
        assert.equal(run().status, 1);
        assert.equal(calls(), 1, "other preflight errors are not tried again");
    });
});

describe("kubeadm reset, run for real against a stand-in kubeadm that empties the kubelet's directory", () => {
    let dir: string;
    beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "lml-reset-")); });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("takes every workload's checkpoint archives (process memory) with the reset and puts back only others'", () => {
        const checkpoints = path.join(dir, "var", "lib", "kubelet", "checkpoints");
        fs.mkdirSync(checkpoints, { recursive: true });
        const archives = ["checkpoint-flink-minimal-m1_default-flink-1.tar", "checkpoint-redis-r1_default-server-1.tar", "checkpoint-redis-r1_default-sidecar-1.tar", "checkpoint-theirs_default-app-1.tar"];
        for (const a of archives) fs.writeFileSync(path.join(checkpoints, a), "memory");
        fs.mkdirSync(path.join(dir, "bin"));
        fs.writeFileSync(path.join(dir, "bin", "kubeadm"), `#!/bin/bash\n[ "$1" = reset ] && rm -rf '${path.join(dir, "var", "lib", "kubelet")}'\n`, { mode: 0o755 });
        const script = renderKubeadmResetScript(["flink-minimal", "redis"])
            .split(`'/var/lib/kubelet/checkpoints'`).join(`'${checkpoints}'`)
            .replace(/\/var\/log\//g, `${dir}/`);
        const r = spawnSync("bash", ["-c", script], { encoding: "utf8", env: { ...process.env, PATH: `${dir}/bin:${process.env.PATH}` } });
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(fs.readdirSync(checkpoints), ["checkpoint-theirs_default-app-1.tar"], "the lab's archives are gone, the host's own is back");
    });
});

describe("on hosts the program does not own, it changes only what it made (write-file, put-back-file, private-dir, remove-dir)", () => {
    let dir: string;
    let keep: string;
    beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "lml-own-")); keep = path.join(dir, "record"); });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
    /** Runs a program with the node's record of managed files moved into the test's directory. */
    const run = (script: string, input = "") => spawnSync("bash", ["-c", script.split(`'${MANAGED_FILES_RECORD}'`).join(`'${keep}'`)], { input, encoding: "utf8" });
    const json = (r: ReturnType<typeof run>) => { assert.equal(r.status, 0, r.stderr); return JSON.parse(r.stdout.trim().split("\n").pop()!); };
    const mode = (p: string) => (fs.statSync(p).mode & 0o7777).toString(8);

    it("keeps the host's own file aside at the first write and puts it back, content and mode, on removal; a neighbour is never touched", () => {
        const etc = path.join(dir, "etc", "criu");
        fs.mkdirSync(etc, { recursive: true });
        const conf = path.join(etc, "runc.conf");
        fs.writeFileSync(conf, "tcp-close\n", { mode: 0o640 });
        fs.writeFileSync(path.join(etc, "other.conf"), "the host's\n");
        const first = json(run(writeFileScript(conf, 0o644), "tcp-established\n"));
        assert.equal(first.state, "written");
        assert.equal(first.kept, `${keep}/kept${conf}`);
        assert.equal(fs.readFileSync(conf, "utf8"), "tcp-established\n");
        // A second write (new content) keeps the host's file as it was, not the program's first one.
        json(run(writeFileScript(conf, 0o644), "tcp-established\nskip-in-flight\n"));
        assert.equal(fs.readFileSync(`${keep}/kept${conf}`, "utf8"), "tcp-close\n");
        assert.deepEqual(json(run(putBackFileScript(conf))), { path: conf, action: "put back" });
        assert.equal(fs.readFileSync(conf, "utf8"), "tcp-close\n");
        assert.equal(mode(conf), "640");
        assert.equal(fs.readFileSync(path.join(etc, "other.conf"), "utf8"), "the host's\n");
        assert.ok(!fs.existsSync(keep), "the record goes when nothing is left in it");
    });

    it("removes a file it made with the directories it made for it, leaves directories it found, and leaves alone a file it has no record of", () => {
        fs.mkdirSync(path.join(dir, "etc"));
        const file = path.join(dir, "etc", "crio", "crio.conf.d", "60-lab.conf");
        assert.equal(json(run(writeFileScript(file, 0o644), "x\n")).kept, "");
        assert.deepEqual(json(run(putBackFileScript(file))), { path: file, action: "removed" });
        assert.deepEqual(fs.readdirSync(path.join(dir, "etc")), [], "crio/ and crio.conf.d/ were made for it; etc/ was there");
        const theirs = path.join(dir, "etc", "theirs.conf");
        fs.writeFileSync(theirs, "keep me\n");
        assert.deepEqual(json(run(putBackFileScript(theirs))), { path: theirs, action: "left" });
        assert.equal(fs.readFileSync(theirs, "utf8"), "keep me\n");
    });

    it("refuses an archive directory that holds files it did not write, adopts an empty one and gives it back as found, removes one it made", function () {
        if (process.getuid?.() !== 0) this.skip(); // the directory is made root-owned
        const theirs = path.join(dir, "theirs");
        fs.mkdirSync(theirs);
        fs.writeFileSync(path.join(theirs, "notes.txt"), "mine\n", { mode: 0o644 });
        const refused = run(ensurePrivateDirScript(theirs));
        assert.notEqual(refused.status, 0);
        assert.match(refused.stderr, /already holds files this program did not write \(notes\.txt\).*archive\.dir.*nothing was changed/);
        assert.equal(mode(theirs), "755");
        assert.equal(mode(path.join(theirs, "notes.txt")), "644");

        const empty = path.join(dir, "empty");
        fs.mkdirSync(empty, { mode: 0o755 });
        assert.equal(json(run(ensurePrivateDirScript(empty))).found, "adopted");
        assert.equal(mode(empty), "700");
        fs.writeFileSync(path.join(empty, "m1.tar"), "archive");
        assert.equal(json(run(removeDirScript(empty))).action, "given back as found");
        assert.deepEqual(fs.readdirSync(empty), []);
        assert.equal(mode(empty), "755");

        const made = path.join(dir, "lab", "checkpoints");
        assert.equal(json(run(ensurePrivateDirScript(made))).found, "created");
        fs.writeFileSync(path.join(made, "m1.tar"), "archive");
        fs.writeFileSync(path.join(made, "m2.tar.part"), "cut short");
        assert.equal(json(run(removeDirScript(made))).action, "removed");
        assert.ok(!fs.existsSync(path.join(dir, "lab")), "the parent it made goes too");

        // A file someone put into the program's directory later stays, and is named.
        json(run(ensurePrivateDirScript(made)));
        fs.writeFileSync(path.join(made, "later.txt"), "someone's");
        const kept = json(run(removeDirScript(made)));
        assert.deepEqual([kept.action, kept.left], ["kept: it holds files the program did not write", "later.txt"]);
        assert.equal(fs.readFileSync(path.join(made, "later.txt"), "utf8"), "someone's");

        // Inside the program's own root, a directory an older version made (no record) is its own.
        const legacy = path.join(dir, "own", "checkpoints");
        fs.mkdirSync(legacy, { recursive: true });
        fs.writeFileSync(path.join(legacy, "m1.tar"), "archive");
        const own = (script: string) => script.split(`OWN_ROOT='${NODE_ROOT}'`).join(`OWN_ROOT='${path.join(dir, "own")}'`);
        assert.equal(json(run(own(ensurePrivateDirScript(legacy)))).found, "created");
        assert.equal(mode(path.join(legacy, "m1.tar")), "600");
    });
});

describe("a failing node program", () => {
    it("says which program failed, on what, where and at which line (its ERR trap)", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lml-fail-"));
        try {
            fs.writeFileSync(path.join(dir, "file"), "");
            // A directory under a regular file cannot be made: `install -d` fails inside the program.
            const r = spawnSync("bash", ["-c", ensurePrivateDirScript(path.join(dir, "file", "archives"))], { encoding: "utf8" });
            assert.notEqual(r.status, 0);
            assert.match(r.stderr, new RegExp(`live-migration-lab: directory ${dir}/file/archives failed on \\S+ at line \\d+`));
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
