// The `existing` driver for real, against two hosts it does not own: two local lab nodes made by
// the test itself (scripts/local-node.sh, outside any stack), prepared as someone's golden hosts
// would be: CRI-O, Kubernetes, CRIU and buildah on the PATH, no systemd, their own CNI config and
// routes, and a user `lab` with passwordless sudo whose key (a new one, not root's) is the stack's
// secret. The stack says existing.install present, services supervised, images build. `pulumi up`
// runs kubeadm init/join through sudo, the runtime files and the Flink job; one migration moves
// the job; `pulumi destroy` resets kubeadm and removes the program's files and services, and the
// hosts are then the test's own again. Needs root.
import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { FLINK_BUILD, flinkInputs, footprint, k8sBinaries, LOCAL_NODE, sshArgs } from "../harness/local-lab-helpers";
import { projectCopy, pulumiRunner, requireEngine } from "../harness/engine-helpers";
import { localKubeletSettings, renderCniConfig } from "../../components/cluster/localCluster";
import { FlinkProbe, flinkProbeScript } from "../../components/flink/flink";

const SUBNET = "10.231.96.0/24";
const HOSTS = { master: "10.231.96.10", worker: "10.231.96.11" } as const;
type Host = keyof typeof HOSTS;

describe("the existing driver against two hosts it does not own (non-root sudo user, kubeadm, Flink, a migration)", function () {
    this.timeout(3_600_000);
    let work: string;
    let state: string;
    let netns: string;
    let project: string;
    let run: ReturnType<typeof pulumiRunner>;
    let before0: ReturnType<typeof footprint>;
    /** What the hosts' /etc/criu held before the test's stack touched them: must be so again after destroy. */
    const hostFiles: Partial<Record<Host, string>> = {};
    const HOST_FILES = "cd /etc/criu && for f in *; do echo \"$f $(stat -c '%U:%G %a' \"$f\") $(sha256sum <\"$f\" | cut -c1-64)\"; done";
    const inLab = (argv: string[], input?: string) =>
        spawnSync("nsenter", [`--net=/run/netns/${netns}`, "--", ...argv], { input, encoding: "utf8", timeout: 300_000 });
    /** As root with the test's own key: the hosts' owner looking at them, not the program. */
    const root = (host: Host, command: string, input?: string) => {
        const r = inLab(["ssh", ...sshArgs(state), `root@${HOSTS[host]}`, command], input);
        assert.equal(r.status, 0, `on ${host}: ${command}\n${r.stdout}${r.stderr}`);
        return String(r.stdout);
    };
    const kubectl = (args: string) => root("master", `KUBECONFIG=/etc/kubernetes/admin.conf kubectl ${args}`);
    const probe = (host: Host, pod: string): FlinkProbe | undefined => {
        const r = inLab(["ssh", ...sshArgs(state), `root@${HOSTS[host]}`, flinkProbeScript({ namespace: "default", pod })]);
        return r.status === 0 ? JSON.parse(String(r.stdout).trim()) as FlinkProbe : undefined;
    };
    const probeUntil = (what: string, host: Host, pod: string, ok: (p: FlinkProbe) => boolean, seconds = 120): FlinkProbe => {
        const deadline = Date.now() + seconds * 1000;
        let last: FlinkProbe | undefined;
        while (Date.now() < deadline) {
            last = probe(host, pod);
            if (last && ok(last)) return last;
            Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
        }
        return assert.fail(`timed out after ${seconds}s waiting for ${what}; last probe: ${JSON.stringify(last)}`);
    };

    before(() => {
        if (process.getuid?.() !== 0) assert.fail("the hosts are local lab nodes, which need root; CI runs as root");
        requireEngine();
        before0 = footprint("lml-existing-");
        const bins = k8sBinaries();
        flinkInputs();
        // Where flink-build.sh keeps the inputs of every Flink version (hosts see it at /opt/lab/images).
        const images = execFileSync("bash", [FLINK_BUILD, "--root"], { encoding: "utf8" }).trim();
        work = fs.mkdtempSync(path.join(os.tmpdir(), "lml-existing-"));
        state = path.join(work, "hosts");
        netns = execFileSync("bash", [LOCAL_NODE, "lab-up", SUBNET, state], { encoding: "utf8", timeout: 600_000 }).trim();
        // The hosts, with the binaries on their PATH (/usr/local/bin) and the Flink image's inputs.
        (["master", "worker"] as const).forEach(h => execFileSync("bash", [LOCAL_NODE, "up", h, HOSTS[h], SUBNET, state, bins, images], { encoding: "utf8", timeout: 300_000 }));
        // The stack's key: user `lab` accepts it, root does not.
        execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "existing-hosts-test", "-f", path.join(work, "lab_key")]);
        const pub = fs.readFileSync(path.join(work, "lab_key.pub"), "utf8");
        (["master", "worker"] as const).forEach((h, i) => {
            root(h, [
                "useradd -m -s /bin/bash lab",
                "install -d -m 0700 -o lab -g lab /home/lab/.ssh",
                "cat >/home/lab/.ssh/authorized_keys && chown lab:lab /home/lab/.ssh/authorized_keys && chmod 0600 /home/lab/.ssh/authorized_keys",
                "echo 'lab ALL=(ALL) NOPASSWD:ALL' >/etc/sudoers.d/lab && chmod 0440 /etc/sudoers.d/lab",
                // The hosts' own pod network: a bridge per host, routes to the other's pods.
                "sysctl -qw net.ipv4.ip_forward=1",
                `ip route replace 10.85.${1 - i}.0/24 via ${h === "master" ? HOSTS.worker : HOSTS.master} dev eth0`,
            ].join(" && "), pub);
            root(h, "install -d /etc/cni/net.d && cat >/etc/cni/net.d/10-hosts.conflist", renderCniConfig(i));
            // The host's own CRIU config, which the program's runc.conf replaces while the lab runs,
            // beside a file of the host's that the program has nothing to do with.
            root(h, "install -d /etc/criu && cat >/etc/criu/runc.conf && chmod 0640 /etc/criu/runc.conf && echo notes >/etc/criu/notes.conf", "# the host owner's\ntcp-close\n");
            hostFiles[h] = root(h, HOST_FILES);
        });
        run = pulumiRunner(work, netns, { PATH: `${bins}:${process.env.PATH}` });
        project = projectCopy(work);
        run.ok(["stack", "init", "hosts"], project);
        const cgroupRoot = (h: Host) => execFileSync("bash", [LOCAL_NODE, "cgroup-root", h, state], { encoding: "utf8" }).trim();
        const config = {
            driver: "existing",
            nodes: (["master", "worker"] as const).map(h => ({
                name: h, role: h, address: HOSTS[h], sshUser: "lab",
                // Two kubelets on one machine's cgroups: each under its own root (these hosts are lab nodes).
                kubelet: localKubeletSettings(cgroupRoot(h)),
            })),
            existing: { install: "present", services: "supervised", images: "build" },
            // A kubeadm built with Go 1.26 fails this check (see docs/local-lab.md).
            // ... and a node's network namespace cannot set the host's nf_conntrack_max: leave it.
            kubernetes: { ignorePreflightErrors: ["HTTPProxyCIDR"], kubeProxy: { conntrack: { maxPerCore: 0 } } },
            crio: { settings: { crio: { network: { network_dir: "/etc/cni/net.d/", plugin_dirs: ["/usr/lib/cni"] } } } },
            flink: { node: "worker" },
            cutover: { maxPauseSeconds: 30 },
        };
        // Structured values go straight into the stack file (stack init wrote its passphrase salt there).
        const file = path.join(project, "Pulumi.hosts.yaml");
        const doc = YAML.parse(fs.readFileSync(file, "utf8")) ?? {};
        doc.config = { ...doc.config, ...Object.fromEntries(Object.entries(config).map(([k, v]) => [`live-migration-lab:${k}`, v])) };
        fs.writeFileSync(file, YAML.stringify(doc));
        run.ok(["config", "set", "--secret", "live-migration-lab:sshPrivateKey", "--stack", "hosts"], project, fs.readFileSync(path.join(work, "lab_key"), "utf8"));
    });
    after(() => {
        if (!work) return;
        run?.pulumi(["destroy", "--yes", "--stack", "hosts"], project);
        for (const h of ["master", "worker"] as const) spawnSync("bash", [LOCAL_NODE, "down", h, HOSTS[h], SUBNET, state]);
        spawnSync("bash", [LOCAL_NODE, "lab-down", state]);
        fs.rmSync(work, { recursive: true, force: true });
    });

    it("brings the hosts into one cluster through kubeadm, as user lab with sudo, with the Flink job running on the worker", () => {
        // Root does not accept the stack's key: whatever the program did, it did as lab through sudo.
        const asRoot = inLab(["ssh", "-i", path.join(work, "lab_key"), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", `root@${HOSTS.master}`, "true"]);
        assert.notEqual(asRoot.status, 0, "root must not accept the stack's key");
        // Before anything is made: an archive directory holding someone's files is refused at the
        // preview, naming the config key; the host's own runc.conf is named as kept aside.
        root("worker", "install -d /srv/theirs && echo data >/srv/theirs/report.csv");
        run.ok(["config", "set", "--path", "live-migration-lab:archive.dir", "/srv/theirs", "--stack", "hosts"], project);
        const taken = run.pulumi(["preview", "--stack", "hosts"], project);
        assert.notEqual(taken.status, 0);
        assert.match(taken.out, /live-migration-lab:archive\.dir: got "\/srv\/theirs", which on node worker already holds 1 entry this program did not write/);
        run.ok(["config", "rm", "--path", "live-migration-lab:archive.dir", "--stack", "hosts"], project);
        assert.equal(root("worker", "cat /srv/theirs/report.csv; stat -c %a /srv/theirs"), "data\n755\n");
        const diff = run.ok(["preview", "--diff", "--stack", "hosts"], project);
        assert.match(diff, /host's own: \/etc\/criu\/runc\.conf \(sha256 [0-9a-f]{12}\) is kept aside in \/var\/lib\/live-migration-lab\/files\/kept\/etc\/criu\/runc\.conf/);
        const out = run.ok(["up", "--yes", "--stack", "hosts"], project);
        assert.doesNotMatch(out, /BEGIN OPENSSH PRIVATE KEY/);
        const system = JSON.parse(kubectl("get pods -n kube-system -o json")).items as { metadata: { name: string }; status: { phase: string } }[];
        for (const p of ["etcd-master", "kube-apiserver-master", "kube-controller-manager-master", "kube-scheduler-master"]) {
            assert.equal(system.find(s => s.metadata.name === p)?.status.phase, "Running", `${p} Running`);
        }
        assert.equal(system.filter(s => s.metadata.name.startsWith("kube-proxy-") && s.status.phase === "Running").length, 2);
        assert.equal(system.filter(s => s.metadata.name.startsWith("coredns-") && s.status.phase === "Running").length, 2);
        // The runtime files are the program's, written through sudo.
        for (const h of ["master", "worker"] as const) {
            assert.match(root(h, "stat -c '%U %a' /etc/criu/runc.conf /etc/kubernetes/kubelet.conf.d/50-live-migration-lab.conf"), /^root 644\nroot 644\n$/);
            assert.match(root(h, "cat /etc/criu/runc.conf"), /^tcp-established$/m);
        }
        // kubeadm's log names the join token: root only.
        assert.equal(root("master", "stat -c %a /var/log/live-migration-lab-kubeadm-init.log").trim(), "600");
        assert.equal(root("worker", "stat -c %a /var/log/live-migration-lab-kubeadm-join.log").trim(), "600");
        const flink = JSON.parse(run.ok(["stack", "output", "flink", "--json", "--stack", "hosts"], project));
        assert.equal(flink.node, "worker");
        assert.equal(flink.image, "localhost/flink-minimal:1.20.0");
        const first = probeUntil("the job to read records", "worker", "flink-minimal", p => p.state === "RUNNING" && p.records > 0, 180);
        probeUntil("the record count to grow", "worker", "flink-minimal", p => p.records > first.records + 100);
    });

    it("moves the job to the master by a stack config change, through the same driver", () => {
        const before = probeUntil("the job to run", "worker", "flink-minimal", p => p.records > 0);
        run.ok(["config", "set", "--path", "live-migration-lab:migrations[0].id", "m1", "--stack", "hosts"], project);
        run.ok(["config", "set", "--path", "live-migration-lab:migrations[0].to", "master", "--stack", "hosts"], project);
        run.ok(["up", "--yes", "--stack", "hosts"], project);
        const [m] = JSON.parse(run.ok(["stack", "output", "migrations", "--json", "--stack", "hosts"], project));
        assert.equal(m.id, "m1");
        assert.equal(m.to, "master");
        assert.ok(m.records.after >= before.records, `${JSON.stringify(m.records)} vs ${before.records} before`);
        assert.equal(m.restoredFrom, "image", "existing hosts restore from a checkpoint image (archive.restore's default there)");
        console.log(`      figures: no progress ${m.noProgressSeconds} s, archive ${(m.sizeBytes / 1048576).toFixed(0)} MB`);
        probeUntil("the restored job to count on", "master", "flink-minimal-m1", p => p.records > m.records.after, 90);
        assert.equal(kubectl("get pod flink-minimal -o name --ignore-not-found").trim(), "", "the source pod is gone");
    });

    it("destroy resets kubeadm and takes back everything it put on the hosts, which stay up", () => {
        run.ok(["destroy", "--yes", "--stack", "hosts"], project);
        for (const h of ["master", "worker"] as const) {
            // kubeadm reset empties /etc/kubernetes/manifests and leaves the directory (issue: do no harm).
            const left = root(h, "ls -A /etc/kubernetes/manifests; ls /etc/kubernetes/kubelet.conf.d/50-live-migration-lab.conf /etc/live-migration-lab/kubeadm*.yaml 2>/dev/null; pgrep -x kubelet; pgrep -x crio; pgrep -x cri-proxy; pgrep -x kube-apiserver; pgrep -x etcd; true");
            assert.equal(left.trim(), "", `left on ${h}: ${left}`);
            // Nor the supervised services' command files, nor kubeadm's logs, which name a bootstrap token.
            assert.equal(root(h, "ls -A /etc/live-migration-lab/services /var/log/live-migration-lab-kubeadm-init.log /var/log/live-migration-lab-kubeadm-join.log 2>/dev/null; true").trim(), "");
            // The host's own files stay, and its runc.conf is back byte for byte, with its owner and mode.
            assert.match(root(h, "ls /etc/cni/net.d /etc/sudoers.d"), /10-hosts\.conflist[\s\S]*lab/);
            assert.equal(root(h, HOST_FILES), hostFiles[h]);
            assert.equal(root(h, "ls -A /var/lib/live-migration-lab/files 2>/dev/null; true"), "", "the record of kept files goes with them");
        }
    });

    it("leaves this machine as it found it once the test's hosts are gone", () => {
        for (const h of ["master", "worker"] as const) execFileSync("bash", [LOCAL_NODE, "down", h, HOSTS[h], SUBNET, state]);
        execFileSync("bash", [LOCAL_NODE, "lab-down", state]);
        assert.deepEqual(footprint("lml-existing-"), before0);
    });
});
