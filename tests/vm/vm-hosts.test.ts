// The program on hosts of the kind users have: cgroup v2 only and systemd as PID 1, here two QEMU
// VMs under software emulation (scripts/vm.sh; Debian sid, its kernel, CRIU and runc; CRI-O and
// Kubernetes from scripts/k8s-build.sh, mounted read-only). Prepared as someone's golden hosts would
// be: CRI-O on the PATH and run by a systemd unit of the host's, the host's own CRIU config. The
// stack says driver existing, install present, services systemd, and no Kubernetes yet (kubeadm
// under TCG is the next step: see the README's versions table). `pulumi up` writes the runtime files
// and systemd restarts CRI-O with them; CRI-O's restore switch is the one its binary reads; a TCP
// pair checkpointed on one VM with the program's runc.conf resumes on the other; drift review and
// destroy give the hosts back as they were. Needs root and about 10 minutes (npm run test:vm).
import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { k8sBinaries } from "../harness/local-lab-helpers";
import { projectCopy, pulumiRunner, requireEngine, ROOT } from "../harness/engine-helpers";
import { libraryText } from "../../components/node/program";
import { CRIO_DROP_IN_PATH, CRIO_SOCKET } from "../../components/node/crio";

const VM = path.join(ROOT, "scripts", "vm.sh");
const HOSTS = { master: { vm: "lml-vm-master", port: 2291 }, worker: { vm: "lml-vm-worker", port: 2292 } } as const;
type Host = keyof typeof HOSTS;
const FIXTURE = path.join(ROOT, "tests", "fixtures", "tcp-workload");
const SEED_ERROR = "Connected TCP socket, consider using --tcp-established option";

/** CRI-O as a package would install it: its unit, and the host's own config beside the program's drop-in. */
const CRIO_UNIT = `[Unit]
Description=Container Runtime Interface for OCI (CRI-O), the host's own unit
After=network-online.target
[Service]
Type=notify
Environment=PATH=/opt/lab/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ExecStart=/opt/lab/bin/crio
Restart=on-failure
[Install]
WantedBy=multi-user.target
`;

describe("the program on cgroup v2 + systemd hosts (two QEMU VMs, driver existing, services systemd)", function () {
    this.timeout(3_600_000);
    let work: string;
    let project: string;
    let run: ReturnType<typeof pulumiRunner>;
    let key: string;
    const vm = (host: Host, command: string, input?: string) => spawnSync("bash", [VM, "ssh", HOSTS[host].vm, command], { input, encoding: "utf8", timeout: 600_000 });
    const vmOk = (host: Host, command: string, input?: string) => {
        const r = vm(host, command, input);
        assert.equal(r.status, 0, `on ${host}: ${command}\n${r.stdout}${r.stderr}`);
        return r.stdout;
    };
    const crioInvocation = (host: Host) => vmOk(host, "systemctl show -p InvocationID --value crio").trim();
    const hostCriu = "# the host owner's\ntcp-close\n";

    before(() => {
        if (process.getuid?.() !== 0) assert.fail("the VMs' images are built with debootstrap, which needs root; CI runs as root");
        requireEngine();
        const bins = k8sBinaries();
        for (const h of ["master", "worker"] as const) {
            const up = JSON.parse(execFileSync("bash", [VM, "up", HOSTS[h].vm, String(HOSTS[h].port), bins], { encoding: "utf8", timeout: 1_800_000 }).trim());
            key = up.key;
            vmOk(h, "cat >/etc/systemd/system/crio.service && systemctl daemon-reload && systemctl enable -q --now crio", CRIO_UNIT);
            vmOk(h, "install -d /etc/criu && cat >/etc/criu/runc.conf && chmod 0640 /etc/criu/runc.conf", hostCriu);
        }
        work = fs.mkdtempSync(path.join(os.tmpdir(), "lml-vm-"));
        run = pulumiRunner(work, undefined, { PATH: `${bins}:${process.env.PATH}` });
        project = projectCopy(work);
        run.ok(["stack", "init", "vms"], project);
        const config = {
            driver: "existing",
            nodes: (["master", "worker"] as const).map(h => ({ name: h, role: h, address: "127.0.0.1", sshPort: HOSTS[h].port })),
            existing: { install: "present", services: "systemd" },
            kubernetes: { enabled: false },
        };
        const file = path.join(project, "Pulumi.vms.yaml");
        const doc = YAML.parse(fs.readFileSync(file, "utf8")) ?? {};
        doc.config = { ...doc.config, ...Object.fromEntries(Object.entries(config).map(([k, v]) => [`live-migration-lab:${k}`, v])) };
        fs.writeFileSync(file, YAML.stringify(doc));
        run.ok(["config", "set", "--secret", "live-migration-lab:sshPrivateKey", "--stack", "vms"], project, fs.readFileSync(key, "utf8"));
    });
    after(() => {
        if (work) run?.pulumi(["destroy", "--yes", "--stack", "vms"], project);
        for (const h of ["master", "worker"] as const) spawnSync("bash", [VM, "down", HOSTS[h].vm]);
        if (work) fs.rmSync(work, { recursive: true, force: true });
    });

    let crioBefore: Record<Host, string>;
    it("are hosts of the kind users have: systemd as PID 1, cgroup v2 only, CRI-O run by systemd", () => {
        crioBefore = { master: crioInvocation("master"), worker: crioInvocation("worker") };
        for (const h of ["master", "worker"] as const) {
            assert.equal(vmOk(h, "cat /proc/1/comm").trim(), "systemd");
            assert.equal(vmOk(h, "stat -fc %T /sys/fs/cgroup").trim(), "cgroup2fs");
            assert.equal(vmOk(h, "systemctl is-active crio").trim(), "active");
        }
    });

    it("pulumi up writes the runtime files, and systemd restarts CRI-O with the restore switch its binary reads", () => {
        const out = run.ok(["up", "--yes", "--stack", "vms"], project);
        assert.doesNotMatch(out, /error:/);
        const outputs = JSON.parse(run.ok(["stack", "output", "--json", "--stack", "vms"], project));
        for (const h of ["master", "worker"] as const) {
            assert.equal(outputs.criu[h].cgroup, "v2", "the node check reports cgroup v2");
            assert.equal(outputs.criu[h].check, "ok");
            assert.notEqual(crioInvocation(h), crioBefore[h], "systemd restarted CRI-O after its drop-in was written");
            assert.equal(vmOk(h, "systemctl is-active crio").trim(), "active");
            const dropIn = vmOk(h, `cat ${CRIO_DROP_IN_PATH}`);
            // CRI-O v1.34.0 predates [crio.checkpoint_restore]: its one switch, as its `crio config` says.
            assert.match(dropIn, /^enable_criu_support = true$/m);
            assert.doesNotMatch(dropIn, /container_level_enabled/);
            // What the running CRI-O uses: its config from its socket, as every hop's preflight reads it.
            assert.match(vmOk(h, "crio status config"), /^\s*enable_criu_support = true$/m);
            const check = vm(h, `set -euo pipefail\n${libraryText("node/programs/crio-switch.sh")}\nrequire_crio_restore target ${CRIO_SOCKET.replace("unix://", "")} ${CRIO_DROP_IN_PATH}`);
            assert.equal(check.status, 0, check.stderr);
            assert.deepEqual(vmOk(h, "grep -v '^#' /etc/criu/runc.conf").trim().split("\n"), ["tcp-established", "skip-in-flight"]);
        }
        assert.deepEqual(outputs.warnings, [], "nothing to warn of on cgroup v2 hosts");
    });

    it("a later drop-in of the host's that turns restores off is caught before a checkpoint, naming the setting and the file", () => {
        vmOk("worker", "printf '[crio.runtime]\\nenable_criu_support = false\\n' >/etc/crio/crio.conf.d/99-host.conf && systemctl restart crio");
        const check = vm("worker", `set -euo pipefail\n${libraryText("node/programs/crio-switch.sh")}\nrequire_crio_restore target ${CRIO_SOCKET.replace("unix://", "")} ${CRIO_DROP_IN_PATH}`);
        assert.equal(check.status, 1);
        assert.match(check.stderr, /\(the hop's target\) does not restore containers: its running config has \[crio\.runtime\] enable_criu_support = false/);
        vmOk("worker", "rm /etc/crio/crio.conf.d/99-host.conf && systemctl restart crio");
    });

    let lastBeforeCheckpoint = 0;
    it("checkpoints a TCP pair with the program's runc.conf on one host (the seed's error without it) and resumes it on the other", () => {
        for (const h of ["master", "worker"] as const) {
            vmOk(h, "cat > /tmp/tcp-counter.py", fs.readFileSync(path.join(FIXTURE, "tcp-counter.py"), "utf8"));
            vmOk(h, "cat > /tmp/container.sh", fs.readFileSync(path.join(FIXTURE, "container.sh"), "utf8"));
        }
        vmOk("master", "bash /tmp/container.sh run");
        vmOk("master", "mv /etc/criu/runc.conf /etc/criu/runc.conf.off");
        assert.notEqual(vm("master", "bash /tmp/container.sh checkpoint").status, 0, "checkpoint without runc.conf succeeded");
        assert.ok(vmOk("master", "cat /var/lib/lab-workload/img/dump.log").includes(SEED_ERROR), "dump.log has the seed's exact error");
        vmOk("master", "mv /etc/criu/runc.conf.off /etc/criu/runc.conf");
        vmOk("master", "bash /tmp/container.sh checkpoint");
        lastBeforeCheckpoint = Number(vmOk("master", "bash /tmp/container.sh counter"));
        // The image from one VM to the other, through this host (each VM's SSH is on its loopback port).
        const move = spawnSync("bash", ["-c", `bash ${VM} ssh ${HOSTS.master.vm} 'tar -C /var/lib/lab-workload -cf - img' | bash ${VM} ssh ${HOSTS.worker.vm} 'mkdir -p /var/lib/lab-workload && tar -C /var/lib/lab-workload -xf -'`], { encoding: "utf8", timeout: 300_000 });
        assert.equal(move.status, 0, move.stderr);
        vmOk("worker", "bash /tmp/container.sh restore");
        execFileSync("sleep", ["3"]);
        const lines = vmOk("worker", "cat /var/lib/lab-workload/out.log").trim().split("\n").map(Number);
        assert.equal(lines[0], lastBeforeCheckpoint + 1, `restored counter starts at ${lines[0]}, the source stopped at ${lastBeforeCheckpoint}`);
        lines.forEach((n, i) => assert.equal(n, lines[0] + i, "and keeps counting one by one over the restored connection"));
        assert.ok(lines.length >= 2, `${lines.length} lines after the restore`);
        for (const h of ["master", "worker"] as const) vmOk(h, "bash /tmp/container.sh clean");
    });

    it("previews no change, shows a hand edit on a host as drift, and repairs it", () => {
        run.ok(["preview", "--expect-no-changes", "--stack", "vms"], project);
        vmOk("worker", "echo '# edited by hand' > /etc/criu/runc.conf");
        const preview = run.ok(["preview", "--diff", "--stack", "vms"], project);
        assert.match(preview, /drifted: \/etc\/criu\/runc\.conf was changed on the node/);
        run.ok(["up", "--yes", "--stack", "vms"], project);
        run.ok(["preview", "--expect-no-changes", "--stack", "vms"], project);
    });

    it("destroy gives the hosts back: their own CRIU config, no drop-in, CRI-O running on as the host runs it", () => {
        run.ok(["destroy", "--yes", "--stack", "vms"], project);
        for (const h of ["master", "worker"] as const) {
            assert.equal(vmOk(h, "cat /etc/criu/runc.conf"), hostCriu);
            assert.equal(vmOk(h, "stat -c %a /etc/criu/runc.conf").trim(), "640");
            assert.notEqual(vm(h, `test -e ${CRIO_DROP_IN_PATH}`).status, 0, "the drop-in is gone");
            assert.equal(vmOk(h, "systemctl is-active crio").trim(), "active");
        }
    });
});
