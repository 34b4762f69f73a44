// The real Pulumi engine (CLI, language host, plugins as scripts/engine.sh installs them) with a
// local file backend in a scratch directory. Run through `scripts/lab.sh test`, which makes the
// engine available first.
import { strict as assert } from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { FIXTURES, projectCopy, pulumiRunner, requireEngine, ROOT } from "../harness/engine-helpers";

const PKG = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n";

describe("the real Pulumi engine", function () {
    this.timeout(300_000);
    let work: string;
    let pulumi: ReturnType<typeof pulumiRunner>["pulumi"];
    let ok: ReturnType<typeof pulumiRunner>["ok"];

    before(function () {
        requireEngine();
        work = fs.mkdtempSync(path.join(os.tmpdir(), "lml-engine-"));
        ({ pulumi, ok } = pulumiRunner(work));
    });
    after(() => { if (work) fs.rmSync(work, { recursive: true, force: true }); });

    it("is the CLI version the pulumi launcher pins, with the command plugin the SDK declares", () => {
        assert.equal(ok(["version"], work).trim(), `v${PKG.devDependencies.pulumi}`);
        const plugins = JSON.parse(ok(["plugin", "ls", "--json"], work)) as { name: string; kind: string; version: string }[];
        const want = JSON.parse(fs.readFileSync(path.join(ROOT, "node_modules/@pulumi/command/package.json"), "utf8")).pulumi.version;
        assert.ok(plugins.some(p => p.name === "command" && p.kind === "resource" && p.version === want), JSON.stringify(plugins));
    });

    it("runs pulumi up and destroy of a stack whose commands do real work, and reads outputs back", () => {
        const dir = path.join(work, "node");
        fs.mkdirSync(dir);
        const stack = path.join(FIXTURES, "commands-stack");
        ok(["stack", "init", "commands"], stack);
        try {
            ok(["config", "set", "dir", dir, "--stack", "commands"], stack);
            ok(["config", "set", "--secret", "token", "s3cr3t-value", "--stack", "commands"], stack);
            const up = ok(["up", "--yes", "--stack", "commands"], stack);
            assert.ok(!up.includes("s3cr3t-value"), "the secret does not show in the update output");
            const conf = path.join(dir, "runc.conf");
            assert.match(fs.readFileSync(conf, "utf8"), /^tcp-established$/m);

            const outputs = JSON.parse(ok(["stack", "output", "--json", "--show-secrets", "--stack", "commands"], stack));
            const digest = crypto.createHash("sha256").update(fs.readFileSync(conf)).digest("hex");
            assert.deepEqual(outputs.written, { path: conf, sha256: digest, state: "written", kept: "" });
            assert.equal(outputs.secretLength, "12", "the secret reached the command through its environment");

            const again = ok(["preview", "--stack", "commands", "--expect-no-changes"], stack);
            assert.match(again, /unchanged/);

            ok(["config", "set", "--path", "options[0]", "tcp-close", "--stack", "commands"], stack);
            const diff = ok(["preview", "--diff", "--stack", "commands"], stack);
            assert.match(diff, /~ .*stdin/s, "a content change is an update of stdin");
            assert.doesNotMatch(diff, /\+-\s*command:local:Command/, "not a replacement");
            ok(["up", "--yes", "--stack", "commands"], stack);
            assert.match(fs.readFileSync(conf, "utf8"), /^tcp-close$/m);

            ok(["destroy", "--yes", "--stack", "commands"], stack);
            assert.ok(!fs.existsSync(conf), "destroy ran the delete command");
        } finally {
            pulumi(["destroy", "--yes", "--stack", "commands"], stack);
            pulumi(["stack", "rm", "--yes", "--force", "commands"], stack);
        }
    });

    it("fails a preview whose stack config breaks a policy, and passes the same stack fixed", () => {
        const stack = path.join(FIXTURES, "policy-stack");
        const policy = path.join(ROOT, "policy");
        ok(["stack", "init", "policy"], stack);
        try {
            ok(["config", "set", "live-migration-lab:driver", "existing", "--stack", "policy"], stack);
            for (const [i, n] of [["cp", "master", "192.0.2.10"], ["w1", "worker", "192.0.2.11"]].entries()) {
                ok(["config", "set", "--path", `live-migration-lab:nodes[${i}].name`, n[0], "--stack", "policy"], stack);
                ok(["config", "set", "--path", `live-migration-lab:nodes[${i}].role`, n[1], "--stack", "policy"], stack);
                ok(["config", "set", "--path", `live-migration-lab:nodes[${i}].address`, n[2], "--stack", "policy"], stack);
            }
            ok(["config", "set", "live-migration-lab:sshPrivateKey", "--plaintext", "--stack", "policy"], stack, KEY);
            const bad = pulumi(["preview", "--stack", "policy", "--policy-pack", policy], stack);
            assert.notEqual(bad.status, 0, `preview passed:\n${bad.out}`);
            assert.match(bad.out, /ssh-key-is-secret/);
            assert.match(bad.out, /plain-text config; store it as a secret/);
            assert.ok(!bad.out.includes("AAAA"), "the key itself is not printed");

            ok(["config", "set", "--secret", "live-migration-lab:sshPrivateKey", "--stack", "policy"], stack, KEY);
            const good = ok(["preview", "--stack", "policy", "--policy-pack", policy], stack);
            assert.doesNotMatch(good, /mandatory/);
        } finally {
            pulumi(["stack", "rm", "--yes", "--force", "policy"], stack);
        }
    });

    it("reports the program's stack config errors through the engine without touching anything", () => {
        const project = projectCopy(work);
        ok(["stack", "init", "bad"], project);
        ok(["config", "set", "--path", "live-migration-lab:migrations[0].id", "m1", "--stack", "bad"], project);
        ok(["config", "set", "--path", "live-migration-lab:migrations[0].to", "nowhere", "--stack", "bad"], project);
        ok(["config", "set", "live-migration-lab:driver", "kvm", "--stack", "bad"], project);
        const r = pulumi(["preview", "--stack", "bad"], project);
        assert.notEqual(r.status, 0);
        assert.match(r.out, /live-migration-lab:driver: got "kvm"; allowed: "local", "vagrant", "existing"/);
        assert.match(r.out, /live-migration-lab:migrations\[0\]\.to: got "nowhere"/);
        assert.doesNotMatch(r.out, /\+ .*command:/, "no resource was planned");
        // A valid request on a stack whose job no update has started yet: refused the same way.
        ok(["config", "rm", "live-migration-lab:driver", "--stack", "bad"], project);
        ok(["config", "set", "--path", "live-migration-lab:migrations[0].to", "master", "--stack", "bad"], project);
        const early = pulumi(["preview", "--stack", "bad"], project);
        assert.notEqual(early.status, 0);
        assert.match(early.out, /live-migration-lab:migrations\[0\]: got \{id: m1, to: master\}, but the Flink job has not been started by a successful `pulumi up` yet/);
        assert.doesNotMatch(early.out, /\+ .*command:/, "no resource was planned");
        fs.rmSync(project, { recursive: true });
    });

    it("previews the program's dev stack as committed, with the policy pack: the whole lab, nothing violated", () => {
        const project = projectCopy(work);
        ok(["stack", "init", "dev"], project);
        const out = ok(["preview", "--stack", "dev", "--policy-pack", path.join(project, "policy"), "--diff"], project);
        for (const want of ["lab:nodes:LabNodes", "lab:node:NodeRuntime", "lab:cluster:Cluster", "lab:flink:FlinkJob", "command:remote:Command", "kubernetes:core/v1:Pod"]) {
            assert.ok(out.includes(want), `preview shows no ${want}:\n${out}`);
        }
        assert.match(out, /tcp-established/, "the rendered runc.conf is in the diff");
        assert.doesNotMatch(out, /mandatory/);
        fs.rmSync(project, { recursive: true });
    });
});
