// Driver `existing`: hosts the user already has, reached over SSH with the stack's key (root, or a
// user with passwordless sudo). Their addresses come from the config.
import * as pulumi from "@pulumi/pulumi";
import type { LabConfig } from "../config/config";
import type { KeySource } from "../node/command";
import { kubeadmHosts } from "./kubeadmHosts";
import type { NodeDriver } from "./index";

export function existingDriver(c: LabConfig): NodeDriver {
    const address = (index: number) => c.nodes[index].address!;
    return {
        name: "existing",
        address,
        ...kubeadmHosts(c),
        probeKey: plainConfigKey => plainConfigKey,
        isUp: () => true,
        declareNodes(parent, _name, args) {
            if (!args.sshPrivateKey) throw new pulumi.ResourceError("driver existing needs sshPrivateKey", parent);
            const keySource: KeySource = c.sshPrivateKey === "secret" ? "secret-config" : "plain-config";
            const privateKey = pulumi.secret(args.sshPrivateKey);
            return c.nodes.map(n => ({
                name: n.name, role: n.role, address: n.address!, user: n.sshUser, port: n.sshPort, keySource, privateKey,
                connection: { host: n.address!, port: n.sshPort, user: n.sshUser, privateKey },
            }));
        },
    };
}
