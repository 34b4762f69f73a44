// The local lab for real: `pulumi up` brings master and worker up as namespace sandboxes and
// configures them over SSH; CRIU checkpoints a TCP workload on one node and restores it on the
// other; a hand edit shows up in preview and is repaired; destroy leaves nothing behind.
// Needs root (CI runs as root). Nodes only: kubernetes.enabled is false here.
// Timings are the benchmark's business: `scripts/lab.sh npm run bench -- lab`.
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import { createLocalLab, footprint, LocalLab } from "../harness/local-lab-helpers";

const SEED_ERROR = "Error (criu/sk-inet.c:200): inet: Connected TCP socket, consider using --tcp-established option.";

describe("the local lab (namespace nodes, real SSH, real CRIU)", function () {
    this.timeout(900_000);
    let lab: LocalLab;
    let before0: ReturnType<typeof footprint>;
    const up = () => lab.run.ok(["up", "--yes", "--stack", "lab"], lab.project);

    before(() => {
        before0 = footprint("lml-local-");
        lab = createLocalLab("10.231.99.0/24");
    });
    after(() => {
        if (!lab) return;
        lab.destroy();
        lab.dispose();
    });

    it("brings both nodes up from nothing, reachable over SSH and configured", () => {
        up();
        for (const node of ["master", "worker"] as const) {
            assert.equal(lab.sshOk(node, "hostname").trim(), node);
            assert.deepEqual(lab.sshOk(node, "grep -v '^#' /etc/criu/runc.conf").trim().split("\n"), ["tcp-established", "skip-in-flight"]);
            assert.equal(lab.sshOk(node, "stat -c %a /var/lib/live-migration-lab/checkpoints").trim(), "700");
            assert.match(lab.sshOk(node, "cat /etc/crio/crio.conf.d/60-live-migration-lab.conf"), /enable_criu_support = true/);
        }
        // Like real hosts, the nodes keep Debian's stock sshd: it refuses SSH environment variables
        // other than the few its AcceptEnv lists (LANG, LC_*, ...), and so does the command provider (as the official one does),
        // so this up proves that no remote command of the program needs one.
        for (const node of ["master", "worker"] as const) {
            const patterns = lab.sshOk(node, "sshd -T | grep -i '^acceptenv'").trim().split("\n").map(l => l.split(/\s+/)[1]);
            assert.ok(patterns.includes("LANG") && patterns.includes("LC_*"), `Debian's stock AcceptEnv on ${node}: ${patterns.join(" ")}`);
            const glob = (p: string) => new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`);
            for (const name of ["LAB_OBSERVED", "LAB_ATTEMPT", "PULUMI_COMMAND_STDOUT"]) {
                assert.ok(!patterns.some(p => glob(p).test(name)), `sshd on ${node} would accept ${name} (AcceptEnv ${patterns.join(" ")})`);
            }
        }
        const criu = JSON.parse(lab.run.ok(["stack", "output", "criu", "--json", "--stack", "lab"], lab.project));
        assert.equal(criu.master.check, "ok");
        assert.match(criu.worker.criu, /^4\.\d+/, "CRIU >= 4.2 from Debian sid");
        // The node check reports the cgroup mode the kubelet will meet (this host's, seen from its nodes).
        const mode = fs.existsSync("/sys/fs/cgroup/cgroup.controllers") ? "v2" : fs.existsSync("/sys/fs/cgroup/unified") ? "hybrid" : "v1";
        assert.equal(criu.master.cgroup, mode);
    });

    it("changes nothing on a repeat pulumi up", () => {
        const out = up();
        assert.doesNotMatch(out, /\b(created|updated|replaced|deleted)\b/, out);
        lab.run.ok(["preview", "--expect-no-changes", "--stack", "lab"], lab.project);
    });

    let lastBeforeCheckpoint = 0;
    it("fails runc checkpoint of a TCP workload with the seed's error without runc.conf, and succeeds with it", () => {
        lab.copyWorkload();
        lab.sshOk("master", "bash /tmp/container.sh run");
        lab.sshOk("master", "mv /etc/criu/runc.conf /etc/criu/runc.conf.off");
        const failed = lab.ssh("master", "bash /tmp/container.sh checkpoint");
        assert.notEqual(failed.status, 0, "checkpoint without runc.conf succeeded");
        assert.ok(lab.sshOk("master", "cat /var/lib/lab-workload/img/dump.log").includes(SEED_ERROR), "dump.log has the seed's exact error");
        const a = Number(lab.sshOk("master", "bash /tmp/container.sh counter"));
        execFileSync("sleep", ["1"]);
        const b = Number(lab.sshOk("master", "bash /tmp/container.sh counter"));
        assert.ok(b > a, `the workload kept running after the failed dump (${a} -> ${b})`);

        lab.sshOk("master", "mv /etc/criu/runc.conf.off /etc/criu/runc.conf");
        lab.sshOk("master", "bash /tmp/container.sh checkpoint");
        assert.doesNotMatch(lab.sshOk("master", "runc list -q"), /tcp-counter/, "the checkpointed process tree stopped");
        lastBeforeCheckpoint = Number(lab.sshOk("master", "bash /tmp/container.sh counter"));
        assert.ok(lastBeforeCheckpoint > b);
    });

    it("restores the checkpoint on the other node, where the workload's counter continues", () => {
        lab.moveImage("master", "worker");
        lab.sshOk("worker", "bash /tmp/container.sh restore");
        execFileSync("sleep", ["1"]);
        const lines = lab.sshOk("worker", "cat /var/lib/lab-workload/out.log").trim().split("\n").map(Number);
        assert.equal(lines[0], lastBeforeCheckpoint + 1, `restored counter starts at ${lines[0]}, the source stopped at ${lastBeforeCheckpoint}`);
        lines.forEach((n, i) => assert.equal(n, lines[0] + i, "and keeps counting one by one over the restored connection"));
        assert.ok(lines.length >= 3);
        lab.sshOk("worker", "bash /tmp/container.sh clean");
        lab.sshOk("master", "bash /tmp/container.sh clean");
    });

    it("shows a hand edit of runc.conf on the worker in preview, naming the file, and repairs it on up", () => {
        lab.sshOk("worker", "echo '# edited by hand' > /etc/criu/runc.conf");
        const preview = lab.run.ok(["preview", "--diff", "--stack", "lab"], lab.project);
        assert.match(preview, /worker-runc-conf/);
        assert.match(preview, /drifted: \/etc\/criu\/runc\.conf was changed on the node/);
        assert.doesNotMatch(preview, /master-runc-conf/, "only the edited node's file changes");
        up();
        assert.deepEqual(lab.sshOk("worker", "grep -v '^#' /etc/criu/runc.conf").trim().split("\n"), ["tcp-established", "skip-in-flight"]);
        lab.run.ok(["preview", "--expect-no-changes", "--stack", "lab"], lab.project);
    });

    it("declares everything on a node again when the node is replaced (its files, directories and checks)", () => {
        // The local driver's node: the local command that runs `local-node.sh up 'worker' ...`.
        const urn = JSON.parse(lab.run.ok(["stack", "export", "--stack", "lab"], lab.project)).deployment.resources
            .find((r: { type: string; inputs?: { create?: string } }) => r.type === "command:local:Command" && /local-node\.sh'? up 'worker' /.test(r.inputs?.create ?? ""))?.urn;
        assert.ok(urn, "the worker node's resource");
        const out = lab.run.ok(["up", "--yes", "--stack", "lab", "--replace", urn], lab.project);
        // A new node (a new rootfs upper layer) has none of what the program wrote on the old one.
        assert.match(out, /worker-runc-conf\s+replaced/, out);
        assert.deepEqual(lab.sshOk("worker", "grep -v '^#' /etc/criu/runc.conf").trim().split("\n"), ["tcp-established", "skip-in-flight"]);
        assert.equal(lab.sshOk("worker", "stat -c %a /var/lib/live-migration-lab/checkpoints").trim(), "700");
        assert.match(lab.sshOk("worker", "cat /etc/crio/crio.conf.d/60-live-migration-lab.conf"), /enable_criu_support = true/);
        assert.doesNotMatch(out, /master-runc-conf\s+replaced/, "the master's are left alone");
        lab.run.ok(["preview", "--expect-no-changes", "--stack", "lab"], lab.project);
    });

    it("leaves the host as it found it after pulumi destroy", () => {
        lab.run.ok(["destroy", "--yes", "--stack", "lab"], lab.project);
        assert.deepEqual(footprint("lml-local-"), before0, "no network namespace, mount or process of the lab is left");
    });
});
