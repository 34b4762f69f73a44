// Small helpers shared by the components for running scripts on nodes with @pulumi/command.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { q } from "./scripts";

/** What every driver hands to the rest of the program. */
export interface NodeHandle {
    readonly name: string;
    readonly role: "master" | "worker";
    readonly address: pulumi.Input<string>;
    readonly user: string;
    readonly port: number;
    /** The private key this node accepts (secret). */
    readonly privateKey: pulumi.Output<string>;
    /** SSH connection; its private key is a Pulumi secret. */
    readonly connection: command.types.input.remote.ConnectionArgs;
    /** Where the private key came from, recorded on every command so the policy pack can check it. */
    readonly keySource: KeySource;
}

export type KeySource = "secret-config" | "plain-config" | "driver";

/**
 * Runs `script` as root: directly for root, through `sudo -n` for other users (Vagrant's).
 * The script travels as a quoted argument; file content and secrets go on stdin.
 */
export function asRoot(user: string, script: string): string {
    return user === "root" ? `bash -c ${q(script)}` : `sudo -n bash -c ${q(script)}`;
}

/** A marker in `triggers` that policies use to find what a command manages. */
export type LabTrigger =
    | { lab: "managed-file"; node: string; path: string; mode: string }
    | { lab: "managed-dir"; node: string; path: string; mode: string }
    | { lab: "ssh"; node: string; keySource: KeySource }
    | { lab: "migration-step"; id: string; step: string; from: string; to: string }
    | { lab: "node-check"; node: string; check: string };

export interface NodeCommandArgs {
    readonly node: NodeHandle;
    readonly create: pulumi.Input<string>;
    readonly delete?: string;
    readonly stdin?: pulumi.Input<string>;
    /** Plain values only: sshd passes few variables (AcceptEnv), so secrets go on stdin. */
    readonly environment?: Record<string, string>;
    readonly triggers: LabTrigger[];
    /** Set when stdout carries something secret (kubeconfig, join token). */
    readonly secretOutput?: boolean;
    readonly timeoutMinutes?: number;
}

/** A remote command on a node, as root, with the node's SSH marker in its triggers. */
export function nodeCommand(name: string, args: NodeCommandArgs, opts: pulumi.CustomResourceOptions): command.remote.Command {
    const minutes = `${args.timeoutMinutes ?? 10}m`;
    return new command.remote.Command(name, {
        connection: args.node.connection,
        create: pulumi.output(args.create).apply(script => asRoot(args.node.user, script)),
        delete: args.delete ? asRoot(args.node.user, args.delete) : undefined,
        stdin: args.stdin,
        environment: args.environment,
        triggers: [...args.triggers, { lab: "ssh", node: args.node.name, keySource: args.node.keySource }],
        logging: args.secretOutput ? "none" : "stdoutAndStderr",
    }, {
        ...opts,
        additionalSecretOutputs: args.secretOutput ? ["stdout", "stderr"] : opts.additionalSecretOutputs,
        customTimeouts: { create: minutes, update: minutes, delete: minutes },
    });
}

/** Parses the one JSON line a lab script prints on success. */
export function jsonStdout<T>(cmd: command.remote.Command | command.local.Command): pulumi.Output<T> {
    return cmd.stdout.apply(s => JSON.parse(s.trim().split("\n").pop() || "{}") as T);
}
