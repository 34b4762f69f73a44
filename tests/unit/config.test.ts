import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { ConfigError, rawConfigFrom, validateConfig } from "../../components/config/config";

const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n";

/** The problem lines of a config that must fail. */
function problems(raw: Record<string, unknown>, secret = true): string[] {
    try {
        validateConfig(raw, secret);
    } catch (e) {
        assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
        return e.problems.map(p => `${p.path}: ${p.message}`);
    }
    assert.fail("config was accepted");
}

function hasProblem(lines: string[], path: string, ...fragments: string[]) {
    const hit = lines.find(l => l.startsWith(`live-migration-lab:${path}: `) && fragments.every(f => l.includes(f)));
    assert.ok(hit, `no problem at ${path} containing ${JSON.stringify(fragments)}; got:\n${lines.join("\n")}`);
}

describe("stack config validation", () => {
    it("accepts an empty config and fills in the local lab defaults", () => {
        const c = validateConfig({}, false);
        assert.equal(c.driver, "local");
        assert.deepEqual(c.nodes.map(n => [n.name, n.role]), [["master", "master"], ["worker", "worker"]]);
        assert.deepEqual(c.criu, { dump: ["tcp-established", "skip-in-flight"], restore: ["tcp-established"] });
        assert.equal(c.flink.node, "worker");
        assert.equal(c.flink.image, "localhost/flink-minimal:1.20.0");
        assert.equal(c.crio.checkpointRestore, "checkpoint_restore");
        assert.equal(c.sshPrivateKey, "absent");
    });

    it("restores straight from the archive on the local lab and from a checkpoint image elsewhere, unless told", () => {
        assert.equal(validateConfig({}, false).archive.restore, "direct");
        const vagrant = { driver: "vagrant" };
        assert.equal(validateConfig(vagrant, false).archive.restore, "image");
        assert.equal(validateConfig({ archive: { restore: "image" } }, false).archive.restore, "image");
        hasProblem(problems({ driver: "existing", nodes: [{ name: "a", role: "master", address: "10.0.0.1" }, { name: "b", role: "worker", address: "10.0.0.2" }], sshPrivateKey: KEY, archive: { restore: "direct" } }),
            "archive.restore", `got "direct" with driver existing`, `use "image"`);
        hasProblem(problems({ archive: { restore: "stream" } }), "archive.restore", "stream");
    });

    it("existing hosts: packages under systemd by default; present binaries may run supervised and build their images, never with packages", () => {
        const hosts = { driver: "existing", nodes: [{ name: "a", role: "master", address: "10.0.0.1" }, { name: "b", role: "worker", address: "10.0.0.2" }], sshPrivateKey: KEY };
        assert.deepEqual(validateConfig(hosts, true).existing, { install: "packages", services: "systemd", images: "pull" });
        const golden = validateConfig({ ...hosts, existing: { install: "present", services: "supervised", images: "build" } }, true);
        assert.equal(golden.flink.image, "localhost/flink-minimal:1.20.0", "built on the hosts, as in the local lab");
        hasProblem(problems({ ...hosts, existing: { services: "supervised" } }), "existing.services", `"supervised"`, `install "present"`);
        hasProblem(problems({ ...hosts, existing: { images: "build" } }), "existing.images", `"build"`, `images "pull"`);
        hasProblem(problems({ existing: { install: "present" } }), "existing", `driver "local"`, "remove it");
        hasProblem(problems({ kubernetes: { ignorePreflightErrors: ["all; rm"] } }), "kubernetes.ignorePreflightErrors[0]");
    });

    it("keeps node subnets clear of the pod and service networks, and vagrant's off libvirt's management network", () => {
        hasProblem(problems({ local: { subnet: "10.85.0.0/24" } }), "local.subnet", `"10.85.0.0/24"`, "pod network 10.85.0.0/16", `"10.231.0.0/24"`);
        hasProblem(problems({ local: { subnet: "10.96.0.0/24" } }), "local.subnet", "service network 10.96.0.0/16");
        hasProblem(problems({ driver: "vagrant", vagrant: { subnet: "192.168.121.0/24" } }), "vagrant.subnet", "vagrant-libvirt's management network", `"192.168.56.0/24"`);
        assert.equal(validateConfig({ local: { subnet: "10.97.0.0/24" } }, false).local.subnet, "10.97.0.0/24");
    });

    it("keeps the hold below Flink's 60 s timeouts", () => {
        assert.equal(validateConfig({}, false).cutover.maxPauseSeconds, 40);
        hasProblem(problems({ cutover: { maxPauseSeconds: 120 } }), "cutover.maxPauseSeconds", "got 120 while the Flink job runs", "use at most 50, or set flink.enabled false");
        // Without the Flink job a slow host may hold longer (the VM suite: 180 s under emulation), up to 600 s.
        assert.equal(validateConfig({ flink: { enabled: false }, cutover: { maxPauseSeconds: 180 } }, false).cutover.maxPauseSeconds, 180);
        hasProblem(problems({ flink: { enabled: false }, cutover: { maxPauseSeconds: 601 } }), "cutover.maxPauseSeconds", "601");
    });

    it("reads Pulumi's flat config map and ignores other namespaces", () => {
        const raw = rawConfigFrom({
            "live-migration-lab:driver": "existing",
            "live-migration-lab:nodes": JSON.stringify([{ name: "a", role: "master" }]),
            "aws:region": "eu-west-1",
        });
        assert.deepEqual(raw, { driver: "existing", nodes: [{ name: "a", role: "master" }] });
    });

    it("rejects a wrong driver naming the allowed ones", () => {
        hasProblem(problems({ driver: "kvm" }), "driver", `got "kvm"`, `"local", "vagrant", "existing"`);
    });

    it("rejects duplicate node names", () => {
        hasProblem(problems({ nodes: [{ name: "n1", role: "master" }, { name: "n1", role: "worker" }] }), "nodes[1].name", `"n1"`, "nodes[0]", "unique");
    });

    it("rejects a migration to an unknown node", () => {
        hasProblem(problems({ migrations: [{ id: "m1", to: "worker2" }] }), "migrations[0].to", `"worker2"`, `"master", "worker"`);
    });

    it("rejects a migration to the node the job already runs on", () => {
        hasProblem(problems({ migrations: [{ id: "m1", to: "master" }, { id: "m2", to: "master" }] }), "migrations[1].to", "already runs");
    });

    it("rejects duplicate migration ids", () => {
        hasProblem(problems({ migrations: [{ id: "m1", to: "master" }, { id: "m1", to: "worker" }] }), "migrations[1].id", "unique");
    });

    it("requires addresses and a secret SSH key for existing hosts", () => {
        const lines = problems({ driver: "existing" });
        hasProblem(lines, "nodes[0].address", "missing");
        hasProblem(lines, "nodes[1].address", "missing");
        hasProblem(lines, "sshPrivateKey", "missing", "pulumi config set --secret");
    });

    it("accepts existing hosts with addresses and a key, recording whether the key is secret", () => {
        const raw = { driver: "existing", sshPrivateKey: KEY, nodes: [{ name: "m", role: "master", address: "10.0.0.5" }, { name: "w", role: "worker", address: "w.lab", sshUser: "debian" }] };
        assert.equal(validateConfig(raw, true).sshPrivateKey, "secret");
        assert.equal(validateConfig(raw, false).sshPrivateKey, "plain");
    });

    it("never prints the SSH key in a message", () => {
        const secret = "not-a-key-but-sensitive";
        const lines = problems({ driver: "existing", sshPrivateKey: secret });
        assert.ok(lines.every(l => !l.includes(secret)), lines.join("\n"));
        hasProblem(lines, "sshPrivateKey", "not a PEM or OpenSSH private key");
    });

    it("rejects a malformed Flink version", () => {
        hasProblem(problems({ flink: { version: "1.20" } }), "flink.version", `got "1.20"`, `"1.20.0"`);
        hasProblem(problems({ flink: { version: "1.12.0" } }), "flink.version", "1.19, 1.20");
    });

    it("rejects a bounded Flink job", () => {
        hasProblem(problems({ flink: { args: ["--input", "/data/words.txt"] } }), "flink.args[0]", "bounded");
        // Flink's ParameterTool reads -input as --input.
        hasProblem(problems({ flink: { args: ["-input", "/data/words.txt"] } }), "flink.args[0]", "bounded");
        hasProblem(problems({ flink: { args: ["-input=/data/words.txt"] } }), "flink.args[0]", "bounded");
    });

    it("rejects unknown keys with the keys allowed there", () => {
        hasProblem(problems({ criu_tcp_established: true }), "criu_tcp_established", "unknown key", "criu");
        hasProblem(problems({ flink: { restPort: -1 } }), "flink.restPort", "unknown key", "jobManagerMemory");
    });

    it("rejects the seed's criu_* keys in CRI-O settings and says what to use instead", () => {
        const lines = problems({ crio: { settings: { crio: { runtime: { criu_path: "/usr/sbin/criu", criu_tcp_established: true } } } } });
        hasProblem(lines, "crio.settings.crio.runtime.criu_path", "not a CRI-O key", "criu.dump", "/etc/criu/runc.conf");
        hasProblem(lines, "crio.settings.crio.runtime.criu_tcp_established", "not a CRI-O key");
    });

    it("rejects CRI-O keys the configured version does not have", () => {
        hasProblem(problems({ crio: { settings: { crio: { runtime: { log_levle: "debug" } } } } }), "crio.settings.crio.runtime.log_levle", "CRI-O 1.34", "log_level");
    });

    it("accepts real CRI-O keys, including handler tables", () => {
        validateConfig({ crio: { settings: { crio: { runtime: { log_level: "debug", runtimes: { runc: { monitor_path: "/usr/bin/conmon" } } } } } } }, false);
    });

    it("rejects settings of keys the program manages", () => {
        hasProblem(problems({ crio: { settings: { crio: { runtime: { enable_criu_support: false } } } } }), "crio.settings.crio.runtime.enable_criu_support", "crio.checkpointRestore");
    });

    it("leaves checkpoint_only to the node, whose CRI-O binary may have container_level_enabled whatever its minor (the 1.30-1.34 backports)", () => {
        assert.equal(validateConfig({ crio: { checkpointRestore: "checkpoint_only" } }, false).crio.checkpointRestore, "checkpoint_only");
    });

    it("requires CRI-O and Kubernetes of the same minor version", () => {
        hasProblem(problems({ crio: { version: "1.33" } }), "kubernetes.version", "1.33.x");
    });

    it("rejects Kubernetes without the kubelet checkpoint API", () => {
        hasProblem(problems({ kubernetes: { version: "1.24.3" } }), "kubernetes.version", "1.25.0");
    });

    it("rejects CRIU options with dashes, unknown options and one-sided TCP handling", () => {
        const lines = problems({ criu: { dump: ["--tcp-established", "tcp-estabished"], restore: ["tcp-close"] } });
        hasProblem(lines, "criu.dump[0]", "without dashes", `"tcp-established"`);
        hasProblem(lines, "criu.dump[1]", "allowed:", "tcp-established");
        // A name CRIU does not have (checked against criu 4.2: "unrecognized option") gets the real one.
        hasProblem(problems({ criu: { dump: ["tcp-established", "tcp-skip-in-flight"], restore: ["tcp-established"] } }), "criu.dump[1]", `it is called "skip-in-flight"`);
        hasProblem(lines, "criu.dump", `lacks "tcp-close"`);
    });

    it("gives one line for a CRIU option written with dashes, not a false second one about the other side", () => {
        const lines = problems({ criu: { dump: ["--tcp-established"], restore: ["tcp-established"] } });
        assert.deepEqual(lines.length, 1, lines.join("\n"));
        hasProblem(lines, "criu.dump[0]", "without dashes");
    });

    it("takes archive.dir and local.stateDir only where a directory of the program's own can be: never a system directory, inside one, or a home", () => {
        for (const dir of ["/", "/etc", "/var/lib", "/tmp", "/root"]) {
            hasProblem(problems({ archive: { dir } }), "archive.dir", `got "${dir}", a system directory`, `"/var/lib/live-migration-lab/checkpoints"`, "does not exist yet");
        }
        hasProblem(problems({ archive: { dir: "/var/lib/kubelet/checkpoints" } }), "archive.dir", "inside /var/lib/kubelet, which kubelet owns");
        hasProblem(problems({ archive: { dir: "/etc/lab" } }), "archive.dir", "inside /etc, a system directory");
        hasProblem(problems({ archive: { dir: "/usr/local" } }), "archive.dir", "inside /usr, a system directory");
        hasProblem(problems({ archive: { dir: "/home/alice" } }), "archive.dir", "someone's home directory");
        hasProblem(problems({ archive: { dir: "/srv/lab/../x" } }), "archive.dir", `"/srv/x"`);
        hasProblem(problems({ archive: { dir: "/srv/lab/" } }), "archive.dir", `"/srv/lab"`);
        hasProblem(problems({ local: { stateDir: "/var" } }), "local.stateDir", "a system directory", `"/var/lib/live-migration-lab"`);
        for (const dir of ["/srv/lab-archives", "/home/alice/archives", "/var/lib/live-migration-lab/checkpoints", "/data/checkpoints"]) {
            assert.equal(validateConfig({ archive: { dir } }, false).archive.dir, dir);
        }
    });

    it("refuses, with migrations requested, the settings under which every one of them fails", () => {
        const migrations = [{ id: "m1", to: "master" }];
        hasProblem(problems({ migrations, crio: { checkpointRestore: "none" } }), "crio.checkpointRestore", `got "none" while migrations m1 are requested`, `"checkpoint_restore"`);
        hasProblem(problems({ migrations, driver: "vagrant", crio: { version: "1.37", checkpointRestore: "checkpoint_only" }, kubernetes: { version: "1.37.0" } }), "crio.checkpointRestore", `got "checkpoint_only" while migrations m1`);
        hasProblem(problems({ migrations, criu: { dump: [], restore: [] } }), "criu.dump", `neither "tcp-established" nor "tcp-close"`, "Connected TCP socket");
        assert.equal(validateConfig({ migrations, criu: { dump: ["tcp-close"], restore: ["tcp-close"] } }, false).criu.dump[0], "tcp-close");
        // Without migrations the same settings are a lab that only runs.
        validateConfig({ crio: { checkpointRestore: "none" }, criu: { dump: [], restore: [] } }, false);
    });

    it("says what to do instead: nested keys written flat, values CRI-O refuses, fictional annotations, unknown CRI-O minors, unquoted versions", () => {
        hasProblem(problems({ crio: { settings: { "crio.runtime.log_level": "debug" } } }), `crio.settings.crio.runtime.log_level`, "one key with dots in its name", "--path", "crio: { runtime: { log_level: VALUE } }");
        hasProblem(problems({ crio: { settings: { crio: { runtime: { log_level: "verbose" } } } } }), "crio.settings.crio.runtime.log_level", `got "verbose"`, `"debug"`);
        hasProblem(problems({ crio: { settings: { crio: { runtime: { runtimes: { runc: { allowed_annotations: ["io.kubernetes.cri-o.criu-options"] } } } } } } }),
            "crio.settings.crio.runtime.runtimes.runc.allowed_annotations", "io.kubernetes.cri-o.criu-options", "/etc/criu/runc.conf");
        hasProblem(problems({ crio: { settings: { crio: { runtime: { runtimes: { runc: { default_annotations: { "io.kubernetes.cri-o.checkpoint-restore-tcp": "true" } } } } } } } }),
            "crio.settings.crio.runtime.runtimes.runc.default_annotations", "no TCP checkpoint annotation");
        const k = problems({ kubernetes: { version: "1.99.0" } });
        hasProblem(k, "kubernetes.version", "use kubernetes 1.34.x", "there is no CRI-O 1.99");
        assert.ok(!k.some(l => l.includes(`crio.version "1.99"`)), k.join("\n"));
        hasProblem(problems({ crio: { version: 1.3 } }), "crio.version", "got 1.3; expected string", "quote it", `"1.30"`);
        hasProblem(problems(rawConfigFrom({ "live-migration-lab:archive.dir": "/srv/x" })), "archive.dir", "unknown key", "pulumi config set --path live-migration-lab:archive.dir VALUE");
    });

    it("rejects public subnets for the lab network", () => {
        hasProblem(problems({ local: { subnet: "8.8.8.0/24" } }), "local.subnet", "10.0.0.0/8");
    });

    it("rejects addresses on drivers that assign them", () => {
        hasProblem(problems({ nodes: [{ name: "m", role: "master", address: "1.2.3.4" }, { name: "w", role: "worker" }] }), "nodes[0].address", "assigns addresses");
    });

    it("reports every problem at once", () => {
        const lines = problems({ driver: "kvm", flink: { version: "x" }, migrations: [{ id: "m1", to: "nowhere" }], nodes: [{ name: "a", role: "master" }, { name: "a", role: "worker" }] });
        assert.ok(lines.length >= 4, lines.join("\n"));
    });
});

describe("Pulumi.dev.yaml", () => {
    it("is a valid config for the local lab", () => {
        const doc = YAML.parse(fs.readFileSync(path.join(__dirname, "..", "..", "Pulumi.dev.yaml"), "utf8"));
        const flat = Object.fromEntries(Object.entries(doc.config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
        const c = validateConfig(rawConfigFrom(flat as Record<string, string>), false);
        assert.equal(c.driver, "local");
        assert.deepEqual(c.migrations, []);
        assert.equal(c.kubernetes.enabled, true, "the whole lab: Kubernetes, the Flink job and migrations");
    });
});

describe("kubernetes.enabled", () => {
    it("rejects migrations in a lab without Kubernetes", () => {
        assert.throws(() => validateConfig({ kubernetes: { enabled: false }, migrations: [{ id: "m1", to: "master" }] }, false),
            (e: ConfigError) => e.problems.some(p => p.path === "live-migration-lab:migrations" && p.message.includes("kubernetes.enabled is false")));
    });
});
