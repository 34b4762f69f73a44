// kubeadm's configs and scripts, the Vagrantfile, and the names transferred archives get.
import { strict as assert } from "assert";
import * as YAML from "yaml";
import { renderCheckpointRbac, renderKubeadmInitConfig, renderKubeadmInitScript, renderKubeadmJoinConfig, renderNodeInstallScript } from "../../components/cluster/kubeadm";
import { nodeAddress } from "../../components/drivers";
import { renderVagrantfile } from "../../components/drivers/vagrant";
import * as scripts from "../../components/node/scripts";

describe("vagrant and kubeadm", () => {
    it("numbers node addresses from .10 of the subnet", () => {
        assert.equal(nodeAddress("192.168.56.0/24", 0), "192.168.56.10");
        assert.equal(nodeAddress("10.231.0.0/24", 1), "10.231.0.11");
    });

    const vagrantfile = (provider: "libvirt" | "virtualbox") => renderVagrantfile({ provider, box: "debian/bookworm64", cpus: 2, memoryMb: 4096, nodes: [{ name: "master", address: "192.168.56.10" }, { name: "worker", address: "192.168.56.11" }] });
    it("renders a Vagrantfile with one VM per node", () => {
        const text = vagrantfile("libvirt");
        assert.match(text, /config\.vm\.provider :libvirt/);
        assert.match(text, /\["master", "192\.168\.56\.10"\]/);
        assert.match(text, /\["worker", "192\.168\.56\.11"\]/);
    });

    it("installs CRI-O and Kubernetes from their official repositories at the pinned versions", () => {
        const text = renderNodeInstallScript({ kubernetesVersion: "1.34.1", crioVersion: "1.34" });
        assert.match(text, /https:\/\/pkgs\.k8s\.io\/core:\/stable:\/v1\.34\/deb\//);
        assert.match(text, /https:\/\/download\.opensuse\.org\/repositories\/isv:\/cri-o:\/stable:\/v1\.34\/deb\//);
        assert.match(text, /^KUBERNETES_VERSION='1\.34\.1'$/m);
        assert.match(text, /"kubelet=\$\{KUBERNETES_VERSION\}-\*"/);
        assert.match(text, /criu/);
    });

    it("grants the API server's kubelet client the checkpoint API, which kubeadm 1.37's role for it lacks (applied after kubeadm init)", () => {
        const [role, binding] = YAML.parseAllDocuments(renderCheckpointRbac()).map(d => d.toJS());
        assert.deepEqual(role.rules, [{ apiGroups: [""], resources: ["nodes/checkpoint"], verbs: ["create"] }]);
        assert.deepEqual(binding.subjects, [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "kube-apiserver-kubelet-client" }]);
        assert.equal(binding.roleRef.name, role.metadata.name);
        assert.match(renderKubeadmInitScript("/etc/live-migration-lab/kubeadm.yaml"), /kubectl --kubeconfig "\$ADMIN_KUBECONFIG" apply -f -/);
    });

    it("renders kubeadm config documents that parse, with CRI-O as the runtime and the lab's kubelet drop-in directory", () => {
        const facts = { cgroupDriver: "systemd" as const, imagePullPolicy: "IfNotPresent" as const, ignorePreflightErrors: [] };
        const docs = YAML.parseAllDocuments(renderKubeadmInitConfig({ kubernetesVersion: "1.34.1", master: { name: "master", address: "192.168.56.10" }, facts })).map(d => d.toJS());
        assert.deepEqual(docs.map(d => d.kind), ["InitConfiguration", "ClusterConfiguration", "KubeletConfiguration", "KubeProxyConfiguration"]);
        assert.equal(docs[0].nodeRegistration.criSocket, "unix:///var/run/crio/crio.sock");
        assert.deepEqual(docs[0].nodeRegistration.kubeletExtraArgs, [{ name: "node-ip", value: "192.168.56.10" }, { name: "config-dir", value: "/etc/kubernetes/kubelet.conf.d" }]);
        assert.equal(docs[0].nodeRegistration.ignorePreflightErrors, undefined);
        assert.equal(docs[1].kubernetesVersion, "v1.34.1");
        assert.equal(docs[2].cgroupDriver, "systemd");
        const join = YAML.parse(renderKubeadmJoinConfig({ node: { name: "worker", address: "192.168.56.11" }, facts: { ...facts, ignorePreflightErrors: ["Swap"] } }));
        assert.equal(join.kind, "JoinConfiguration");
        assert.deepEqual(join.nodeRegistration.ignorePreflightErrors, ["Swap"]);
        assert.equal(join.discovery.bootstrapToken.token, "@BOOTSTRAP_TOKEN@");
        // kubeadm waits longer than its defaults on both, so slow hosts finish instead of stopping half-way.
        for (const t of [docs[0].timeouts, join.timeouts]) assert.deepEqual(t, { controlPlaneComponentHealthCheck: "10m0s", kubeletHealthCheck: "10m0s", kubernetesAPICall: "5m0s", etcdAPICall: "5m0s", tlsBootstrap: "10m0s", discovery: "10m0s" });
    });
});

describe("transferred archive names", () => {
    it("give a retried hop an archive of its own, so a pod left waiting by a failed attempt never takes it", () => {
        assert.equal(scripts.transferredArchive({ targetDir: "/a", id: "m2", attempt: "first" }), "/a/m2.tar");
        assert.equal(scripts.transferredArchive({ targetDir: "/a", id: "m2", attempt: "retry ef7afd83fae8" }), "/a/m2-ef7afd83fae8.tar");
    });
});
