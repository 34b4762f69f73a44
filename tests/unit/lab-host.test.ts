// scripts/lab.sh prepares the host (builds, the local lab's state directory and network) only
// from a config the program's own validation accepted, and passes its values without word
// splitting. Run for real: lab.sh with a stand-in engine (a PULUMI_HOME whose `pulumi` answers
// `config --json` with the test's config) and stand-ins for the host tools it must not reach
// (install, ssh-keygen, ip, debootstrap), each of which records its call and fails.
import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { flatConfig, hostFields } from "../../scripts/lab-config";
import { HIDDEN_SECRET, rawConfigFrom, validateConfig } from "../../components/config/config";
import { standInCalls, standInEngine } from "../harness/stand-in-engine";

const ROOT = path.join(__dirname, "..", "..");
const NS = "live-migration-lab";

/** `pulumi config --json` as the engine prints it, from plain values (objects as objectValue). */
function configJson(values: Record<string, unknown>, secret: string[] = []): Record<string, object> {
    return Object.fromEntries(Object.entries(values).map(([k, v]) => [`${NS}:${k}`,
        secret.includes(k) ? { secret: true } : typeof v === "string" ? { value: v, secret: false } : { value: JSON.stringify(v), objectValue: v, secret: false }]));
}

function labConfig(values: Record<string, unknown>, migrationsOutput?: string) {
    const args = ["-r", "ts-node/register/transpile-only", path.join(ROOT, "scripts", "lab-config.ts")];
    const dir = migrationsOutput === undefined ? undefined : fs.mkdtempSync(path.join(os.tmpdir(), "lml-done-"));
    if (dir) {
        fs.writeFileSync(path.join(dir, "migrations.json"), migrationsOutput!);
        args.push(path.join(dir, "migrations.json"));
    }
    try {
        return spawnSync(process.execPath, args, { cwd: ROOT, input: JSON.stringify(configJson(values)), encoding: "utf8" });
    } finally {
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    }
}

describe("lab.sh's host values (scripts/lab-config.ts)", () => {
    it("come from the validated config: defaults filled in, NUL-separated, a path with a space intact", () => {
        const r = labConfig({ local: { stateDir: "/srv/my lab" } });
        assert.equal(r.status, 0, r.stderr);
        const fields = r.stdout.split("\0");
        assert.equal(fields.pop(), "", "every field ends with a NUL");
        assert.deepEqual(fields.slice(0, 3), ["local", "/srv/my lab", "10.231.0.0/24"]);
        assert.match(fields[3], /^1\.\d+\.\d+$/, "the default Kubernetes release");
    });

    it("refuse a config the program refuses, naming the config path, and print nothing for the host", () => {
        const r = labConfig({ local: { stateDir: "/etc" } });
        assert.equal(r.status, 2);
        assert.equal(r.stdout, "");
        assert.match(r.stderr, /live-migration-lab:local\.stateDir: got "\/etc", a system directory/);
    });

    it("never pass a workload package list the schema refuses (a glob, a space)", () => {
        const w = (packages: string[]) => ({
            workloads: [{ name: "app", node: "master", containers: [{ name: "c", image: "localhost/app:1", packages, command: ["sleep", "inf"] }], probe: { container: "c", command: ["echo", "1"] } }],
        });
        for (const bad of ["*", "redis server"]) {
            const r = labConfig(w([bad]));
            assert.equal(r.status, 2, `${bad}: ${r.stdout}`);
            assert.match(r.stderr, /workloads\[0\]\.containers\[0\]\.packages\[0\]: got .*; expected a Debian package name/);
        }
        const c = validateConfig(rawConfigFrom(flatConfig(configJson(w(["redis-server", "bash", "redis-server"]))).all), false);
        assert.deepEqual(hostFields(c).slice(6), ["bash redis-server"], "one image: its packages sorted and distinct");
    });

    it("read which workload a carried-out entry without one moved from the stack's migrations output, as the program does", () => {
        const values = {
            workloads: [{ name: "app", node: "master", containers: [{ name: "c", image: "localhost/app:1", packages: ["bash"], command: ["sleep", "inf"] }], probe: { container: "c", command: ["echo", "1"] } }],
            migrations: [{ id: "m1", to: "master" }],
        };
        const fresh = labConfig(values);
        assert.equal(fresh.status, 2, "without history the entry must name its workload");
        assert.match(fresh.stderr, /migrations\[0\]\.workload: missing; the stack runs 2 workloads/);
        // An output of today's main: the hop recorded with its workload (and outputs from before workloads, without one: Flink's).
        for (const output of [JSON.stringify([{ id: "m1", workload: "flink", from: "worker", to: "master" }]), JSON.stringify([{ id: "m1", from: "worker", to: "master" }])]) {
            const r = labConfig(values, output);
            assert.equal(r.status, 0, r.stderr);
        }
        assert.equal(labConfig(values, "").status, 2, "an empty output (a new stack) is no history");
    });

    it("read a secret's presence, not its value", () => {
        const { all, keyIsSecret } = flatConfig(configJson({ sshPrivateKey: "" }, ["sshPrivateKey"]));
        assert.ok(keyIsSecret);
        assert.equal(all[`${NS}:sshPrivateKey`], HIDDEN_SECRET);
    });
});

describe("lab.sh touches the host only after validation (run for real with stand-ins)", () => {
    let dir: string;
    const TOUCH = ["install", "ssh-keygen", "ip", "debootstrap", "nsenter"];
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "lml-labsh-"));
        const stubs = path.join(dir, "stubs");
        fs.mkdirSync(stubs);
        for (const t of TOUCH) fs.writeFileSync(path.join(stubs, t), `#!/bin/sh\necho "${t} $*" >>"${dir}/touched"\nexit 1\n`, { mode: 0o755 });
        // It records every call; `config --json` answers with the test's config, `config get` with no migrations yet.
        standInEngine(dir, `case "$1 $2" in "config --json") cat "${dir}/config.json" ;; "config get") echo '{"value":"[]"}' ;; "stack output") exit 1 ;; esac`);
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    function labSh(values: Record<string, unknown>, extra: Record<string, string> = {}, args = ["preview", "--no-policy"]) {
        fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(configJson(values, values.sshPrivateKey ? ["sshPrivateKey"] : [])));
        const r = spawnSync("bash", [path.join(ROOT, "scripts", "lab.sh"), ...args], {
            encoding: "utf8", cwd: ROOT,
            env: {
                ...process.env, PATH: `${path.join(dir, "stubs")}:${path.dirname(process.execPath)}:${process.env.PATH}`,
                PULUMI_HOME: path.join(dir, "pulumi-home"), PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`, PULUMI_CONFIG_PASSPHRASE: "test",
                LAB_IMAGES_CACHE: path.join(dir, "images"), LAB_ROOTFS_CACHE: path.join(dir, "rootfs"), ...extra,
            },
        });
        const touched = fs.existsSync(path.join(dir, "touched")) ? fs.readFileSync(path.join(dir, "touched"), "utf8") : "";
        return { ...r, touched, pulumi: standInCalls(dir) };
    }

    it("a system directory as local.stateDir is refused with the program's message, and nothing is run", () => {
        const r = labSh({ kubernetes: { enabled: false }, local: { stateDir: "/etc" } });
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /local\.stateDir: got "\/etc", a system directory/);
        assert.equal(r.touched, "", "no host tool ran");
    });

    it("a directory holding files the lab did not write is refused before it is made root-only", () => {
        const foreign = path.join(dir, "project");
        fs.mkdirSync(foreign, { mode: 0o755 });
        fs.writeFileSync(path.join(foreign, "notes.txt"), "mine\n");
        const r = labSh({ kubernetes: { enabled: false }, local: { stateDir: foreign } });
        assert.notEqual(r.status, 0);
        // As any other user the local driver stops at once (it needs root), which touches nothing either.
        assert.match(r.stderr, process.getuid?.() === 0 ? /local\.stateDir .*project already holds files the lab did not write \(notes\.txt\)/
            : /local-node\.sh: the local driver needs root/);
        assert.equal(r.touched, "", "no host tool ran");
        assert.equal(fs.statSync(foreign).mode & 0o777, 0o755, "its mode is as it was");
    });

    it("a failed build stops the setup: the lab's network and state directory are not made", () => {
        // Kubernetes that cannot be had: no official binaries, and building forbidden (the lab's CRI
        // proxy counts as built: its build needs Go, which a machine running only the unit tests may lack).
        const proxy = path.join(dir, "k8s", `cri-proxy-${execFileSync("bash", [path.join(ROOT, "scripts", "k8s-build.sh"), "--proxy-digest"], { encoding: "utf8" }).trim()}`);
        fs.mkdirSync(proxy, { recursive: true });
        for (const f of ["cri-proxy", ".built"]) fs.writeFileSync(path.join(proxy, f), "");
        const r = labSh({ flink: { enabled: false }, local: { stateDir: path.join(dir, "lab") } },
            { LAB_K8S_CACHE: path.join(dir, "k8s"), LAB_K8S_OFFICIAL: "0", LAB_K8S_BUILD: "0" });
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /k8s-build\.sh: no official release binaries/);
        assert.doesNotMatch(r.touched, /^(install|ip|ssh-keygen) /m, "lab-up did not run");
        assert.ok(!fs.existsSync(path.join(dir, "lab")));
    });
});

describe("lab.sh migrate (run for real with a stand-in engine)", () => {
    let dir: string;
    beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "lml-labsh-migrate-")); });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
    const hosts = {
        driver: "existing", sshPrivateKey: "hidden", flink: { enabled: false },
        nodes: [{ name: "master", role: "master", address: "10.0.0.1" }, { name: "worker", role: "worker", address: "10.0.0.2" }],
        workloads: [{ name: "app", node: "worker", containers: [{ name: "c", image: "example.org/app:1", command: ["sleep", "inf"] }], probe: { container: "c", command: ["echo", "1"] } }],
    };
    const labSh = (values: Record<string, unknown>, ...args: string[]) => {
        const home = standInEngine(dir, `case "$1 $2" in "config --json") cat "${dir}/config.json" ;; "config get") echo '{"value":"[]"}' ;; "stack output") exit 1 ;; esac`);
        // The stand-in's config is the stack's after `config set` (the request included).
        fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(configJson(values, ["sshPrivateKey"])));
        const r = spawnSync("bash", [path.join(ROOT, "scripts", "lab.sh"), "migrate", ...args], {
            encoding: "utf8", cwd: ROOT,
            env: { ...process.env, PATH: `${path.dirname(process.execPath)}:${process.env.PATH}`, PULUMI_HOME: home, PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`, PULUMI_CONFIG_PASSPHRASE: "test" },
        });
        return { ...r, pulumi: standInCalls(dir) };
    };

    it("requests the hop and runs one update with the policy pack, without a preview first", () => {
        const r = labSh({ ...hosts, migrations: [{ id: "m1", workload: "app", to: "master" }] }, "master", "app");
        assert.equal(r.status, 0, r.stderr);
        assert.ok(r.pulumi.includes("config set --stack dev --path migrations[0].id m1"), r.pulumi.join("\n"));
        assert.ok(r.pulumi.includes("config set --stack dev --path migrations[0].to master"));
        assert.ok(r.pulumi.includes("config set --stack dev --path migrations[0].workload app"));
        assert.deepEqual(r.pulumi.filter(l => /^(up|preview) /.test(l)), [`up --stack dev --yes --skip-preview --policy-pack ${path.join(ROOT, "policy")}`],
            "one update, which runs the policy pack once");
    });

    it("takes back a request the program's validation refuses, with its message, and runs no update", () => {
        const r = labSh({ ...hosts, migrations: [{ id: "m1", workload: "app", to: "elsewhere" }] }, "elsewhere", "app");
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /live-migration-lab:migrations\[0\]\.to: got "elsewhere", which is not a node; allowed: "master", "worker"/);
        assert.match(r.stderr, /lab\.sh: migration m1 to elsewhere was not requested/);
        assert.ok(r.pulumi.includes("config rm --stack dev --path migrations[0]"), r.pulumi.join("\n"));
        assert.deepEqual(r.pulumi.filter(l => /^(up|preview) /.test(l)), []);
    });
});

describe("lab.sh's help installs nothing, and an unknown command is a usage error", () => {
    let dir: string;
    beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "lml-labsh-help-")); });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
    // An empty cache and no npm or node on PATH: anything that installs would fail or fill the cache.
    const labSh = (...args: string[]) => spawnSync("bash", [path.join(ROOT, "scripts", "lab.sh"), ...args], {
        encoding: "utf8", cwd: ROOT, env: { HOME: dir, PATH: "/usr/bin:/bin", LAB_CACHE_DIR: path.join(dir, "cache") },
    });

    it("prints the commands for help, -h, --help and COMMAND --help, and exits 0", () => {
        for (const args of [["help"], ["-h"], ["--help"], ["up", "--help"], ["migrate", "-h"], ["test", "--help"]]) {
            const r = labSh(...args);
            assert.equal(r.status, 0, `${args.join(" ")}: ${r.stderr}`);
            assert.match(r.stdout, /^usage: scripts\/lab\.sh COMMAND \[ARGS\]\n/);
            for (const c of ["up", "preview", "migrate NODE [WORKLOAD]", "destroy", "status", "timeline", "kubeconfig", "kubectl ARGS", "ssh NODE", "logs WORKLOAD",
                "test", "bench", "pulumi", "exec COMMAND"]) {
                assert.match(r.stdout, new RegExp(`^ {2}${c.replace(/[[\]]/g, "\\$&")}\\s`, "m"), `${c} is listed`);
            }
            assert.ok(!fs.existsSync(path.join(dir, "cache")), "nothing was installed");
        }
    });

    it("prints the usage on stderr and exits 2 for an unknown command or none", () => {
        for (const args of [["statuz"], []]) {
            const r = labSh(...args);
            assert.equal(r.status, 2, r.stderr);
            assert.match(r.stderr, /usage: scripts\/lab\.sh COMMAND/);
            assert.equal(r.stdout, "");
            assert.ok(!fs.existsSync(path.join(dir, "cache")), "nothing was installed");
        }
        assert.match(labSh("statuz").stderr, /^lab\.sh: unknown command 'statuz'\n/);
    });
});
