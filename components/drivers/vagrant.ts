// Driver `vagrant`: master and worker VMs from a generated Vagrantfile (libvirt or VirtualBox),
// reached as the `vagrant` user with the key Vagrant made for each machine.
import * as path from "path";
import * as command from "@pulumi/command";
import type { LabConfig } from "../config/types";
import { q } from "../node/program";
import { kubeadmHosts } from "./kubeadmHosts";
import { nodeAddress } from "./address";
import type { NodeDriver } from "./driver";

export interface VagrantfileArgs {
    readonly provider: "libvirt" | "virtualbox";
    readonly box: string;
    readonly cpus: number;
    readonly memoryMb: number;
    readonly nodes: readonly { name: string; address: string }[];
}

const rb = (s: string) => `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;

export function renderVagrantfile(a: VagrantfileArgs): string {
    const machines = a.nodes.map(n => `  [${rb(n.name)}, ${rb(n.address)}]`).join(",\n");
    return `# Managed by live-migration-lab: master and worker VMs for the checkpoint/restore lab.
Vagrant.configure("2") do |config|
  config.vm.box = ${rb(a.box)}
  config.vm.synced_folder ".", "/vagrant", disabled: true
  config.vm.provider :${a.provider} do |v|
    v.cpus = ${a.cpus}
    v.memory = ${a.memoryMb}
  end
  [
${machines}
  ].each do |name, ip|
    config.vm.define name do |node|
      node.vm.hostname = name
      node.vm.network :private_network, ip: ip
    end
  end
end
`;
}

export function vagrantDriver(c: LabConfig): NodeDriver {
    const address = (index: number) => nodeAddress(c.vagrant.subnet, index);
    return {
        name: "vagrant",
        address,
        ...kubeadmHosts(c),
        // VMs and their keys exist only once `vagrant up` ran: nothing to probe with before that.
        probeKey: () => undefined,
        isUp: () => true,
        declareNodes(parent, name, args) {
            const dir = path.join(args.workDir, "vagrant");
            const machines = c.nodes.map((n, i) => ({ name: n.name, address: address(i) }));
            const vagrantfile = renderVagrantfile({ ...c.vagrant, nodes: machines });
            const up = new command.local.Command(`${name}-vagrant`, {
                dir: args.workDir,
                create: `set -euo pipefail; mkdir -p ${q(dir)}; cat >${q(dir)}/Vagrantfile; cd ${q(dir)}; vagrant up --provider ${c.vagrant.provider}`,
                update: `set -euo pipefail; cat >${q(dir)}/Vagrantfile; cd ${q(dir)}; vagrant up --provider ${c.vagrant.provider} --provision`,
                delete: `set -euo pipefail; cd ${q(dir)} && vagrant destroy -f`,
                stdin: vagrantfile,
            }, { parent, customTimeouts: { create: "60m", update: "60m", delete: "20m" } });
            // Vagrant made a key per machine; read it back as a secret.
            const keys = machines.map(m => new command.local.Command(`${name}-${m.name}-key`, {
                create: `set -euo pipefail; cd ${q(dir)}; cat "$(vagrant ssh-config ${q(m.name)} | awk '$1 == "IdentityFile" { print $2 }')"`,
                logging: "none",
            }, { parent, dependsOn: [up], additionalSecretOutputs: ["stdout"] }));
            return c.nodes.map((n, i) => ({
                name: n.name, role: n.role, address: machines[i].address, user: "vagrant", port: 22, keySource: "driver",
                privateKey: keys[i].stdout,
                connection: { host: machines[i].address, port: 22, user: "vagrant", privateKey: keys[i].stdout },
            }));
        },
    };
}
