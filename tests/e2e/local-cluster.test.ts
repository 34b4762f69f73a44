// Kubernetes with CRI-O in the local lab, for real: `pulumi up` of the program's nodes and
// Kubernetes (components/lab.ts buildCluster, through tests/fixtures/cluster-stack) runs kubeadm init
// and join over CRI-O and a supervised kubelet per node, to a complete control plane (etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy, CoreDNS); a pod created by @pulumi/kubernetes holds an
// established TCP connection; the kubelet's checkpoint API fails with CRIU's TCP error without
// tcp-established in runc.conf and returns an archive with it; the archive becomes a checkpoint
// image on the other node (the program's transfer and image scripts) and a pod from it continues
// the count there. Needs root (CI runs as root).
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { createLocalLab, footprint, LocalLab } from "../harness/local-lab-helpers";
import { validateConfig } from "../../components/config/config";
import { refusesCgroupV1 } from "../../components/node/kubelet";
import { checkpointImageScript, checkpointScript, transferScript } from "../../components/node/scripts";
import { BUSYBOX_IMAGE } from "../../components/cluster/localCluster";
import { KUBELET_CLIENT_CERT, KUBELET_CLIENT_KEY } from "../../components/cluster/cluster";

const SEED_ERROR = "Error (criu/sk-inet.c:200): inet: Connected TCP socket, consider using --tcp-established option.";

describe("Kubernetes with CRI-O in the local lab (kubelet checkpoint API, real CRIU)", function () {
    this.timeout(3_600_000);
    let lab: LocalLab;
    let before0: ReturnType<typeof footprint>;
    const up = () => lab.run.ok(["up", "--yes", "--stack", "lab"], lab.project);
    const kubectl = (args: string) => lab.sshOk("master", `KUBECONFIG=/etc/kubernetes/admin.conf kubectl ${args}`);
    const counter = (pod: string) => {
        const lines = kubectl(`logs ${pod}`).trim().split("\n").map(Number).filter(n => Number.isInteger(n) && n > 0);
        return lines;
    };
    const waitFor = (what: string, check: () => boolean, seconds = 30) => {
        for (let i = 0; i < seconds * 2; i++) {
            if (check()) return;
            Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
        }
        assert.fail(`timed out after ${seconds}s waiting for ${what}`);
    };
    const checkpoint = () => lab.ssh("master", checkpointScript({
        kubeletAddress: lab.nodes.worker, namespace: "default", pod: "tcp-counter", containers: ["counter"],
        clientCert: KUBELET_CLIENT_CERT, clientKey: KUBELET_CLIENT_KEY, timeoutSeconds: 60,
    }));

    before(() => {
        before0 = footprint("lml-local-");
        lab = createLocalLab("10.231.98.0/24", { stack: "cluster", workloadNode: "worker" });
    });
    after(() => {
        if (!lab) return;
        lab.destroy();
        lab.dispose();
    });

    it("brings up master and worker as Ready Kubernetes nodes running CRI-O with the rendered drop-in", () => {
        up();
        const nodes = JSON.parse(kubectl("get nodes -o json")).items as { metadata: { name: string }; status: { conditions: { type: string; status: string }[]; nodeInfo: { containerRuntimeVersion: string; kubeletVersion: string } } }[];
        assert.deepEqual(nodes.map(n => n.metadata.name).sort(), ["master", "worker"]);
        for (const n of nodes) {
            assert.equal(n.status.conditions.find(c => c.type === "Ready")?.status, "True", `${n.metadata.name} Ready`);
            assert.equal(n.status.nodeInfo.containerRuntimeVersion, "cri-o://1.34.0");
            assert.equal(n.status.nodeInfo.kubeletVersion, `v${validateConfig({}, false).kubernetes.version}`, "the default Kubernetes");
        }
        for (const node of ["master", "worker"] as const) {
            // What the running CRI-O really uses, not what the file says.
            const effective = lab.sshOk(node, "crio status config");
            assert.match(effective, /^\s*enable_criu_support = true$/m);
            assert.match(effective, /^\s*cgroup_manager = "cgroupfs"$/m);
            assert.match(effective, /^\s*pause_image = "registry\.k8s\.io\/pause:3\.10\.1"$/m);
            // The kubelet kubeadm configured runs with the node's drop-in over kubeadm's config.
            const configz = JSON.parse(kubectl(`get --raw /api/v1/nodes/${node}/proxy/configz`)).kubeletconfig;
            assert.equal(configz.cgroupDriver, "cgroupfs");
            assert.match(configz.cgroupRoot, new RegExp(`^/lml[0-9a-f]{6}-${node}$`));
            assert.deepEqual(configz.clusterDNS, ["10.96.0.10"]);
            // From 1.35 a kubelet on a cgroup v1 host (these nodes share this host's) runs only with failCgroupV1: false.
            const v1 = !fs.existsSync("/sys/fs/cgroup/cgroup.controllers");
            if (v1 && refusesCgroupV1(validateConfig({}, false).kubernetes.version)) assert.equal(configz.failCgroupV1, false, "the drop-in's cgroup v1 variant is what runs");
        }
        // kubeadm's control plane as static pods, kube-proxy on every node and CoreDNS, all Running.
        const system = JSON.parse(kubectl("get pods -n kube-system -o json")).items as { metadata: { name: string }; spec: { nodeName: string }; status: { phase: string } }[];
        const running = system.filter(p => p.status.phase === "Running").map(p => `${p.metadata.name.replace(/-[a-z0-9]{5}$|-[a-z0-9]{8,10}-[a-z0-9]{5}$/, "")}@${p.spec.nodeName}`).sort();
        for (const want of ["etcd-master@master", "kube-apiserver-master@master", "kube-controller-manager-master@master", "kube-scheduler-master@master", "kube-proxy@master", "kube-proxy@worker"]) {
            assert.ok(running.includes(want), `${want} Running; kube-system has ${running.join(", ")}`);
        }
        assert.equal(running.filter(p => p.startsWith("coredns@")).length, 2, `two CoreDNS pods Running; kube-system has ${running.join(", ")}`);
        // A pod on the worker resolves the API server's service name through CoreDNS and reaches it
        // through kube-proxy (routes between the nodes' pod subnets).
        kubectl(`run dns-check --image=${BUSYBOX_IMAGE} --image-pull-policy=Never --restart=Never --overrides='{"spec":{"nodeName":"worker"}}' -- sh -c 'nslookup kubernetes.default.svc.cluster.local && wget -q -O- --no-check-certificate https://kubernetes.default/version'`);
        waitFor("the DNS check pod to finish", () => ["Succeeded", "Failed"].includes(kubectl("get pod dns-check -o jsonpath={.status.phase}").trim()), 60);
        const dns = kubectl("logs dns-check");
        kubectl("delete pod dns-check --now --wait=true");
        assert.match(dns, /Address:\s+10\.96\.0\.1\b/);
        assert.match(dns, new RegExp(`"gitVersion": "v${validateConfig({}, false).kubernetes.version.replace(/\./g, "\\.")}"`));
        // crictl is there for diagnostics and, through the managed /etc/crictl.yaml, talks to the
        // same CRI-O without flags or a warning about guessed endpoints.
        const crictl = lab.ssh("worker", "crictl pods --name tcp-counter -q");
        assert.equal(crictl.status, 0, String(crictl.stderr));
        assert.match(String(crictl.stdout), /^[0-9a-f]{20,}/);
        assert.doesNotMatch(String(crictl.stderr), /default|deprecated|WARN/i);
        // The kubeconfig output is a secret.
        assert.match(lab.run.ok(["stack", "output", "--stack", "lab"], lab.project), /kubeconfig\s+\[secret\]/);
    });

    it("runs the TCP workload pod made by @pulumi/kubernetes on the worker, counting", () => {
        assert.equal(kubectl("get pod tcp-counter -o jsonpath={.spec.nodeName}").trim(), "worker");
        waitFor("the counter to pass 3", () => counter("tcp-counter").length > 3);
    });

    it("runs a privileged, node-critical pod on the worker, fitted to what the node can grant", () => {
        // The kubelet asks oom_score_adj -997 for a system-node-critical pod and every capability
        // for a privileged one; on hosts without CAP_SYS_RESOURCE the runtime wrapper fits the spec.
        const pod = {
            apiVersion: "v1", kind: "Pod", metadata: { name: "critical", namespace: "kube-system" },
            spec: {
                nodeName: "worker", priorityClassName: "system-node-critical", restartPolicy: "Never",
                containers: [{ name: "c", image: BUSYBOX_IMAGE, imagePullPolicy: "Never", command: ["sleep", "3600"], securityContext: { privileged: true } }],
            },
        };
        lab.sshOk("master", `KUBECONFIG=/etc/kubernetes/admin.conf kubectl apply -f - <<'EOF'\n${JSON.stringify(pod)}\nEOF`);
        try {
            waitFor("the critical pod to run", () => kubectl("-n kube-system get pod critical -o jsonpath={.status.phase}").trim() === "Running", 60);
            const bounding = BigInt("0x" + lab.sshOk("worker", "awk '/^CapBnd/ {print $2}' /proc/self/status").trim());
            const inside = kubectl("-n kube-system exec critical -- cat /proc/self/oom_score_adj").trim();
            if (bounding >> 24n & 1n) {
                assert.equal(inside, "-997", "a node with CAP_SYS_RESOURCE gives the kubelet's value");
            } else {
                assert.equal(inside, "0");
                assert.match(lab.sshOk("worker", "cat /run/live-migration-lab/oci-spec-fit.log"), /the node cannot grant: .*CAP_SYS_RESOURCE.*oomScoreAdj -997 -> 0/);
            }
        } finally {
            kubectl("-n kube-system delete pod critical --now --wait=true");
        }
    });

    it("fails the kubelet checkpoint with CRIU's TCP error when runc.conf lacks tcp-established; the pod keeps running", () => {
        lab.sshOk("worker", "sed -i 's/^tcp-established$/# tcp-established (removed by the test)/' /etc/criu/runc.conf");
        try {
            const r = checkpoint();
            assert.notEqual(r.status, 0, "the checkpoint must fail");
            assert.ok(String(r.stderr).includes(SEED_ERROR), `CRIU's error reaches the caller:\n${r.stderr}`);
            assert.match(String(r.stderr), /HTTP 500/);
        } finally {
            lab.sshOk("worker", "sed -i 's/^# tcp-established (removed by the test)$/tcp-established/' /etc/criu/runc.conf");
        }
        const before = counter("tcp-counter").length;
        waitFor("the counter to move on", () => counter("tcp-counter").length > before + 2);
        assert.equal(kubectl("get pod tcp-counter -o jsonpath={.status.phase}").trim(), "Running");
    });

    let archive = "";
    let lastAtCheckpoint = 0;
    it("checkpoints it through the kubelet API with the program's runc.conf: a root-only archive, the pod still running", () => {
        const r = checkpoint();
        assert.equal(r.status, 0, String(r.stderr));
        archive = JSON.parse(String(r.stdout).trim()).archive;
        lastAtCheckpoint = counter("tcp-counter").pop()!;
        assert.match(archive, /^\/var\/lib\/kubelet\/checkpoints\/checkpoint-tcp-counter_default-counter-.*\.tar$/);
        assert.equal(lab.sshOk("worker", `stat -c '%a %U' ${archive}`).trim(), "600 root");
        waitFor("the source to keep counting", () => counter("tcp-counter").pop()! > lastAtCheckpoint + 2);
    });

    it("restores it on the master from a checkpoint image: the count continues where the archive left it", () => {
        const dir = "/var/lib/live-migration-lab/checkpoints";
        const moved = JSON.parse(lab.sshOk("master", transferScript({
            from: { host: lab.nodes.worker, port: 22, user: "root" }, source: { archive }, targetDir: dir, id: "k1", attempt: "first",
        }), fs.readFileSync(path.join(lab.state, "ssh", "id_ed25519"), "utf8")).trim());
        assert.equal(lab.sshOk("master", `sha256sum ${moved.archive}`).split(" ")[0], lab.sshOk("worker", `sha256sum ${archive}`).split(" ")[0]);
        const image = JSON.parse(lab.sshOk("master", checkpointImageScript({ archive: moved.archive, image: "localhost/checkpoint/tcp-counter:k1", container: "counter" })).trim());
        assert.equal(image.image, "localhost/checkpoint/tcp-counter:k1");

        lab.run.ok(["config", "set", "--path", "restore.node", "master", "--stack", "lab"], lab.project);
        lab.run.ok(["config", "set", "--path", "restore.image", image.image, "--stack", "lab"], lab.project);
        up();
        assert.equal(kubectl("get pod tcp-counter-restored -o jsonpath={.spec.nodeName}").trim(), "master");
        waitFor("the restored pod to count", () => counter("tcp-counter-restored").length > 3);
        // CRI-O carries the container's log in the archive: lines stamped before the restored
        // container started are the source's; the restored process must go on from the last of them.
        const started = Date.parse(kubectl("get pod tcp-counter-restored -o jsonpath={.status.containerStatuses[0].state.running.startedAt}").trim());
        const lines = kubectl("logs --timestamps tcp-counter-restored").trim().split("\n").map(l => {
            const [ts, n] = l.split(" ");
            return { at: Date.parse(ts), n: Number(n) };
        });
        const archived = lines.filter(l => l.at < started - 1000).map(l => l.n);
        const after = lines.filter(l => l.at >= started - 1000).map(l => l.n);
        assert.ok(archived.length > 0, "the archive brought the source's log along");
        const last = archived[archived.length - 1];
        assert.ok(last <= lastAtCheckpoint, `archived count ${last} was reached before the checkpoint call returned (${lastAtCheckpoint})`);
        assert.ok(after.length > 2, "the restored process counts");
        assert.equal(after[0], last + 1, `the restored process goes on at ${last + 1}, not from 1: ${after.join(",")}`);
        for (let i = 1; i < after.length; i++) assert.equal(after[i], after[i - 1] + 1, `one by one: ${after.join(",")}`);
    });

    it("leaves no network namespace, mount, process or cgroup behind after destroy", () => {
        lab.destroy();
        assert.deepEqual(footprint("lml-local-"), before0);
        lab.dispose();
        lab = undefined as unknown as LocalLab;
    });
});
