// The program on hosts of the kind users have: cgroup v2 only and systemd as PID 1, here two QEMU
// VMs under software emulation (scripts/vm.sh; Debian sid, its kernel, CRIU and runc; CRI-O and
// Kubernetes from scripts/k8s-build.sh, mounted read-only), on a bridge of their own in a network
// namespace of the lab's (the engine runs there too; nothing touches the host's network). Prepared as
// someone's golden hosts would be, with what the CRI-O and Kubernetes packages bring: CRI-O and the
// kubelet on the PATH and run by systemd units of the host's, kubeadm's kubelet drop-in, a CNI
// bridge, the host's own CRIU config. The stack says driver existing, install present, services
// systemd, images build (no registry here), and runs a Redis workload (server and client in one
// container, one loopback connection between them). `pulumi up` writes the runtime files, systemd
// restarts CRI-O with them, kubeadm builds the cluster, and stack config changes move the workload
// master -> worker -> master with its counter never going back and its connection kept; drift review
// and destroy give the hosts back as they were. Needs root and about 40 minutes (npm run test:vm).
import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { k8sBinaries, workloadInputs } from "../harness/local-lab-helpers";
import { projectCopy, pulumiRunner, requireEngine, ROOT } from "../harness/engine-helpers";
import { RedisSample, redisSampleScript, redisWentWrong } from "../harness/redis-helpers";
import { libraryText } from "../../components/node/program";
import { goldenHostFiles, restoredDiagnosis, watchRestored } from "../harness/vm-helpers";
import { CRIO_DROP_IN_PATH, CRIO_SOCKET } from "../../components/node/crio";

const VM = path.join(ROOT, "scripts", "vm.sh");
const NETNS = "lml-vm";
const HOSTS = {
    master: { vm: "lml-vm-master", port: 2291, address: "10.231.94.10", memoryMb: 3072 },
    worker: { vm: "lml-vm-worker", port: 2292, address: "10.231.94.11", memoryMb: 2560 },
} as const;
type Host = keyof typeof HOSTS;
const BOTH = ["master", "worker"] as const;
const FIXTURE = path.join(ROOT, "tests", "fixtures", "tcp-workload");
const SEED_ERROR = "Connected TCP socket, consider using --tcp-established option";
const IMAGES = process.env.LAB_IMAGES_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "live-migration-lab", "images");
const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * Redis in one container: the server, and a client that keeps ONE loopback connection to it for the
 * container's life (named "sidecar", as in examples/redis-sidecar.yaml), counting every 100 ms; it
 * exits rather than reconnect. One container, because restores from a checkpoint image (the way of
 * hosts without the local lab's CRI proxy) take pods of one container.
 */
const REDIS = {
    name: "redis", node: "master",
    containers: [{
        name: "server", image: "localhost/redis-lab:1", packages: ["redis-server"], memoryMb: 128,
        command: ["bash", "-c", [
            "set -euo pipefail",
            "redis-server --bind 127.0.0.1 --port 6379 --save '' --appendonly no --protected-mode no &",
            "until (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; do sleep 0.2; done",
            "exec 3<>/dev/tcp/127.0.0.1/6379",
            "call() { printf '%s\\r\\n' \"$*\" >&3; IFS= read -r reply <&3; reply=${reply%$'\\r'}; case $reply in -*) echo \"redis said $reply\" >&2; exit 1 ;; esac; }",
            "call CLIENT SETNAME sidecar",
            "while :; do call INCR counter; call SET \"key:${reply#:}\" \"${reply#:}\"; sleep 0.1; done",
        ].join("\n")],
    }],
    probe: { command: ["sh", "-c", "echo \"$(redis-cli GET counter) $(redis-cli CLIENT LIST | sed -n 's/^id=\\([0-9]*\\) .* name=sidecar .*/\\1/p')\""] },
};

describe("the program on cgroup v2 + systemd hosts (two QEMU VMs: driver existing, services systemd, kubeadm, a workload moved)", function () {
    this.timeout(3_600_000);
    let work: string;
    let project: string;
    let run: ReturnType<typeof pulumiRunner>;
    let key: string;
    const started = Date.now();
    const vm = (host: Host, command: string, input?: string) => spawnSync("bash", [VM, "ssh", HOSTS[host].vm, command], { input, encoding: "utf8", timeout: 600_000 });
    const vmOk = (host: Host, command: string, input?: string) => {
        const r = vm(host, command, input);
        assert.equal(r.status, 0, `on ${host}: ${command.slice(0, 300)}\n${r.stdout}${r.stderr}`);
        return r.stdout;
    };
    const crioInvocation = (host: Host) => vmOk(host, "systemctl show -p InvocationID --value crio").trim();
    const kubectl = (args: string) => vmOk("master", `kubectl --kubeconfig /etc/kubernetes/admin.conf ${args}`);
    const output = (name: string) => JSON.parse(run.ok(["stack", "output", name, "--json", "--stack", "vms"], project));
    const hostCriu = "# the host owner's\ntcp-close\n";
    const said = (out: string) => out.split("\n").filter(l => !l.includes('running "bash')).slice(-60).join("\n");

    before(() => {
        if (process.getuid?.() !== 0) assert.fail("the VMs' images are built with debootstrap, which needs root; CI runs as root");
        requireEngine();
        const bins = k8sBinaries();
        workloadInputs([REDIS]);
        execFileSync("bash", [VM, "net-up", NETNS, "10.231.94.1/24"]);
        for (const [i, h] of BOTH.entries()) {
            const t = Date.now();
            const up = JSON.parse(execFileSync("bash", [VM, "up", HOSTS[h].vm, String(HOSTS[h].port), bins, IMAGES], {
                encoding: "utf8", timeout: 1_800_000, env: { ...process.env, LAB_VM_NET: `${NETNS}:${HOSTS[h].address}/24`, LAB_VM_MEMORY_MB: String(HOSTS[h].memoryMb) },
            }).trim());
            console.log(`      ${h}: VM booted to SSH in ${((Date.now() - t) / 1000).toFixed(1)} s (address ${up.address})`);
            key = up.key;
            for (const [file, content] of Object.entries(goldenHostFiles(i))) vmOk(h, `mkdir -p ${path.dirname(file)} && cat >${file}`, content);
            vmOk(h, "systemctl restart systemd-modules-load && sysctl -q --system && systemctl daemon-reload && systemctl enable -q --now crio && systemctl enable -q kubelet");
            vmOk(h, "install -d /etc/criu && cat >/etc/criu/runc.conf && chmod 0640 /etc/criu/runc.conf", hostCriu);
        }
        work = fs.mkdtempSync(path.join(os.tmpdir(), "lml-vm-"));
        // Under emulation the first `pulumi up` (kubeadm's images, kubeadm) takes half an hour.
        run = pulumiRunner(work, NETNS, { PATH: `${bins}:${process.env.PATH}` }, 3_600_000);
        project = projectCopy(work);
        run.ok(["stack", "init", "vms"], project);
        const config = {
            driver: "existing",
            nodes: BOTH.map(h => ({ name: h, role: h, address: HOSTS[h].address })),
            existing: { install: "present", services: "systemd", images: "build" },
            flink: { enabled: false },
            workloads: [REDIS],
            // Under emulation a hop's checkpoint, copy, checkpoint image and restore take minutes, not
            // seconds: the source is held up to 3 minutes (40 s did not do: the restored copy was not
            // verified in time, stopped, and the job went on at the source).
            cutover: { maxPauseSeconds: 180 },
        };
        const file = path.join(project, "Pulumi.vms.yaml");
        const doc = YAML.parse(fs.readFileSync(file, "utf8")) ?? {};
        doc.config = { ...doc.config, ...Object.fromEntries(Object.entries(config).map(([k, v]) => [`live-migration-lab:${k}`, v])) };
        fs.writeFileSync(file, YAML.stringify(doc));
        run.ok(["config", "set", "--secret", "live-migration-lab:sshPrivateKey", "--stack", "vms"], project, fs.readFileSync(key, "utf8"));
    });
    after(() => {
        if (process.env.LAB_VM_KEEP) {
            console.log(`      LAB_VM_KEEP: the VMs run on (bash scripts/vm.sh ssh ${HOSTS.master.vm}); the stack is in ${project}; the engine runs in: nsenter --net=/run/netns/${NETNS}`);
            return;
        }
        if (work) run?.pulumi(["destroy", "--yes", "--stack", "vms"], project);
        for (const h of BOTH) spawnSync("bash", [VM, "down", HOSTS[h].vm]);
        spawnSync("bash", [VM, "net-down", NETNS]);
        if (work) fs.rmSync(work, { recursive: true, force: true });
        console.log(`      the VM suite took ${((Date.now() - started) / 60000).toFixed(1)} min`);
    });

    let crioBefore: Record<Host, string>;
    it("are hosts of the kind users have: systemd as PID 1, cgroup v2 only, CRI-O run by systemd", () => {
        crioBefore = { master: crioInvocation("master"), worker: crioInvocation("worker") };
        for (const h of BOTH) {
            assert.equal(vmOk(h, "cat /proc/1/comm").trim(), "systemd");
            assert.equal(vmOk(h, "stat -fc %T /sys/fs/cgroup").trim(), "cgroup2fs");
            assert.equal(vmOk(h, "systemctl is-active crio").trim(), "active");
            console.log(`      ${h}: PID 1 systemd, /sys/fs/cgroup cgroup2fs, kernel ${vmOk(h, "uname -r").trim()}, ${vmOk(h, "criu --version | head -n1").trim()}, ${vmOk(h, "crio --version | head -n1").trim()}`);
        }
    });

    let first: RedisSample;
    const seen: RedisSample[] = [];
    const sampleUntil = (what: string, node: Host, pod: string, ok: (s: RedisSample) => boolean, key?: number, seconds = 180): RedisSample => {
        let last: RedisSample | string = "no answer";
        const deadline = Date.now() + seconds * 1000;
        while (Date.now() < deadline) {
            const r = vm(node, redisSampleScript(pod, key));
            if (r.status === 0) {
                last = JSON.parse(r.stdout.trim().split("\n").pop()!) as RedisSample;
                seen.push(last);
                const wrong = redisWentWrong(seen);
                if (wrong) assert.fail(wrong);
                if (ok(last)) return last;
            } else {
                last = r.stderr.trim();
            }
            sleep(2000); // each sample asks CRI-O twice: about a second of the VM's CPU under emulation
        }
        return assert.fail(`timed out after ${seconds}s waiting for ${what}; last sample: ${JSON.stringify(last)}`);
    };

    it("pulumi up: runtime files (CRI-O restarted by systemd, its restore switch as its binary reads it), kubeadm init and join, the workload running", () => {
        const t = Date.now();
        const r = run.pulumi(["up", "--yes", "--stack", "vms"], project);
        assert.equal(r.status, 0, `pulumi up failed:\n${said(r.out)}`);
        console.log(`      the first pulumi up took ${((Date.now() - t) / 60000).toFixed(1)} min`);
        const criu = output("criu");
        for (const h of BOTH) {
            assert.equal(criu[h].cgroup, "v2", "the node check reports cgroup v2");
            assert.equal(criu[h].check, "ok");
            assert.notEqual(crioInvocation(h), crioBefore[h], "systemd restarted CRI-O after its drop-in was written");
            assert.equal(vmOk(h, "systemctl is-active crio kubelet").trim(), "active\nactive", "systemd runs CRI-O and the kubelet");
            const dropIn = vmOk(h, `cat ${CRIO_DROP_IN_PATH}`);
            // CRI-O v1.34.0 predates [crio.checkpoint_restore]: its one switch, as its `crio config` says.
            assert.match(dropIn, /^enable_criu_support = true$/m);
            assert.doesNotMatch(dropIn, /container_level_enabled/);
            const status = vmOk(h, "crio status config");
            assert.match(status, /^\s*enable_criu_support = true$/m, "the running CRI-O restores");
            assert.match(status, /^\s*cgroup_manager = "systemd"$/m, "CRI-O's cgroup manager fits systemd");
            const check = vm(h, `set -euo pipefail\n${libraryText("node/programs/crio-switch.sh")}\nrequire_crio_restore target ${CRIO_SOCKET.replace("unix://", "")} ${CRIO_DROP_IN_PATH}`);
            assert.equal(check.status, 0, check.stderr);
            assert.deepEqual(vmOk(h, "grep -v '^#' /etc/criu/runc.conf").trim().split("\n"), ["tcp-established", "skip-in-flight"]);
        }
        assert.deepEqual(output("warnings"), [], "nothing to warn of on cgroup v2 hosts");
        const nodes = JSON.parse(kubectl("get nodes -o json")).items.map((n: any) => `${n.metadata.name} ${n.status.nodeInfo.kubeletVersion} ${n.status.conditions.find((c: any) => c.type === "Ready").status}`);
        assert.deepEqual(nodes.sort(), ["master v1.37.2 True", "worker v1.37.2 True"]);
        assert.deepEqual(output("workloads").redis, { pod: "redis", node: "master", image: "localhost/redis-lab:1" });
        // The kubelet's systemd cgroup driver: the pod's cgroup is a systemd slice.
        const cgroup = vmOk("master", "cat /proc/$(pgrep -f 'redis-server 127.0.0.1' | head -n1)/cgroup").trim();
        assert.match(cgroup, /^0::\/kubepods\.slice\/.*crio-[0-9a-f]{64}\.scope/, cgroup);
        const ids = BOTH.map(h => vmOk(h, "crictl inspecti -o go-template --template '{{.status.id}}' localhost/redis-lab:1").trim());
        assert.equal(ids[0], ids[1], "one image id on both hosts: a restore needs the same base image");
        first = sampleUntil("the client to count", "master", "redis", s => s.counter > 20);
    });

    /** A hop by a stack config change: the counter never goes back and the connection is the same one. */
    const hop = (index: number, id: string, from: Host, to: Host, sourcePod: string) => {
        const before = sampleUntil("a sample before the hop", from, sourcePod, () => true);
        for (const [k, v] of [["id", id], ["workload", "redis"], ["to", to]]) run.ok(["config", "set", "--path", `live-migration-lab:migrations[${index}].${k}`, v, "--stack", "vms"], project);
        const t = Date.now();
        const watched = watchRestored(`bash ${VM} ssh ${HOSTS[to].vm}`, `redis-${id}`, path.join(work, `diagnosis-${id}.txt`));
        const r = run.pulumi(["up", "--yes", "--stack", "vms"], project);
        const seenRestored = watched();
        if (r.status !== 0) console.log(`      the restored copy on ${to}, as the node saw it:\n${seenRestored.replace(/^/gm, "        ")}`);
        assert.equal(r.status, 0, `pulumi up for ${id} failed:\n${said(r.out)}`);
        const m = output("migrations")[index];
        assert.deepEqual([m.id, m.workload, m.from, m.to, m.restoredFrom], [id, "redis", from, to, "image"]);
        assert.equal(m.jobId, String(first.id), "the identity the probe reported: the client's connection");
        assert.ok(m.records.before >= before.counter && m.records.after >= m.records.before, JSON.stringify(m.records));
        let after: RedisSample;
        try {
            after = sampleUntil("the restored pod to count on", to, `redis-${id}`, s => s.counter > m.records.after, before.counter);
        } catch (e) {
            console.log(`      the restored copy on ${to}, as the node sees it:\n${(vm(to, restoredDiagnosis(`redis-${id}`)).stdout ?? "").replace(/^/gm, "        ")}`);
            throw e;
        }
        assert.equal(after.id, first.id, "the client's connection survived the hop (no reconnect)");
        assert.equal(after.key, String(before.counter), `key:${before.counter}, written before the hop, is there after it`);
        assert.equal(kubectl(`get pod redis-${id} -o jsonpath={.spec.nodeName}`).trim(), to);
        assert.deepEqual(kubectl("get pods -o name").trim().split("\n"), [`pod/redis-${id}`], "the source pod is retired");
        const [sum, mode] = vmOk(to, `sha256sum ${m.archives[0].archive} | cut -d' ' -f1; stat -c '%a %U' ${m.archives[0].archive}`).trim().split("\n");
        assert.equal(sum, m.archives[0].sha256);
        assert.equal(mode, "600 root");
        console.log(`      ${id} ${from} -> ${to}: pulumi up ${((Date.now() - t) / 1000).toFixed(0)} s; no progress ${m.noProgressSeconds} s; checkpoint ${m.seconds.checkpoint} s, transfer ${m.seconds.transfer} s, restore ${m.seconds.restore} s, cutover ${m.seconds.cutover} s; archive ${(m.archives[0].sizeBytes / 1048576).toFixed(1)} MB; counter ${before.counter} -> ${after.counter}, client id ${after.id}`);
    };

    it("moves the workload master -> worker (v1) by a stack config change: its counter never goes back, its connection is kept", () => {
        hop(0, "v1", "master", "worker", "redis");
    });

    it("and back worker -> master (v2)", () => {
        hop(1, "v2", "worker", "master", "redis-v1");
    });

    it("a later drop-in of the host's that turns restores off is caught before a checkpoint, naming the setting and the file", () => {
        vmOk("worker", "printf '[crio.runtime]\\nenable_criu_support = false\\n' >/etc/crio/crio.conf.d/99-host.conf && systemctl restart crio");
        const check = vm("worker", `set -euo pipefail\n${libraryText("node/programs/crio-switch.sh")}\nrequire_crio_restore target ${CRIO_SOCKET.replace("unix://", "")} ${CRIO_DROP_IN_PATH}`);
        assert.equal(check.status, 1);
        assert.match(check.stderr, /\(the hop's target\) does not restore containers: its running config has \[crio\.runtime\] enable_criu_support = false/);
        vmOk("worker", "rm /etc/crio/crio.conf.d/99-host.conf && systemctl restart crio");
    });

    it("checkpoints a TCP pair with the program's runc.conf on one host (the seed's error without it) and resumes it on the other", () => {
        for (const h of BOTH) {
            vmOk(h, "cat > /tmp/tcp-counter.py", fs.readFileSync(path.join(FIXTURE, "tcp-counter.py"), "utf8"));
            vmOk(h, "cat > /tmp/container.sh", fs.readFileSync(path.join(FIXTURE, "container.sh"), "utf8"));
        }
        vmOk("master", "bash /tmp/container.sh run");
        vmOk("master", "mv /etc/criu/runc.conf /etc/criu/runc.conf.off");
        assert.notEqual(vm("master", "bash /tmp/container.sh checkpoint").status, 0, "checkpoint without runc.conf succeeded");
        assert.ok(vmOk("master", "cat /var/lib/lab-workload/img/dump.log").includes(SEED_ERROR), "dump.log has the seed's exact error");
        vmOk("master", "mv /etc/criu/runc.conf.off /etc/criu/runc.conf");
        vmOk("master", "bash /tmp/container.sh checkpoint");
        const lastBeforeCheckpoint = Number(vmOk("master", "bash /tmp/container.sh counter"));
        const move = spawnSync("bash", ["-c", `bash ${VM} ssh ${HOSTS.master.vm} 'tar -C /var/lib/lab-workload -cf - img' | bash ${VM} ssh ${HOSTS.worker.vm} 'mkdir -p /var/lib/lab-workload && tar -C /var/lib/lab-workload -xf -'`], { encoding: "utf8", timeout: 300_000 });
        assert.equal(move.status, 0, move.stderr);
        vmOk("worker", "bash /tmp/container.sh restore");
        sleep(3000);
        const lines = vmOk("worker", "cat /var/lib/lab-workload/out.log").trim().split("\n").map(Number);
        assert.equal(lines[0], lastBeforeCheckpoint + 1, `restored counter starts at ${lines[0]}, the source stopped at ${lastBeforeCheckpoint}`);
        lines.forEach((n, i) => assert.equal(n, lines[0] + i, "and keeps counting one by one over the restored connection"));
        assert.ok(lines.length >= 2, `${lines.length} lines after the restore`);
        for (const h of BOTH) vmOk(h, "bash /tmp/container.sh clean");
    });

    it("previews no change, shows a hand edit on a host as drift, and repairs it", () => {
        run.ok(["preview", "--expect-no-changes", "--stack", "vms"], project);
        vmOk("worker", "echo '# edited by hand' > /etc/criu/runc.conf");
        const preview = run.ok(["preview", "--diff", "--stack", "vms"], project);
        assert.match(preview, /drifted: \/etc\/criu\/runc\.conf was changed on the node/);
        run.ok(["up", "--yes", "--stack", "vms"], project);
        run.ok(["preview", "--expect-no-changes", "--stack", "vms"], project);
    });

    it("destroy gives the hosts back: kubeadm reset, their own CRIU config, no drop-in, CRI-O running on as the host runs it", () => {
        run.ok(["destroy", "--yes", "--stack", "vms"], project);
        for (const h of BOTH) {
            assert.equal(vmOk(h, "cat /etc/criu/runc.conf"), hostCriu);
            assert.equal(vmOk(h, "stat -c %a /etc/criu/runc.conf").trim(), "640");
            assert.notEqual(vm(h, `test -e ${CRIO_DROP_IN_PATH}`).status, 0, "the drop-in is gone");
            assert.notEqual(vm(h, "test -e /etc/kubernetes/kubelet.conf").status, 0, "kubeadm reset ran");
            assert.equal(vmOk(h, "systemctl is-active crio").trim(), "active");
            assert.equal(vmOk(h, "test -e /etc/cni/net.d/11-crio-ipv4-bridge.conflist && echo kept").trim(), "kept", "the host's own CNI config stays");
        }
    });
});
