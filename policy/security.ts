// Security guard rails: checkpoint archives hold process memory; SSH keys are secrets.
import { ResourceValidationPolicy } from "@pulumi/policy";
import { marker, Resource } from "./facts";

export const archiveDirRootOnly: ResourceValidationPolicy = {
    name: "archive-dir-root-only",
    description: "Checkpoint archive directories are root-only (0700); archives hold process memory.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        const m = marker(args as unknown as Resource, "managed-dir");
        if (!m) return;
        if (m.mode !== "0700") {
            report(`Archive directory ${m.path} on node ${m.node} has mode ${m.mode}; checkpoints hold process memory: use 0700 (files 0600).`);
        }
        const create = String(args.props.create ?? "");
        if (create && !/install -d -m 0700 -o root -g root/.test(create)) {
            report(`Archive directory ${m.path} on node ${m.node} is not created root-owned with mode 0700.`);
        }
    },
};

export const sshKeyIsSecret: ResourceValidationPolicy = {
    name: "ssh-key-is-secret",
    description: "The SSH private key comes from a secret config value, not plain text in the stack file.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        const m = marker(args as unknown as Resource, "ssh");
        if (m?.keySource === "plain-config") {
            report(`Commands on node ${m.node} use the SSH private key from plain-text config; store it as a secret: pulumi config set --secret live-migration-lab:sshPrivateKey < KEYFILE.`);
        }
    },
};

export const securityPolicies = [archiveDirRootOnly, sshKeyIsSecret];
