// Every node program is a file that its linter passes: shellcheck for .sh, Python's own parser for .py.
import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { installCredentialsScript, pkiScript } from "../../components/cluster/localCluster";
import { ensurePrivateDirScript } from "../../components/node/scripts";
import { renderEntrypoint } from "../../components/flink/flink";

const COMPONENTS = path.join(__dirname, "..", "..", "components");
const programs = fs.readdirSync(COMPONENTS, { recursive: true, encoding: "utf8" })
    .filter(f => /(^|\/)programs\/[^/]+\.(sh|py)$/.test(f)).sort();

describe("node programs as files (components/*/programs)", () => {
    it("are there: the lease tool, hold, cutover, transfer, the Flink probe and verify, the PKI", () => {
        for (const f of ["migration/programs/lease.sh", "migration/programs/hold.sh", "migration/programs/cutover.sh", "node/programs/transfer.sh",
            "flink/programs/probe.py", "flink/programs/verify.sh", "cluster/programs/pki.py"]) {
            assert.ok(programs.includes(f), `${f} missing; have ${programs.join(", ")}`);
        }
    });

    for (const f of programs.filter(p => p.endsWith(".sh"))) {
        it(`${f} passes shellcheck`, () => {
            const r = spawnSync("shellcheck", ["-s", "bash", "-S", "style", path.join(COMPONENTS, f)], { encoding: "utf8" });
            assert.ok(!r.error, "shellcheck is not installed: apt-get install shellcheck (scripts/lab.sh test installs it)");
            assert.equal(r.status, 0, r.stdout + r.stderr);
        });
    }
    // The host side too: the entry point, the engine and local-lab scripts, CI's script, fixtures.
    const ROOT = path.join(COMPONENTS, "..");
    for (const f of [".ci/run", ...fs.readdirSync(path.join(ROOT, "scripts")).filter(n => n.endsWith(".sh")).map(n => `scripts/${n}`), "tests/fixtures/tcp-workload/container.sh"]) {
        it(`${f} passes shellcheck`, () => {
            const r = spawnSync("shellcheck", ["-x", "-s", "bash", "-S", "style", f], { encoding: "utf8", cwd: ROOT });
            assert.ok(!r.error, "shellcheck is not installed: apt-get install shellcheck (scripts/lab.sh test installs it)");
            assert.equal(r.status, 0, r.stdout + r.stderr);
        });
    }
    it("the Flink container's entrypoint (rendered into the pod spec) passes shellcheck", () => {
        const entry = renderEntrypoint({
            version: "1.20.0", image: "i", job: "StateMachineExample", args: ["--error-rate", "0.0"], parallelism: 1,
            jobManagerMemory: "768m", taskManagerMemory: "1024m", checkpointIntervalMs: 10000, node: "worker",
        });
        const r = spawnSync("shellcheck", ["-s", "bash", "-S", "style", "-"], { input: entry, encoding: "utf8" });
        assert.equal(r.status, 0, r.stdout + r.stderr);
    });
    for (const f of programs.filter(p => p.endsWith(".py"))) {
        it(`${f} is valid Python 3`, () => {
            const r = spawnSync("python3", ["-c", "import ast, sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])", path.join(COMPONENTS, f)], { encoding: "utf8" });
            assert.equal(r.status, 0, r.stderr);
        });
    }
});

describe("the local lab's PKI programs, run for real in a scratch directory", () => {
    let dir: string;
    beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "lml-pki-")); });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("issues the CA and certificates once, installs the master's files, and hands each other node a bundle it installs", () => {
        // The same programs with every path moved into the scratch directory.
        const script = pkiScript({ name: "master", address: "10.9.0.10" }, [{ name: "master", address: "10.9.0.10" }, { name: "worker", address: "10.9.0.11" }])
            .replace(/^PKI_DIR=.*$/m, `PKI_DIR='${dir}/pki'`)
            .replace(/^ADMIN_KUBECONFIG=.*$/m, `ADMIN_KUBECONFIG='${dir}/admin.conf'`)
            .replace(/^KUBELET_KUBECONFIG=.*$/m, `KUBELET_KUBECONFIG='${dir}/kubelet.conf'`);
        const out = JSON.parse(execFileSync("bash", ["-c", script], { encoding: "utf8" }).trim().split("\n").pop()!);
        assert.deepEqual(Object.keys(out.nodes), ["worker"], "the master's files are installed, not handed out");
        const admin = JSON.parse(fs.readFileSync(path.join(dir, "admin.conf"), "utf8"));
        assert.equal(admin.clusters[0].cluster.server, "https://10.9.0.10:6443");
        assert.equal((fs.statSync(path.join(dir, "admin.conf")).mode & 0o777).toString(8), "600");
        const san = execFileSync("openssl", ["x509", "-in", path.join(dir, "pki", "apiserver.crt"), "-noout", "-ext", "subjectAltName"], { encoding: "utf8" });
        assert.match(san, /IP Address:10\.96\.0\.1/);
        assert.match(san, /DNS:kubernetes\.default\.svc\.cluster\.local/);
        const subject = execFileSync("openssl", ["x509", "-in", path.join(dir, "pki", "kubelet-worker-client.crt"), "-noout", "-subject"], { encoding: "utf8" });
        assert.match(subject, /O ?= ?system:nodes, CN ?= ?system:node:worker/);
        const ca = fs.readFileSync(path.join(dir, "pki", "ca.crt"));
        execFileSync("bash", ["-c", script]);
        assert.deepEqual(fs.readFileSync(path.join(dir, "pki", "ca.crt")), ca, "a second run keeps the CA");

        // The worker's bundle, installed by the credentials program (paths moved into the scratch directory).
        const bundle = JSON.stringify({ files: Object.fromEntries(Object.entries(out.nodes.worker.files as Record<string, unknown>).map(([p, f]) => [path.join(dir, "worker", p), f])) });
        const installed = JSON.parse(execFileSync("bash", ["-c", installCredentialsScript()], { input: bundle, encoding: "utf8" }).trim());
        assert.equal(installed.files.length, 4);
        const key = path.join(dir, "worker", dir, "pki", "kubelet.key");
        assert.equal((fs.statSync(key).mode & 0o777).toString(8), "600");
        assert.match(fs.readFileSync(key, "utf8"), /PRIVATE KEY/);
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
