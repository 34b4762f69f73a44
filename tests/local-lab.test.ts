// The local lab for real: `pulumi up` brings master and worker up as namespace sandboxes and
// configures them over SSH; CRIU checkpoints a TCP workload on one node and restores it on the
// other; a hand edit shows up in preview and is repaired; destroy leaves nothing behind.
// Needs root (CI runs as root). Nodes only: kubernetes.enabled is false here.
import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { FIXTURES, projectCopy, pulumiRunner, requireEngine, ROOT } from "./engine-helpers";

const SUBNET = "10.231.99.0/24";
const NODES = { master: "10.231.99.10", worker: "10.231.99.11" };
const LOCAL_NODE = path.join(ROOT, "scripts", "local-node.sh");
const SEED_ERROR = "Error (criu/sk-inet.c:200): inet: Connected TCP socket, consider using --tcp-established option.";

/** Network namespaces, mounts and processes that mention `marker`: what the lab may leave behind. */
function footprint(marker: string) {
    const netns = execFileSync("ip", ["netns", "list"], { encoding: "utf8" }).split("\n").filter(l => l.startsWith("lml")).map(l => l.split(" ")[0]).sort();
    const mounts = fs.readFileSync("/proc/mounts", "utf8").split("\n").filter(l => l.includes(marker));
    const procs = execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" }).split("\n").filter(l => l.includes(marker) && !l.includes("ps -eo"));
    return { netns, mounts, procs };
}

describe("the local lab (namespace nodes, real SSH, real CRIU)", function () {
    this.timeout(900_000);
    let work: string;
    let state: string;
    let project: string;
    let netns: string;
    let before0: ReturnType<typeof footprint>;
    let run: ReturnType<typeof pulumiRunner>;
    const seconds: Record<string, number> = {};

    /** Runs a shell command on a node over SSH from inside the lab network namespace. */
    const ssh = (node: keyof typeof NODES, command: string, input?: string) => spawnSync("nsenter", [
        `--net=/run/netns/${netns}`, "--", "ssh", ...sshArgs(state), `root@${NODES[node]}`, command,
    ], { input, encoding: "utf8", timeout: 120_000 });
    const sshOk = (node: keyof typeof NODES, command: string, input?: string) => {
        const r = ssh(node, command, input);
        assert.equal(r.status, 0, `on ${node}: ${command}\n${r.stdout}${r.stderr}`);
        return r.stdout;
    };
    const timed = (label: string, f: () => string) => {
        const t = process.hrtime.bigint();
        const out = f();
        seconds[label] = Number(process.hrtime.bigint() - t) / 1e9;
        return out;
    };

    before(function () {
        if (process.getuid?.() !== 0) assert.fail("the local lab needs root (namespaces, mounts, veth); CI runs as root");
        requireEngine();
        work = fs.mkdtempSync(path.join(os.tmpdir(), "lml-local-"));
        state = path.join(work, "lab-state");
        before0 = footprint(work);
        netns = execFileSync("bash", [LOCAL_NODE, "lab-up", SUBNET, state], { encoding: "utf8", timeout: 600_000 }).trim();
        run = pulumiRunner(work, netns);
        project = projectCopy(work);
        run.ok(["stack", "init", "lab"], project);
        for (const [k, v] of [["driver", "local"], ["local.stateDir", state], ["local.subnet", SUBNET], ["kubernetes.enabled", "false"]]) {
            run.ok(["config", "set", "--path", `live-migration-lab:${k}`, v, ...(k === "kubernetes.enabled" ? ["--type", "bool"] : []), "--stack", "lab"], project);
        }
    });

    after(function () {
        if (!work) return;
        if (run) run.pulumi(["destroy", "--yes", "--stack", "lab"], project);
        spawnSync("bash", [LOCAL_NODE, "lab-down", state]);
        console.log(`      figures (seconds, this machine): ${JSON.stringify(seconds)}`);
        fs.rmSync(work, { recursive: true, force: true });
    });

    it("brings both nodes up from nothing, reachable over SSH and configured", () => {
        timed("up-cold", () => run.ok(["up", "--yes", "--stack", "lab"], project));
        for (const node of ["master", "worker"] as const) {
            assert.equal(sshOk(node, "hostname").trim(), node);
            assert.deepEqual(sshOk(node, "grep -v '^#' /etc/criu/runc.conf").trim().split("\n"), ["tcp-established"]);
            assert.equal(sshOk(node, "stat -c %a /var/lib/live-migration-lab/checkpoints").trim(), "700");
            assert.match(sshOk(node, "cat /etc/crio/crio.conf.d/60-live-migration-lab.conf"), /enable_criu_support = true/);
        }
        const criu = JSON.parse(run.ok(["stack", "output", "criu", "--json", "--stack", "lab"], project));
        assert.equal(criu.master.check, "ok");
        assert.match(criu.worker.criu, /^4\.\d+/, "CRIU >= 4.2 from Debian sid");
    });

    it("changes nothing on a repeat pulumi up", () => {
        const out = timed("up-warm", () => run.ok(["up", "--yes", "--stack", "lab"], project));
        assert.doesNotMatch(out, /\b(created|updated|replaced|deleted)\b/, out);
        run.ok(["preview", "--expect-no-changes", "--stack", "lab"], project);
    });

    let lastBeforeCheckpoint = 0;
    it("fails runc checkpoint of a TCP workload with the seed's error without runc.conf, and succeeds with it", () => {
        const fixture = path.join(FIXTURES, "tcp-workload");
        for (const node of ["master", "worker"] as const) {
            sshOk(node, "cat > /tmp/tcp-counter.py", fs.readFileSync(path.join(fixture, "tcp-counter.py"), "utf8"));
            sshOk(node, "cat > /tmp/container.sh", fs.readFileSync(path.join(fixture, "container.sh"), "utf8"));
        }
        sshOk("master", "bash /tmp/container.sh run");
        sshOk("master", "mv /etc/criu/runc.conf /etc/criu/runc.conf.off");
        const failed = ssh("master", "bash /tmp/container.sh checkpoint");
        assert.notEqual(failed.status, 0, "checkpoint without runc.conf succeeded");
        assert.ok(sshOk("master", "cat /var/lib/lab-workload/img/dump.log").includes(SEED_ERROR), "dump.log has the seed's exact error");
        const a = Number(sshOk("master", "bash /tmp/container.sh counter"));
        execFileSync("sleep", ["1"]);
        const b = Number(sshOk("master", "bash /tmp/container.sh counter"));
        assert.ok(b > a, `the workload kept running after the failed dump (${a} -> ${b})`);

        sshOk("master", "mv /etc/criu/runc.conf.off /etc/criu/runc.conf");
        timed("runc-checkpoint", () => sshOk("master", "bash /tmp/container.sh checkpoint"));
        assert.doesNotMatch(sshOk("master", "runc list -q"), /tcp-counter/, "the checkpointed process tree stopped");
        lastBeforeCheckpoint = Number(sshOk("master", "bash /tmp/container.sh counter"));
        assert.ok(lastBeforeCheckpoint > b);
    });

    it("restores the checkpoint on the other node, where the workload's counter continues", () => {
        const image = spawnSync("nsenter", [`--net=/run/netns/${netns}`, "--", "bash", "-c",
            `ssh ${sshArgs(state).join(" ")} root@${NODES.master} 'tar -C /var/lib/lab-workload -cf - img' | ssh ${sshArgs(state).join(" ")} root@${NODES.worker} 'mkdir -p /var/lib/lab-workload && tar -C /var/lib/lab-workload -xf -'`,
        ], { encoding: "utf8" });
        assert.equal(image.status, 0, image.stderr);
        timed("runc-restore", () => sshOk("worker", "bash /tmp/container.sh restore"));
        execFileSync("sleep", ["1"]);
        const lines = sshOk("worker", "cat /var/lib/lab-workload/out.log").trim().split("\n").map(Number);
        assert.equal(lines[0], lastBeforeCheckpoint + 1, `restored counter starts at ${lines[0]}, the source stopped at ${lastBeforeCheckpoint}`);
        lines.forEach((n, i) => assert.equal(n, lines[0] + i, "and keeps counting one by one over the restored connection"));
        assert.ok(lines.length >= 3);
        sshOk("worker", "bash /tmp/container.sh clean");
        sshOk("master", "bash /tmp/container.sh clean");
    });

    it("shows a hand edit of runc.conf on the worker in preview, naming the file, and repairs it on up", () => {
        sshOk("worker", "echo '# edited by hand' > /etc/criu/runc.conf");
        const preview = run.ok(["preview", "--diff", "--stack", "lab"], project);
        assert.match(preview, /worker-runc-conf/);
        assert.match(preview, /drifted: \/etc\/criu\/runc\.conf was changed on the node/);
        assert.doesNotMatch(preview, /master-runc-conf/, "only the edited node's file changes");
        run.ok(["up", "--yes", "--stack", "lab"], project);
        assert.deepEqual(sshOk("worker", "grep -v '^#' /etc/criu/runc.conf").trim().split("\n"), ["tcp-established"]);
        run.ok(["preview", "--expect-no-changes", "--stack", "lab"], project);
    });

    it("leaves the host as it found it after pulumi destroy", () => {
        timed("destroy", () => run.ok(["destroy", "--yes", "--stack", "lab"], project));
        const after = footprint(work);
        assert.deepEqual(after, before0, "no network namespace, mount or process of the lab is left");
    });
});

/** ssh options for the lab's key; host keys of freshly made nodes are not known ahead. */
function sshArgs(state: string): string[] {
    return ["-i", path.join(state, "ssh", "id_ed25519"), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"];
}
