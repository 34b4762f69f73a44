// A node's checkpoint/restore configuration: CRIU usable, the CRIU config file runc reads, the
// CRI-O drop-in, the kubelet settings, and the root-only checkpoint archive directory.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { NodeHandle, nodeCommand } from "./command";
import { criuCheckScript, ensurePrivateDirScript, putBackFileScript, removeDirScript, writeFileScript } from "./scripts";
import { CGROUP_OBSERVATION, CRIO_SWITCH_OBSERVATION, fileState, Observation } from "./drift";
import type { VariantSelector } from "./scripts";
import { joinVariants } from "./variants";

/** A file this program owns on a node: rendered content, path and mode. */
export interface ManagedFile {
    readonly role: string;
    readonly path: string;
    readonly content: string;
    readonly mode: number;
    /** The service that reads the file, restarted (if it runs) after the file changed. */
    readonly restart?: string;
    /** The role of a file (listed before this one) that must be in place before this one is written. */
    readonly after?: string;
    /**
     * Content per restore switch, where the right one depends on what the node's CRI-O binary knows:
     * all are sent and the node keeps the one it reads (variants.ts); `assumed` names the one a node
     * gets that cannot tell (no crio yet), which is `content`; `help` says what to do when none fits.
     */
    readonly variants?: { readonly by: VariantSelector; readonly contents: Readonly<Record<string, string>>; readonly assumed: string; readonly help: string };
}

/** What a node should have for a managed file, given what it reported of its CRI-O (drift review). */
export function expectedContent(f: ManagedFile, observed?: Readonly<Record<string, Observation>>): string {
    const seen = f.variants && observed?.[f.variants.by === "cgroup" ? CGROUP_OBSERVATION : CRIO_SWITCH_OBSERVATION];
    return (f.variants && seen !== undefined ? f.variants.contents[seen] : undefined) ?? f.content;
}

export interface NodeRuntimeArgs {
    readonly node: NodeHandle;
    readonly files: readonly ManagedFile[];
    readonly archiveDir: string;
    /** Installs CRIU, CRI-O and Kubernetes packages first, where the driver's hosts need it. */
    readonly install?: string;
    /** What the node has at each managed path right now (drift.ts); absent when not observed. */
    readonly observed?: Readonly<Record<string, Observation>>;
}

/** The managed files of one node, checked before any is written. */
export function checkManagedFiles(files: readonly ManagedFile[]): string[] {
    const problems: string[] = [];
    const seen = new Set<string>();
    for (const f of files) {
        if (!f.path.startsWith("/")) problems.push(`${f.role}: path "${f.path}" is not absolute`);
        if (seen.has(f.path)) problems.push(`${f.role}: path "${f.path}" is managed twice`);
        seen.add(f.path);
    }
    return problems;
}

export class NodeRuntime extends pulumi.ComponentResource {
    /** `criu check` result on the node: {criu: version, check: "ok"}. */
    public readonly criu: pulumi.Output<string>;
    /** Path -> sha256 of what was written. */
    public readonly files: pulumi.Output<Record<string, string>>;
    /** Resources later steps wait for. */
    public readonly ready: pulumi.Resource[];

    constructor(name: string, args: NodeRuntimeArgs, opts?: pulumi.ComponentResourceOptions) {
        super("lab:node:NodeRuntime", name, {}, opts);
        const problems = checkManagedFiles(args.files);
        if (problems.length > 0) throw new pulumi.ResourceError(`node ${args.node.name}: ${problems.join("; ")}`, this);
        const node = args.node;
        const install = args.install
            ? [nodeCommand(`${name}-install`, {
                node,
                create: args.install,
                triggers: [{ lab: "node-check", node: node.name, check: "install" }],
                timeoutMinutes: 30,
            }, { parent: this })]
            : [];

        // CRI-O turns checkpoint support off by itself when criu is missing, and an old CRIU on
        // a new kernel fails mid-dump: check first, and fail here with CRIU's own message.
        const criu = nodeCommand(`${name}-criu-check`, {
            node,
            create: criuCheckScript(),
            triggers: [{ lab: "node-check", node: node.name, check: "criu" }],
        }, { parent: this, dependsOn: install });

        // Content goes on stdin: a change of content is an update (the script rewrites the file),
        // a change of path or node is a replacement, and deleting the resource removes the file, or puts
        // back the host's own one that the first write kept aside (write-file.sh, put-back-file.sh).
        // A file changed by hand on the node shows up as a replacement naming the drift (drift.ts).
        const byRole = new Map<string, command.remote.Command>();
        const written: command.remote.Command[] = args.files.map(f => {
            const first = f.after ? byRole.get(f.after) : undefined;
            if (f.after && !first) throw new Error(`managed file ${f.role}: the file it comes after (${f.after}) is not listed before it`);
            const state = fileState(f.path, expectedContent(f, args.observed), args.observed?.[f.path]);
            const cmd = nodeCommand(`${name}-${f.role}`, {
                node,
                create: writeFileScript(f.path, f.mode, f.restart, undefined, f.variants && { by: f.variants.by, assumed: f.variants.assumed, help: f.variants.help }),
                delete: putBackFileScript(f.path),
                stdin: f.variants ? joinVariants(f.variants.contents) : f.content,
                triggers: [{ lab: "managed-file", node: node.name, path: f.path, mode: f.mode.toString(8).padStart(4, "0") }],
                observed: { state: state.marker, changed: state.drifted },
            }, { parent: this, dependsOn: [criu, ...(first ? [first] : [])], deleteBeforeReplace: true });
            byRole.set(f.role, cmd);
            return cmd;
        });

        const archive = nodeCommand(`${name}-archive-dir`, {
            node,
            create: ensurePrivateDirScript(args.archiveDir),
            delete: removeDirScript(args.archiveDir),
            triggers: [{ lab: "managed-dir", node: node.name, path: args.archiveDir, mode: "0700" }],
        }, { parent: this, deleteBeforeReplace: true });

        this.criu = criu.stdout;
        this.files = pulumi.all(written.map(w => w.stdout)).apply(outs =>
            Object.fromEntries(outs.map(o => JSON.parse(o)).map((o: { path: string; sha256: string }) => [o.path, o.sha256])));
        this.ready = [...install, criu, ...written, archive];
        this.registerOutputs({ criu: this.criu, files: this.files });
    }
}
