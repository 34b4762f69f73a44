// Lab nodes from one of three drivers. Every driver hands the same NodeHandle to the rest.
import * as crypto from "crypto";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import type { LabConfig } from "./config";
import { KeySource, NodeHandle } from "./command";
import { nodeAddress, renderVagrantfile } from "./kubeadm";
import { q } from "./scripts";

export interface LabNodesArgs {
    readonly config: LabConfig;
    /** The sshPrivateKey config value as a secret output (undefined when not set). */
    readonly sshPrivateKey?: pulumi.Output<string>;
    /** Working directory for files the drivers keep on the machine running Pulumi. */
    readonly workDir: string;
}

/** Where the repository's helper scripts live (the local driver runs them on this host). */
export const SCRIPTS_DIR = path.resolve(__dirname, "..", "scripts");

/** A local node's cgroup root, as scripts/local-node.sh names it (`cgroup-root`). */
export function localCgroupRoot(stateDir: string, node: string): string {
    return `/lml${crypto.createHash("sha256").update(stateDir).digest("hex").slice(0, 6)}-${node}`;
}

export class LabNodes extends pulumi.ComponentResource {
    /** One handle per configured node, in config order. */
    public readonly nodes: NodeHandle[];

    constructor(name: string, args: LabNodesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("lab:nodes:LabNodes", name, {}, opts);
        const c = args.config;
        switch (c.driver) {
            case "existing": {
                if (!args.sshPrivateKey) throw new pulumi.ResourceError("driver existing needs sshPrivateKey", this);
                const keySource: KeySource = c.sshPrivateKey === "secret" ? "secret-config" : "plain-config";
                const privateKey = pulumi.secret(args.sshPrivateKey);
                this.nodes = c.nodes.map(n => ({
                    name: n.name, role: n.role, address: n.address!, user: n.sshUser, port: n.sshPort, keySource, privateKey,
                    connection: { host: n.address!, port: n.sshPort, user: n.sshUser, privateKey },
                }));
                break;
            }
            case "vagrant": {
                const dir = path.join(args.workDir, "vagrant");
                const machines = c.nodes.map((n, i) => ({ name: n.name, address: nodeAddress(c.vagrant.subnet, i) }));
                const vagrantfile = renderVagrantfile({ ...c.vagrant, nodes: machines });
                const up = new command.local.Command(`${name}-vagrant`, {
                    dir: args.workDir,
                    create: `set -euo pipefail; mkdir -p ${q(dir)}; cat >${q(dir)}/Vagrantfile; cd ${q(dir)}; vagrant up --provider ${c.vagrant.provider}`,
                    update: `set -euo pipefail; cat >${q(dir)}/Vagrantfile; cd ${q(dir)}; vagrant up --provider ${c.vagrant.provider} --provision`,
                    delete: `set -euo pipefail; cd ${q(dir)} && vagrant destroy -f`,
                    stdin: vagrantfile,
                }, { parent: this, customTimeouts: { create: "60m", update: "60m", delete: "20m" } });
                // Vagrant made a key per machine; read it back as a secret.
                const keys = machines.map(m => new command.local.Command(`${name}-${m.name}-key`, {
                    create: `set -euo pipefail; cd ${q(dir)}; cat "$(vagrant ssh-config ${q(m.name)} | awk '$1 == "IdentityFile" { print $2 }')"`,
                    logging: "none",
                }, { parent: this, dependsOn: [up], additionalSecretOutputs: ["stdout"] }));
                this.nodes = c.nodes.map((n, i) => ({
                    name: n.name, role: n.role, address: machines[i].address, user: "vagrant", port: 22, keySource: "driver",
                    privateKey: keys[i].stdout,
                    connection: { host: machines[i].address, port: 22, user: "vagrant", privateKey: keys[i].stdout },
                }));
                break;
            }
            case "local": {
                // Namespace sandboxes on this host, made by scripts/local-node.sh. The key is made
                // once per lab in the state directory and read back as a secret.
                const stateDir = c.local.stateDir;
                const script = q(path.join(SCRIPTS_DIR, "local-node.sh"));
                // The lab network namespace and its bridge. scripts/lab.sh makes them first (it runs
                // pulumi inside them); this resource owns them, so destroy removes them too.
                const network = new command.local.Command(`${name}-network`, {
                    create: `bash ${script} lab-up ${q(c.local.subnet)} ${q(stateDir)}`,
                    delete: `bash ${script} lab-down ${q(stateDir)}`,
                }, { parent: this });
                const key = new command.local.Command(`${name}-key`, {
                    create: `bash ${script} key ${q(stateDir)}`,
                    logging: "none",
                }, { parent: this, dependsOn: [network], additionalSecretOutputs: ["stdout"] });
                const privateKey = key.stdout;
                // With Kubernetes, nodes get the binaries scripts/k8s-build.sh made (scripts/lab.sh
                // builds them in the host's network namespace, where the Go module proxy is reachable).
                // They also see the inputs of the Flink image (scripts/flink-build.sh), which they build.
                const bins = c.kubernetes.enabled
                    ? `bins=$(bash ${q(path.join(SCRIPTS_DIR, "k8s-build.sh"))} --find ${q(c.kubernetes.version)} ${q(c.crio.version)}); ` +
                      `images=$(bash ${q(path.join(SCRIPTS_DIR, "flink-build.sh"))} --root); `
                    : "bins=; images=; ";
                this.nodes = c.nodes.map((n, i) => {
                    const address = nodeAddress(c.local.subnet, i);
                    const node = new command.local.Command(`${name}-${n.name}`, {
                        interpreter: ["/bin/bash", "-c"],
                        create: `set -euo pipefail; ${bins}bash ${script} up ${q(n.name)} ${q(address)} ${q(c.local.subnet)} ${q(stateDir)} "$bins" "$images"`,
                        delete: `bash ${script} down ${q(n.name)} ${q(address)} ${q(c.local.subnet)} ${q(stateDir)}`,
                        // Another Kubernetes (or none) is another node.
                        triggers: [c.kubernetes.enabled ? `kubernetes ${c.kubernetes.version} crio ${c.crio.version}` : "no kubernetes"],
                    }, { parent: this, dependsOn: [network, key], customTimeouts: { create: "30m" } });
                    return {
                        name: n.name, role: n.role, user: "root", port: 22, keySource: "driver" as const, privateKey,
                        address: node.stdout.apply(() => address),
                        connection: { host: node.stdout.apply(() => address), port: 22, user: "root", privateKey },
                    };
                });
                break;
            }
        }
        this.registerOutputs({ nodes: this.nodes.map(n => ({ name: n.name, role: n.role, address: n.address })) });
    }
}
