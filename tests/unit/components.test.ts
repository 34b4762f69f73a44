import { strict as assert } from "assert";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { validateConfig } from "../../components/config/config";
import { desiredLab } from "../../components/desired";
import { buildLab, LabOutputs } from "../../components/lab";
import { abortLog } from "../../components/migration/cutover";
import { promiseOf, Registered, runWithMocks } from "./mocks";

const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
const EXISTING = {
    driver: "existing",
    sshPrivateKey: KEY,
    nodes: [{ name: "cp", role: "master", address: "192.168.56.10" }, { name: "w1", role: "worker", address: "192.168.56.11", sshUser: "debian" }],
};

/** Runs buildLab under mocks for a config, with the SSH key as a secret when it is set. */
async function lab(raw: Record<string, unknown>): Promise<{ resources: Registered[]; out: LabOutputs }> {
    const { resources, result } = await runWithMocks(raw, () => {
        const c = validateConfig(raw, true);
        const key = typeof raw.sshPrivateKey === "string" ? pulumi.secret(raw.sshPrivateKey) : undefined;
        return buildLab(desiredLab(c), key, path.join(__dirname, ".lab"));
    }, { secretKeys: ["sshPrivateKey"] });
    await promiseOf(result.criu);
    return { resources, out: result };
}

// How the engine sees a secret value (sdk/go/common/resource/sig.go).
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET = "1b47061264138c4ac30d75fd1eb44270";

const named = (rs: Registered[], type: string) => rs.filter(r => r.type === type).map(r => r.name);
const marker = (r: Registered, lab: string) => (r.inputs.triggers ?? []).find((t: any) => t.lab === lab);
/** The value of the LAB_ATTEMPT line a migration step's script starts with (quoted inside `bash -c '...'`). */
const attemptLine = (create: string) => /^(?:sudo -n )?bash -c 'LAB_ATTEMPT='\\''([^']*)'\\''\n/.exec(create)?.[1];

describe("components under mocks", () => {
    it("declares the component tree with lab:<module>:<Type> tokens and name-prefixed children", async () => {
        const { resources } = await lab(EXISTING);
        for (const t of ["lab:nodes:LabNodes", "lab:node:NodeRuntime", "lab:cluster:Cluster", "lab:flink:FlinkJob"]) {
            assert.ok(resources.some(r => r.type === t), `no ${t}`);
        }
        const commands = named(resources, "command:remote:Command");
        for (const n of ["cp-criu-check", "cp-runc-conf", "cp-crio-drop-in", "cp-crictl-config", "w1-crictl-config", "cp-kubeadm-config", "cp-archive-dir", "w1-runc-conf", "w1-crio-drop-in", "cluster-init", "cluster-w1-join", "cluster-kubeconfig"]) {
            assert.ok(commands.includes(n), `no command ${n}; have ${commands.join(", ")}`);
        }
        assert.ok(!commands.includes("w1-kubeadm-config"), "kubeadm config only on the master");
    });

    it("passes no value through SSH environment variables, which a stock sshd refuses: values go in the command text or on stdin", async () => {
        const raw = { ...EXISTING, migrations: [{ id: "m1", to: "cp" }] };
        const observed = {
            w1: { [abortLog("m1")]: `${"c".repeat(64)} 1795000000`, "/etc/criu/runc.conf": `${"a".repeat(64)} 1700000000` },
            cp: { "/etc/criu/runc.conf": "absent" },
        };
        for (const [title, config, seen] of [["first attempt", raw, {}], ["retry and drift", raw, observed], ["local driver", {}, {}]] as const) {
            const { resources } = await runWithMocks(config, () => buildLab(desiredLab(validateConfig(config, true)), pulumi.secret(KEY), path.join(__dirname, ".lab"), seen), { secretKeys: ["sshPrivateKey"] });
            const remote = resources.filter(r => r.type === "command:remote:Command");
            assert.ok(remote.length > 10, title);
            for (const r of remote) {
                assert.equal(r.inputs.environment, undefined, `${title}: ${r.name} sets environment`);
                assert.equal(r.inputs.addPreviousOutputInEnv, false, `${title}: ${r.name} would get PULUMI_COMMAND_STDOUT by setenv`);
            }
        }
    });

    it("writes managed files from stdin so content changes are updates, not replacements", async () => {
        const { resources } = await lab(EXISTING);
        const runc = resources.find(r => r.name === "w1-runc-conf")!;
        assert.equal(runc.inputs.stdin.split("\n").filter((l: string) => !l.startsWith("#") && l).join(","), "tcp-established,skip-in-flight");
        assert.deepEqual(marker(runc, "managed-file"), { lab: "managed-file", node: "w1", path: "/etc/criu/runc.conf", mode: "0644" });
        assert.ok(!runc.inputs.create.includes("tcp-established"), "content is not in the command string");
        assert.match(runc.inputs.create, /^sudo -n bash -c /, "non-root users go through sudo");
        assert.match(runc.inputs.delete, /rm -f/);
    });

    it("renders crun.conf as well where crun is the runtime", async () => {
        const { resources } = await lab({ ...EXISTING, crio: { runtime: "crun" } });
        assert.ok(resources.some(r => r.name === "cp-crun-conf" && marker(r, "managed-file").path === "/etc/criu/crun.conf"));
    });

    it("keeps the SSH key and kubeconfig secret", async () => {
        const { out, resources } = await lab(EXISTING);
        assert.equal(await (out.kubeconfig as any).isSecret, true, "kubeconfig is a secret output");
        const init = resources.find(r => r.name === "cluster-init")!;
        assert.equal(init.inputs.logging, "none", "join token is not logged");
        for (const r of resources.filter(r => r.type === "command:remote:Command")) {
            assert.ok(!JSON.stringify(r.inputs.create).includes("PRIVATE KEY"), `${r.name} carries a key in its command`);
            assert.equal(marker(r, "ssh").keySource, "secret-config", r.name);
            const conn = r.inputs.connection;
            assert.ok(conn[SECRET_SIG] === SECRET || conn.privateKey?.[SECRET_SIG] === SECRET, `${r.name}: connection key is a secret`);
        }
    });

    it("places the initial pod on flink.node with the Flink image", async () => {
        const { resources, out } = await lab(EXISTING);
        const pods = resources.filter(r => r.type === "kubernetes:core/v1:Pod");
        assert.equal(pods.length, 1);
        assert.equal(pods[0].name, "flink-initial");
        assert.equal(pods[0].inputs.spec.nodeName, "w1");
        assert.equal(pods[0].inputs.spec.containers[0].image, "flink:1.20.0-java17");
        assert.deepEqual(await promiseOf(out.flink!), { pod: "flink-minimal", node: "w1", image: "flink:1.20.0-java17", imageIds: {} });
        assert.ok(!resources.some(r => marker(r, "migration-step")), "no migration without a request");
    });

    it("turns a migration request into ordered steps and a restored pod on the target", async () => {
        const { resources, out } = await lab({ ...EXISTING, migrations: [{ id: "m1", to: "cp" }] });
        const steps = resources.filter(r => marker(r, "migration-step")).map(r => [marker(r, "migration-step").step, r.name]);
        assert.deepEqual(steps.map(s => s[0]), ["source-probe", "preflight", "hold", "checkpoint", "transfer", "image", "cutover", "retention", "source-retention"]);
        const pod = resources.find(r => r.type === "kubernetes:core/v1:Pod")!;
        assert.equal(pod.name, "flink-m1");
        assert.equal(pod.inputs.metadata.name, "flink-minimal-m1");
        assert.equal(pod.inputs.spec.nodeName, "cp");
        assert.equal(pod.inputs.spec.containers[0].image, "localhost/flink-minimal-checkpoint:m1");
        assert.equal(pod.inputs.spec.containers[0].imagePullPolicy, "Never");
        const checkpoint = resources.find(r => r.name === "migrate-m1-checkpoint")!;
        assert.match(checkpoint.inputs.create, /192\.168\.56\.11:10250\/checkpoint\/default\/flink-minimal\/flink/);
        const transfer = resources.find(r => r.name === "migrate-m1-transfer")!;
        assert.deepEqual(transfer.inputs.stdin, { [SECRET_SIG]: SECRET, value: KEY }, "the key reaches the target on stdin, as a secret");
        assert.ok(!transfer.inputs.create.includes("PRIVATE KEY-----\n"), "and not in the script");
        const [m] = await promiseOf(out.migrations!);
        assert.equal(m.id, "m1");
        assert.equal(m.from, "w1");
        assert.equal(m.to, "cp");
        assert.equal(m.archive, "/var/lib/live-migration-lab/checkpoints/m1.tar");
        assert.equal(m.sizeBytes, 82000000);
        assert.match(m.sha256, /^[0-9a-f]{64}$/);
        // restore: the image ready (T0 + 4300) to the restored container started (T0 + 5000).
        assert.deepEqual(m.seconds, { checkpoint: 0.5, transfer: 1.5, image: 2, restore: 0.7, cutover: 3 });
        assert.equal(m.noProgressSeconds, 4.85, "from the source's pause to the restored container's start");
        assert.deepEqual(m.records, { before: 1000, after: 1100 });
        assert.equal(m.attempt, "first");
        const cutover = resources.find(r => r.name === "migrate-m1-cutover")!;
        assert.deepEqual(cutover.inputs.stdin, { [SECRET_SIG]: SECRET, value: KEY }, "cutover reaches the source's lease with the key on stdin");
        assert.match(cutover.inputs.create, /flink-minimal-m1/);
        assert.equal(pod.inputs.spec.containers[0].env[0].value, "first");
    });

    it("redoes a hop whose source took the job back: every step and the restored pod get the new attempt", async () => {
        const raw = { ...EXISTING, migrations: [{ id: "m1", to: "cp" }] };
        const observed = { w1: { [abortLog("m1")]: `${"c".repeat(64)} 1795000000` } };
        const { resources, result } = await runWithMocks(raw, () => buildLab(desiredLab(validateConfig(raw, true)), pulumi.secret(KEY), path.join(__dirname, ".lab"), observed), { secretKeys: ["sshPrivateKey"] });
        const steps = resources.filter(r => marker(r, "migration-step"));
        assert.equal(steps.length, 9);
        for (const s of steps) assert.equal(attemptLine(s.inputs.create), "retry cccccccccccc", s.name);
        const pod = resources.find(r => r.type === "kubernetes:core/v1:Pod")!;
        assert.equal(pod.inputs.spec.containers[0].env[0].value, "retry cccccccccccc");
        const [m] = await promiseOf(result.migrations!);
        assert.equal(m.attempt, "retry cccccccccccc");
        // An abort log on another node (not this hop's source) changes nothing.
        const other = await runWithMocks(raw, () => buildLab(desiredLab(validateConfig(raw, true)), pulumi.secret(KEY), path.join(__dirname, ".lab"), { cp: observed.w1 }), { secretKeys: ["sshPrivateKey"] });
        assert.equal(attemptLine(other.resources.find(r => r.name === "migrate-m1-hold")!.inputs.create), "first");
    });

    it("checkpoints the pod the previous migration made", async () => {
        const { resources } = await lab({ ...EXISTING, migrations: [{ id: "m1", to: "cp" }, { id: "m2", to: "w1" }] });
        const checkpoint = resources.find(r => r.name === "migrate-m2-checkpoint")!;
        assert.match(checkpoint.inputs.create, /192\.168\.56\.10:10250\/checkpoint\/default\/flink-minimal-m1\/flink/);
        const pods = resources.filter(r => r.type === "kubernetes:core/v1:Pod");
        assert.deepEqual(pods.map(p => p.inputs.metadata.name), ["flink-minimal-m2"], "only the newest stage's pod is declared");
    });

    it("runs the local driver through scripts/local-node.sh with addresses from local.subnet", async () => {
        const { resources, out } = await lab({});
        const locals = resources.filter(r => r.type === "command:local:Command");
        assert.deepEqual(locals.map(r => r.name), ["lab-network", "lab-key", "lab-master", "lab-worker"]);
        assert.match(locals[0].inputs.delete, /local-node\.sh' lab-down/);
        assert.match(locals[2].inputs.create, /local-node\.sh' up 'master' '10\.231\.0\.10'/);
        assert.match(locals[3].inputs.delete, /local-node\.sh' down 'worker' '10\.231\.0\.11'/);
        assert.deepEqual(await promiseOf(out.nodes), [
            { name: "master", role: "master", address: "10.231.0.10" },
            { name: "worker", role: "worker", address: "10.231.0.11" },
        ]);
        assert.ok(resources.some(r => r.name === "worker-kubelet-config"), "local nodes get a kubelet config file");
        const dropIn = resources.find(r => r.name === "worker-crio-drop-in")!;
        // CRI-O runs Debian's runc through the lab's wrapper (the migration hold).
        assert.match(dropIn.inputs.stdin, /runtime_path = "\/usr\/local\/libexec\/live-migration-lab\/runc"/);
        const wrapper = resources.find(r => r.name === "worker-oci-runtime")!;
        assert.match(wrapper.inputs.stdin, /^REAL='\/usr\/sbin\/runc'$/m);
        // What lives on a node carries that start of the node (local-node.sh up's instance), so a replaced node gets it again.
        assert.deepEqual(dropIn.inputs.triggers.find((t: { lab: string }) => t.lab === "node-instance"), { lab: "node-instance", node: "worker", instance: "0123456789ab" });
        // Nodes see the Flink image's inputs and build the image themselves; the pod never pulls.
        assert.match(locals[3].inputs.create, /images=\$\(bash '[^']*flink-build\.sh' --root\)/);
        const builds = resources.filter(r => r.name.startsWith("flink-image-"));
        assert.deepEqual(builds.map(r => r.name).sort(), ["flink-image-master", "flink-image-worker"]);
        assert.match(builds[0].inputs.create, /IMAGE='\\''localhost\/flink-minimal:1\.20\.0'\\''\n/);
        assert.match(builds[0].inputs.create, /buildah commit --quiet --timestamp 0 "\$c" "\$IMAGE"/);
        const pod = resources.find(r => r.type === "kubernetes:core/v1:Pod")!;
        assert.equal(pod.inputs.spec.containers[0].image, "localhost/flink-minimal:1.20.0");
        assert.equal(pod.inputs.spec.containers[0].imagePullPolicy, "Never");
    });

    it("brings vagrant VMs up from a rendered Vagrantfile and reads their keys back as secrets", async () => {
        const { resources } = await lab({ driver: "vagrant" });
        const up = resources.find(r => r.name === "lab-vagrant")!;
        assert.match(up.inputs.stdin, /Vagrant\.configure\("2"\)/);
        assert.match(up.inputs.delete, /vagrant destroy -f/);
        const key = resources.find(r => r.name === "lab-master-key")!;
        assert.equal(key.inputs.logging, "none");
        const runc = resources.find(r => r.name === "master-runc-conf")!;
        assert.match(runc.inputs.create, /^sudo -n bash -c /);
    });
});

describe("a lab without Kubernetes", () => {
    it("declares nodes and their runtime configuration only", async () => {
        const { resources, out } = await lab({ kubernetes: { enabled: false } });
        assert.ok(resources.some(r => r.name === "worker-runc-conf"));
        for (const t of ["lab:cluster:Cluster", "lab:flink:FlinkJob", "kubernetes:core/v1:Pod", "pulumi:providers:kubernetes"]) {
            assert.ok(!resources.some(r => r.type === t), `declares ${t}`);
        }
        assert.equal(out.flink, undefined);
        assert.deepEqual(Object.keys(await promiseOf(out.criu)), ["master", "worker"]);
    });
});

describe("drift review under mocks", () => {
    it("marks a hand-edited managed file with what the node reported", async () => {
        const raw = { kubernetes: { enabled: false } };
        const { resources } = await runWithMocks(raw, () => buildLab(desiredLab(validateConfig(raw, false)), undefined, "/tmp/lml-test", {
            worker: { "/etc/criu/runc.conf": `${"a".repeat(64)} 1700000000` },
        }));
        const marker = (name: string) => resources.find(r => r.name === name)!.inputs.triggers.find((t: any) => t.lab === "observed").state;
        assert.match(marker("worker-runc-conf"), /^drifted: \/etc\/criu\/runc\.conf was changed on the node/);
        assert.equal(marker("master-runc-conf"), "unobserved");
    });
});
