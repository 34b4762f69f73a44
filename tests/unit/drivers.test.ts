// The node drivers' decisions, as data: what each driver answers for the same lab.
import { strict as assert } from "assert";
import * as fs from "fs";
import { standInNetns, StandInNetns } from "../harness/stand-in-netns";
import { outsideLocalLab } from "../../components/drivers/local";
import { validateConfig } from "../../components/config/config";
import { desiredLab } from "../../components/desired";

const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
const nodes = (addresses: boolean) => [
    { name: "cp", role: "master", ...(addresses ? { address: "192.0.2.10" } : {}) },
    { name: "w1", role: "worker", ...(addresses ? { address: "192.0.2.27" } : {}) },
];

describe("node drivers", () => {
    const cases = [
        {
            driver: "local", raw: { driver: "local", nodes: nodes(false), local: { subnet: "10.231.5.0/24" } },
            addresses: ["10.231.5.10", "10.231.5.11"], cgroupDriver: "cgroupfs", install: false, flinkImage: "build",
            master: ["runc-conf", "oci-runtime", "crio-drop-in", "crictl-config", "kubelet-config", "kubeadm-config", "cni-config", "storage-conf"],
            worker: ["runc-conf", "oci-runtime", "crio-drop-in", "crictl-config", "kubelet-config", "kubeadm-join-config", "cni-config", "storage-conf"],
        },
        {
            driver: "vagrant", raw: { driver: "vagrant", nodes: nodes(false), vagrant: { subnet: "192.168.56.0/24" } },
            addresses: ["192.168.56.10", "192.168.56.11"], cgroupDriver: "systemd", install: true, flinkImage: "pull",
            master: ["runc-conf", "oci-runtime", "crio-drop-in", "crictl-config", "kubelet-config", "kubeadm-config"],
            worker: ["runc-conf", "oci-runtime", "crio-drop-in", "crictl-config", "kubelet-config", "kubeadm-join-config"],
        },
        {
            driver: "existing", raw: { driver: "existing", nodes: nodes(true), sshPrivateKey: KEY },
            addresses: ["192.0.2.10", "192.0.2.27"], cgroupDriver: "systemd", install: true, flinkImage: "pull",
            master: ["runc-conf", "oci-runtime", "crio-drop-in", "crictl-config", "kubelet-config", "kubeadm-config"],
            worker: ["runc-conf", "oci-runtime", "crio-drop-in", "crictl-config", "kubelet-config", "kubeadm-join-config"],
        },
    ];
    for (const t of cases) {
        it(`${t.driver}: addresses, runtime facts, managed files and image source`, () => {
            const d = desiredLab(validateConfig(t.raw, true));
            assert.equal(d.driver.name, t.driver);
            assert.deepEqual(d.nodes.map(n => n.address), t.addresses);
            assert.equal(d.driver.runtime.cgroupDriver, t.cgroupDriver);
            assert.equal(d.driver.install !== undefined, t.install);
            assert.equal(d.driver.flinkImage, t.flinkImage);
            assert.deepEqual(d.nodes[0].files.map(f => f.role), t.master);
            assert.deepEqual(d.nodes[1].files.map(f => f.role), t.worker);
        });
    }

    it("existing hosts with binaries present and no systemd: cgroupfs, kubeadm's images built there, the node's own kubelet settings in its drop-in", () => {
        const raw = { driver: "existing", nodes: nodes(true).map((n, i) => ({ ...n, kubelet: { cgroupRoot: `/r${i}` } })), sshPrivateKey: KEY,
            existing: { install: "present", services: "supervised", images: "build" },
            kubernetes: { ignorePreflightErrors: ["HTTPProxyCIDR"], kubeProxy: { conntrack: { maxPerCore: 0 }, mode: "iptables" } } };
        const d = desiredLab(validateConfig(raw, true));
        assert.equal(d.driver.runtime.cgroupDriver, "cgroupfs");
        assert.equal(d.driver.flinkImage, "build");
        assert.match(d.driver.install!, /cluster\/programs\/present-check\.sh/);
        assert.match(d.driver.install!, /^COMMANDS='kubeadm kubelet kubectl crio crictl conmon criu ssh buildah'$/m);
        const file = (i: number, role: string) => d.nodes[i].files.find(f => f.role === role)!.content;
        assert.match(file(0, "crio-drop-in"), /cgroup_manager = "cgroupfs"/);
        assert.match(file(0, "crio-drop-in"), /pause_image = "registry\.k8s\.io\/pause:3\.10\.1"/);
        assert.match(file(0, "kubelet-config"), /^cgroupRoot: \/r0$/m);
        assert.match(file(1, "kubelet-config"), /^cgroupRoot: \/r1$/m);
        assert.match(file(0, "kubeadm-config"), /imagePullPolicy: Never/);
        assert.match(file(1, "kubeadm-join-config"), /- HTTPProxyCIDR/);
        assert.match(file(0, "kubeadm-config"), /kind: KubeProxyConfiguration\nconntrack:\n {2}maxPerCore: 0\nmode: iptables\n/);
        assert.deepEqual(d.driver.cluster, { services: "supervised", buildImages: validateConfig(raw, true).kubernetes.version });
    });

    it("existing systemd hosts without a registry (images build): kubeadm's images built there too, and systemd runs the services", () => {
        const raw = { driver: "existing", nodes: nodes(true), sshPrivateKey: KEY, existing: { install: "present", services: "systemd", images: "build" } };
        const c = validateConfig(raw, true);
        const d = desiredLab(c);
        assert.deepEqual(d.driver.cluster, { services: "systemd", buildImages: c.kubernetes.version });
        assert.equal(d.driver.runtime.cgroupDriver, "systemd");
        assert.doesNotMatch(d.nodes[0].files.find(f => f.role === "crio-drop-in")!.content, /cgroup_manager/);
        const pulled = desiredLab(validateConfig({ ...raw, existing: { install: "present", services: "systemd", images: "pull" } }, true));
        assert.deepEqual(pulled.driver.cluster, { services: "systemd", buildImages: undefined });
    });

    it("local without Kubernetes: only the checkpoint/restore files, no cluster extras in CRI-O or the kubelet", () => {
        const d = desiredLab(validateConfig({ kubernetes: { enabled: false } }, false));
        assert.deepEqual(d.nodes[0].files.map(f => f.role), ["runc-conf", "oci-runtime", "crio-drop-in", "crictl-config"]);
        assert.equal(d.driver.runtime.crioSettings, undefined);
        assert.doesNotMatch(d.nodes[0].files[2].content, /pause_image/);
    });

    it("plans the migrations once, in validation, and probes each hop's abort log on its source only", () => {
        const c = validateConfig({ migrations: [{ id: "m1", to: "master" }, { id: "m2", to: "worker" }] }, false);
        assert.deepEqual(c.plan.hops.map(h => `${h.id}:${h.from}->${h.to}`), ["m1:worker->master", "m2:master->worker"]);
        const d = desiredLab(c);
        assert.equal(d.plan, c.plan, "the desired lab reads the validated plan, it does not plan again");
        const logs = (i: number) => d.nodes[i].probePaths.filter(p => p.endsWith("/aborted"));
        assert.deepEqual(logs(0), ["/var/lib/live-migration-lab/migrations/m2/aborted"], "master is m2's source");
        assert.deepEqual(logs(1), ["/var/lib/live-migration-lab/migrations/m1/aborted"], "worker is m1's source");
    });
});

describe("the local driver: where the engine runs", () => {
    const state = "/var/lib/live-migration-lab-unit";
    let netns: StandInNetns;
    before(() => { netns = standInNetns(state); });
    after(() => netns.remove());

    it("inside the lab's network namespace: previews and updates run", () => {
        netns.at(true);
        assert.equal(outsideLocalLab(state, true, true, netns), undefined);
        assert.equal(outsideLocalLab(state, false, true, netns), undefined);
    });

    it("outside it: a preview of a lab never brought up plans; an update, or a preview of a lab that is up, says in one line what to run", () => {
        netns.at(false);
        assert.equal(outsideLocalLab(state, true, false, netns), undefined);
        const up = outsideLocalLab(state, false, false, netns)!;
        assert.match(up, /^driver local: run this through scripts\/lab\.sh \(sudo scripts\/lab\.sh up\): .* network namespace lml[0-9a-f]{6}-lab, the only place its nodes answer; this pulumi runs outside it$/);
        assert.ok(!up.includes("\n"));
        assert.match(outsideLocalLab(state, true, true, netns)!, /\(sudo scripts\/lab\.sh preview\)/);
        // No namespace of that name at all (the lab was never brought up): outside.
        fs.rmSync(netns.file);
        assert.match(outsideLocalLab(state, false, false, netns)!, /sudo scripts\/lab\.sh up/);
    });
});
