// Small helpers shared by the components for running scripts on nodes with @pulumi/command.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { q } from "./program";

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
    /**
     * This start of the node where the driver can tell (local: new each time local-node.sh starts
     * it). What the program put on the node (files, services, images) is replaced with it, so a
     * replaced node gets all of it again; migration steps, which are history, are not.
     */
    readonly instance?: pulumi.Output<string>;
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
    | { lab: "node-check"; node: string; check: string }
    | { lab: "node-instance"; node: string; instance: pulumi.Input<string> }
    | { lab: "observed"; state: string };

export interface NodeCommandArgs {
    readonly node: NodeHandle;
    readonly create: pulumi.Input<string>;
    readonly delete?: string;
    readonly stdin?: pulumi.Input<string>;
    readonly triggers: LabTrigger[];
    /**
     * What the program observed on the node for this resource (drift.ts): recorded as the last
     * trigger and ignored until `changed`, when it makes the resource a replacement that names it.
     */
    readonly observed?: { readonly state: string; readonly changed: boolean };
    /**
     * Which attempt of a migration step this is (migration.ts): the first line of the script, a
     * shell assignment, ignored until `rerun`, when the changed script runs the step again.
     */
    readonly attempt?: { readonly value: string; readonly rerun: boolean };
    /** Set when stdout carries something secret (kubeconfig, join token). */
    readonly secretOutput?: boolean;
    readonly timeoutMinutes?: number;
}

/**
 * A remote command on a node, as root, with the node's SSH marker in its triggers.
 *
 * No value reaches the node through SSH's environment: the official command provider sends
 * `environment` as SSH setenv requests and fails the resource when sshd refuses one, which a
 * stock sshd does for anything but the locale's (AcceptEnv LANG LC_*). Values travel in the command text,
 * quoted by `q`, or on stdin (secrets, file content). For the same reason the provider is told not
 * to pass the previous stdout/stderr as variables (addPreviousOutputInEnv), which would only add a
 * warning per update on such hosts: no script here reads PULUMI_COMMAND_STDOUT.
 *
 * The markers (`observed`, `attempt`) are inputs that change what the engine sees without
 * changing what the command does; `ignoreChanges` keeps them from causing a diff until the
 * program decides they should. Ignored inputs are taken from the old state for a replacement too,
 * so the script itself is never ignored where a replacement can happen: drift is a trigger (a
 * replacement), an attempt is a line of a step's script (steps are never replaced: their triggers
 * are fixed by the migration history, plan.ts checkHistory).
 */
export function nodeCommand(name: string, args: NodeCommandArgs, opts: pulumi.CustomResourceOptions): command.remote.Command {
    const minutes = `${args.timeoutMinutes ?? 10}m`;
    const triggers: LabTrigger[] = [...args.triggers, { lab: "ssh", node: args.node.name, keySource: args.node.keySource }];
    if (args.node.instance && !args.triggers.some(t => t.lab === "migration-step")) {
        triggers.push({ lab: "node-instance", node: args.node.name, instance: args.node.instance });
    }
    const ignore: string[] = [];
    if (args.observed) {
        if (!args.observed.changed) ignore.push(`triggers[${triggers.length}]`);
        triggers.push({ lab: "observed", state: args.observed.state });
    }
    const attempt = args.attempt;
    if (attempt && !attempt.rerun) ignore.push("create");
    return new command.remote.Command(name, {
        connection: args.node.connection,
        create: pulumi.output(args.create).apply(script =>
            asRoot(args.node.user, attempt ? `LAB_ATTEMPT=${q(attempt.value)}\n${script}` : script)),
        delete: args.delete ? asRoot(args.node.user, args.delete) : undefined,
        stdin: args.stdin,
        addPreviousOutputInEnv: false,
        triggers,
        logging: args.secretOutput ? "none" : "stdoutAndStderr",
    }, {
        ...opts,
        ignoreChanges: [...(opts.ignoreChanges ?? []), ...ignore],
        additionalSecretOutputs: args.secretOutput ? ["stdout", "stderr"] : opts.additionalSecretOutputs,
        customTimeouts: { create: minutes, update: minutes, delete: minutes },
    });
}

/** Parses the one JSON line a lab script prints on success. */
export function jsonStdout<T>(cmd: command.remote.Command | command.local.Command): pulumi.Output<T> {
    return cmd.stdout.apply(s => JSON.parse(s.trim().split("\n").pop() || "{}") as T);
}
