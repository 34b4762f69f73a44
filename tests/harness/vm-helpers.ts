// For the VM suite: what its golden hosts get from their packages, and a look inside a restored copy
// on a VM while a hop's update runs, for its failure messages: under emulation a copy that makes no
// progress is stopped by its cutover (as designed) long before anyone could look at it, so a watcher
// takes its picture while it runs.
import { spawn } from "child_process";
import * as fs from "fs";
import { FENCES_DIR, STATS_DIR } from "../../components/migration/cutover";
import { libraryText, q } from "../../components/node/program";

/**
 * A shell program for the host: what the restored copy of `pod` is doing, as the node sees it. Each
 * process of its pid namespace (state, pending and blocked signals, wchan, syscall, kernel stack),
 * its cgroup's freezer, the TCP sockets of its network namespace with their queues and timers, the
 * firewall there, Redis' own view of its clients, the fence's log and CRIU's restore.log.
 */
export const restoredDiagnosis = (pod: string) => `set +e
${libraryText("node/programs/pidns.sh")}
cid=$(crictl ps -q --label io.kubernetes.pod.name=${pod} | head -n1); pid=$(crictl inspect -o go-template --template '{{.info.pid}}' "$cid")
echo "== containers"; crictl ps -a --label io.kubernetes.pod.name=${pod}
echo "== uptime $(cat /proc/uptime)"
for m in $(members "$(readlink "/proc/$pid/ns/pid")"); do
  p=/proc/$m
  echo "== process $m: $(tr '\\0' ' ' <"$p/cmdline" | cut -c1-100)"
  grep -E '^(State|SigPnd|ShdPnd|SigBlk|SigIgn|SigCgt)' "$p/status" | tr '\\n' ' '; echo
  echo "wchan $(cat "$p/wchan"); syscall $(cut -d' ' -f1-4 "$p/syscall")"; cat "$p/stack"
done
cg=/sys/fs/cgroup$(awk -F: '$1 == "0" { print $3 }' "/proc/$pid/cgroup")
echo "== cgroup $cg: $(tr '\\n' ' ' <"$cg/cgroup.events") freeze=$(cat "$cg/cgroup.freeze")"
echo "== sockets"; nsenter -t "$pid" -n ss -tanpieom
echo "== firewall"; nsenter -t "$pid" -n nft list ruleset 2>&1 | head -n 40
echo "== CLIENT LIST"; nsenter -t "$pid" -n timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/6379; printf "CLIENT LIST\\r\\nQUIT\\r\\n" >&3; cat <&3'
echo "== fence"; tail -n 20 ${FENCES_DIR}/*.log
echo "== restore.log"; tail -n 40 ${STATS_DIR}/"$cid"*.restore.log
`;

/**
 * In the background: once the restored copy's redis-server runs on the host `ssh` reaches (a command
 * prefix), waits `after` seconds (its verify is under way) and writes restoredDiagnosis to `file`.
 * Returns a function that stops the watch and gives what was written.
 */
export function watchRestored(ssh: string, pod: string, file: string, after = 40): () => string {
    fs.writeFileSync(`${file}.sh`, restoredDiagnosis(pod));
    const script = `for i in $(seq 1 900); do if ${ssh} "pgrep -f '[r]edis-server 127.0.0.1'" >/dev/null; then sleep ${after}; ${ssh} bash -s <${q(`${file}.sh`)} >${q(file)} 2>&1; exit 0; fi; sleep 2; done`;
    const child = spawn("bash", ["-c", script], { stdio: "ignore", detached: true });
    child.unref();
    return () => {
        try { process.kill(-child.pid!, "SIGKILL"); } catch { /* ended */ }
        return fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "(the restored copy never ran on the target, or too briefly to look at)";
    };
}

/**
 * What the CRI-O and Kubernetes packages install on a golden host (VM `index` of the suite): their
 * systemd units, kubeadm's kubelet drop-in, a CNI bridge of its own subnet, the kernel settings.
 */
export const goldenHostFiles = (index: number): Record<string, string> => ({
    "/etc/systemd/system/crio.service": `[Unit]
Description=Container Runtime Interface for OCI (CRI-O), the host's own unit
After=network-online.target
[Service]
Type=notify
Environment=PATH=/opt/lab/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ExecStart=/opt/lab/bin/crio
Restart=on-failure
[Install]
WantedBy=multi-user.target
`,
    "/etc/crio/crio.conf.d/00-host.conf": `# the host's own: Debian's CNI plugins\n[crio.network]\nplugin_dirs = ["/usr/lib/cni"]\n`,
    "/etc/cni/net.d/11-crio-ipv4-bridge.conflist": JSON.stringify({
        cniVersion: "1.0.0", name: "crio",
        plugins: [{ type: "bridge", bridge: "cni0", isGateway: true, ipMasq: true, hairpinMode: true,
            ipam: { type: "host-local", routes: [{ dst: "0.0.0.0/0" }], ranges: [[{ subnet: `10.85.${index + 1}.0/24` }]] } }],
    }, null, 2),
    "/etc/systemd/system/kubelet.service": `[Unit]
Description=kubelet: The Kubernetes Node Agent
Wants=network-online.target
After=network-online.target
[Service]
ExecStart=/opt/lab/bin/kubelet
Restart=always
StartLimitInterval=0
RestartSec=10
[Install]
WantedBy=multi-user.target
`,
    "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf": `[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/opt/lab/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
`,
    "/etc/modules-load.d/k8s.conf": "overlay\nbr_netfilter\n",
    "/etc/sysctl.d/90-k8s.conf": "net.ipv4.ip_forward = 1\nnet.bridge.bridge-nf-call-iptables = 1\n",
});
