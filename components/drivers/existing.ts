// Driver `existing`: hosts the user already has, reached over SSH with the stack's key (root, or a
// user with passwordless sudo). Their addresses come from the config. `existing.install` says where
// CRI-O and Kubernetes come from (the official packages, or already on the hosts' PATH),
// `existing.services` who runs them (systemd, or the lab's supervisor on hosts without it), and
// `existing.images` whether kubeadm's and the Flink image are pulled or built on each host.
import * as pulumi from "@pulumi/pulumi";
import type { LabConfig } from "../config/types";
import type { KeySource } from "../node/command";
import { kubeadmHosts } from "./kubeadmHosts";
import { nodeProgram } from "../node/program";
import { PAUSE_IMAGE } from "../cluster/localCluster";
import type { NodeDriver } from "./driver";

/**
 * What a host with `existing.install: present` must have on its PATH (a node check says which are
 * missing): ssh too, with which a hop's target pulls the archive from its source.
 */
export const PRESENT_COMMANDS = ["kubeadm", "kubelet", "kubectl", "crio", "crictl", "conmon", "criu", "ssh", "buildah"] as const;

/** Checks that the binaries are on the host's PATH; prints where each is. */
export function presentCheckScript(commands: readonly string[]): string {
    return nodeProgram("cluster/programs/present-check.sh", "binaries on the host", { COMMANDS: commands.join(" ") });
}

export function existingDriver(c: LabConfig): NodeDriver {
    const address = (index: number) => c.nodes[index].address!;
    const hosts = kubeadmHosts(c);
    const present = c.existing.install === "present";
    const supervised = c.existing.services === "supervised";
    const build = c.existing.images === "build";
    return {
        name: "existing",
        address,
        ...hosts,
        runtime: {
            cgroupDriver: supervised ? "cgroupfs" : "systemd",
            crioSettings: supervised || build ? {
                crio: {
                    ...(supervised ? { runtime: { cgroup_manager: "cgroupfs", conmon_cgroup: "pod" } } : {}),
                    // The node builds the pause image under kubeadm's name (localCluster.ts).
                    ...(build ? { image: { pause_image: PAUSE_IMAGE } } : {}),
                },
            } : undefined,
            kubeletSettings: () => undefined,
        },
        kubeadm: { imagePullPolicy: build ? "Never" : "IfNotPresent", ignorePreflightErrors: [] },
        install: present ? presentCheckScript(PRESENT_COMMANDS.filter(x => build || x !== "buildah")) : hosts.install,
        flinkImage: build ? "build" : "pull",
        cluster: { services: supervised ? "supervised" : "systemd", buildImages: build ? c.kubernetes.version : undefined },
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
