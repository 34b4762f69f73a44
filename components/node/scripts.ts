// The node programs the command resources run (programs/*.sh, through nodeProgram), with their
// inputs. Each is idempotent, runs with `set -euo pipefail`, fails with one line saying what failed
// and where, and prints one JSON line on success that becomes the resource's stdout (read back as
// outputs). Content and secrets never appear in a program's text: file content and secrets come on
// stdin (never SSH environment variables, which a stock sshd refuses: command.ts).

import { CRIO_DROP_IN_PATH, CRIO_SOCKET } from "./crio";
import { libraryText, nodeProgram, programText, q } from "./program";

const octal = (mode: number) => mode.toString(8).padStart(4, "0");

/**
 * Writes stdin to `path` atomically with `mode`, only when the content differs
 * (programs/write-file.sh); then restarts `restart`, the service that reads it, if it runs. A file
 * of the host's found there first is kept aside under `record` (the node's record of managed files).
 */
/** What decides which variant of a managed file a node keeps (write-file.sh SELECT). */
export type VariantSelector = "crio-restore-switch" | "cgroup";

export function writeFileScript(path: string, mode: number, restart?: string, record = MANAGED_FILES_RECORD, select?: { by: VariantSelector; assumed: string; help: string }): string {
    const inputs = { DEST: path, MODE: octal(mode), RESTART: restart ?? "", KEEP: record };
    if (!select) return nodeProgram("node/programs/write-file.sh", `write ${path}`, inputs, [SERVICE_LIB]);
    return nodeProgram("node/programs/write-file.sh", `write ${path}`, { ...inputs, SELECT: select.by, SELECT_DEFAULT: select.assumed, SELECT_HELP: select.help }, [SERVICE_LIB, CRIO_SWITCH_LIB]);
}

/** What the node's CRI-O knows and runs with, for its restore switch (programs/crio-switch.sh). */
export const CRIO_SWITCH_LIB = "node/programs/crio-switch.sh";

/** The program's own directory on every node. */
export const NODE_ROOT = "/var/lib/live-migration-lab";
/** Where a node records the files the program wrote, and keeps the host's own ones it found there (write-file.sh). */
export const MANAGED_FILES_RECORD = `${NODE_ROOT}/files`;

/** Undoes writeFileScript: puts back the host's own file, or removes the program's (programs/put-back-file.sh). */
export function putBackFileScript(path: string, record = MANAGED_FILES_RECORD): string {
    return nodeProgram("node/programs/put-back-file.sh", `put back ${path}`, { DEST: path, KEEP: record });
}

/** The services library (programs/service.sh): the local lab's supervisor, or systemd. */
export const SERVICE_LIB = "node/programs/service.sh";

/**
 * A command that stops, restarts, restarts-if-running or starts-if-down a node's service NAME:
 * systemd's unit on VMs and hosts, the lab's own supervisor on namespace nodes (programs/service.sh).
 */
export function serviceCommand(action: "stop" | "restart" | "restart_if_active" | "restart_if_down", name: string): string {
    return `${libraryText(SERVICE_LIB)}\nservice_${action} ${q(name)}`;
}

/** Removes files the program made in a directory of its own (a hop's archives). */
export function removeFileScript(...paths: string[]): string {
    return nodeProgram("node/programs/remove-file.sh", `remove ${paths.join(" ")}`, { DEST: paths.join("\n") });
}

/** A root-only directory of the program's own: checkpoint archives hold process memory. */
export function ensurePrivateDirScript(path: string): string {
    return nodeProgram("node/programs/private-dir.sh", `directory ${path}`, { DIR: path, OWN_ROOT: NODE_ROOT });
}

export function removeDirScript(path: string): string {
    return nodeProgram("node/programs/remove-dir.sh", `remove ${path}`, { DIR: path });
}

/**
 * CRIU is usable: `criu check` is the real test (`criu check --tcp-established` is not a check;
 * TCP repair is part of the plain check). An old CRIU on a new kernel fails here, not mid-dump.
 */
/** `criu check`, and the node's cgroup mode against the kubelet `kubernetesVersion` (none: no Kubernetes). */
export function criuCheckScript(): string {
    return nodeProgram("node/programs/criu-check.sh", "criu check");
}

export interface PreflightArgs {
    readonly archiveDir: string;
    /** Where CRI-O keeps images and containers: a checkpoint image is a second copy there. */
    readonly imageStore: string;
    /**
     * What the second copy is: the checkpoint image in CRI-O's store (restore "image"), or the
     * archive the cutover joins from its split parts in the archive directory ("direct").
     */
    readonly copy: "checkpoint image" | "joined copy";
    /** The job's resident memory on the source: the archive is about that size. */
    readonly rssBytes: number;
}

/**
 * Before a checkpoint is taken: the target can restore. CRIU works, CRI-O answers, the archive
 * directory is private, and there is room for the archive and for its image (each about the job's
 * RSS plus a margin; both at once when they share a filesystem).
 */
export function preflightScript(a: PreflightArgs): string {
    return nodeProgram("node/programs/preflight.sh", "preflight", {
        ARCHIVE_DIR: a.archiveDir, IMAGE_STORE: a.imageStore, NEED_MB: Math.ceil((a.rssBytes * 1.25) / 1048576) + 64,
        RSS_MB: Math.round(a.rssBytes / 1048576), CRIO_ENDPOINT: CRIO_SOCKET, CRIO_SOCKET: CRIO_SOCKET.replace(/^unix:\/\//, ""),
        CRIO_DROP_IN: CRIO_DROP_IN_PATH, COPY: a.copy,
    }, [CRIO_SWITCH_LIB]);
}

export interface CheckpointArgs {
    readonly kubeletAddress: string;
    readonly namespace: string;
    readonly pod: string;
    /** The pod's containers, checkpointed one after the other in this order. */
    readonly containers: readonly string[];
    /** Files on the master that authenticate the caller to the kubelet. */
    readonly clientCert: string;
    readonly clientKey: string;
    readonly timeoutSeconds: number;
}

/**
 * Asks the source node's kubelet for a checkpoint of each container (POST
 * /checkpoint/{ns}/{pod}/{container}). Runs on the master, which holds the API server's kubelet
 * client certificate. The source keeps running. A CRIU failure comes back in the response body and
 * is printed as the error.
 */
export function checkpointScript(a: CheckpointArgs): string {
    return nodeProgram("node/programs/checkpoint.sh", `checkpoint ${a.namespace}/${a.pod}/${a.containers.join(",")}`, {
        URLS: a.containers.map(c => `https://${a.kubeletAddress}:10250/checkpoint/${a.namespace}/${a.pod}/${c}?timeout=${a.timeoutSeconds}`).join("\n"),
        POD: a.pod, KUBELET: a.kubeletAddress, CLIENT_CERT: a.clientCert, CLIENT_KEY: a.clientKey,
    });
}

/**
 * Where the transfer finds the archive on the source: being written by CRI-O for a held checkpoint
 * (streamed while it grows, `hold`), or already written (`archive`).
 */
export type ArchiveSource =
    | { readonly archive: string }
    | {
        /** The hop's hold directory (the runtime wrapper's marks: pausedAt, heldAt, failed). */
        readonly hold: string;
        /** The kubelet's checkpoint directory. */
        readonly dir: string;
        /** The pod's containers, in the order they are checkpointed, and the start of each archive's name there. */
        readonly containers: readonly { readonly name: string; readonly prefix: string }[];
        /** How long the checkpoint may take to begin and to be written. */
        readonly timeoutSeconds: number;
    };

export interface TransferArgs {
    readonly from: SshPeer;
    readonly source: ArchiveSource;
    readonly targetDir: string;
    readonly id: string;
    /** The hop's attempt: "first", or "retry <digest>". */
    readonly attempt: string;
    /**
     * The restored pod's fence on the target (migration/programs/fence.sh), written before the
     * archive is put in place: the source's hold ends `maxPauseSeconds` after its pause.
     */
    readonly fence?: { readonly path: string; readonly maxPauseSeconds: number };
    /**
     * Split the archive on arrival (migration/programs/archive-split.py): CRIU's page images apart,
     * where the runtime wrapper has runc restore them from, so that CRI-O's restore from the archive
     * (`archive.restore: direct`) neither reads nor unpacks the job's memory again. The cutover
     * joins it back into one archive. Needs the fence (it names the images' directory).
     */
    readonly split?: boolean;
}

/**
 * Where a hop's archive lands on the target: ID.tar, or ID-DIGEST.tar for a retried hop, so that a
 * restored pod left waiting by a failed attempt never takes the archive of the next one. The archives
 * of a pod's other containers (all but its first) add the container's name: ID-CONTAINER.tar.
 */
export const transferredArchive = (a: Pick<TransferArgs, "targetDir" | "id" | "attempt">, container?: string) => {
    const retry = /^retry ([0-9a-f]+)$/.exec(a.attempt);
    return `${a.targetDir}/${a.id}${retry ? `-${retry[1]}` : ""}${container ? `-${container}` : ""}.tar`;
};

export interface SshPeer { readonly host: string; readonly port: number; readonly user: string }

/** The kubelet's name for a checkpoint archive of a container, up to its time stamp. */
export const kubeletArchivePrefix = (namespace: string, pod: string, container: string) => `checkpoint-${pod}_${namespace}-${container}-`;

/**
 * Runs on the target (programs/transfer.sh): the source node sends the archive over the lab network
 * into the root-only archive directory, while CRI-O is still writing it when it comes from a hold.
 * The lab's SSH key arrives on stdin.
 */
export function transferScript(a: TransferArgs): string {
    const s = a.source;
    const from = "archive" in s
        ? { ARCHIVE: s.archive, HOLD: "", SOURCE_DIR: "", NAMES: "", PREFIXES: "", DESTS: transferredArchive(a), TIMEOUT: 0 }
        : {
            ARCHIVE: "", HOLD: s.hold, SOURCE_DIR: s.dir, TIMEOUT: s.timeoutSeconds,
            NAMES: s.containers.map(c => c.name).join("\n"), PREFIXES: s.containers.map(c => c.prefix).join("\n"),
            DESTS: s.containers.map((c, i) => transferredArchive(a, i === 0 ? undefined : c.name)).join("\n"),
        };
    return nodeProgram("node/programs/transfer.sh", `transfer ${a.id}`, {
        ID: a.id, ...from, PY_STREAM: programText("migration/programs/archive-stream.py"),
        PY_SPLIT: a.split && a.fence ? programText("migration/programs/archive-split.py") : "",
        FENCE: a.fence?.path ?? "", MAX_PAUSE: a.fence?.maxPauseSeconds ?? 0,
        PEER_HOST: a.from.host, PEER_PORT: a.from.port, PEER_USER: a.from.user,
    }, ["node/programs/peer.sh"]);
}

export interface ImageArgs {
    readonly archive: string;
    readonly image: string;
    readonly container: string;
}

const ARCHIVE_LABEL = "live-migration-lab.archive-sha256";

/** Turns a checkpoint archive into a local image CRI-O restores from (no registry involved). */
export function checkpointImageScript(a: ImageArgs): string {
    return nodeProgram("node/programs/checkpoint-image.sh", `checkpoint image ${a.image}`, {
        ARCHIVE: a.archive, IMAGE: a.image, CONTAINER: a.container, LABEL: ARCHIVE_LABEL,
    });
}

export function removeImageScript(image: string): string {
    return nodeProgram("node/programs/remove-image.sh", `remove image ${image}`, { IMAGE: image });
}

/**
 * Keeps the `keep` most recently written of the archives named `name` (a glob) in `dir`; archives of
 * other names (a kubelet directory holds everyone's checkpoints) are not touched.
 */
export function pruneArchivesScript(dir: string, keep: number, ...names: string[]): string {
    return nodeProgram("node/programs/prune.sh", `prune ${dir}`, { DIR: dir, KEEP: keep, NAME: (names.length ? names : ["*.tar"]).join("\n") });
}
