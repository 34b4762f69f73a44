// Shell scripts the command resources run on nodes. Each is idempotent, starts with
// `set -euo pipefail`, fails with one line saying what failed and where, and prints one JSON line
// on success that becomes the resource's stdout (read back as outputs). Content and secrets never
// appear in a script: file content and secrets come on stdin (never SSH environment variables,
// which a stock sshd refuses: command.ts).

import { CRIO_SOCKET } from "./kubelet";
import { nodeProgram, programText, q } from "./program";

export function script(name: string, body: string[]): string {
    return [
        "#!/usr/bin/env bash",
        `# live-migration-lab: ${name}`,
        "set -euo pipefail",
        `trap 'echo "live-migration-lab: ${name} failed on $(hostname) at line $LINENO" >&2' ERR`,
        `elapsed() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.3f", e - s }'; }`,
        ...body,
        "",
    ].join("\n");
}

const octal = (mode: number) => mode.toString(8).padStart(4, "0");

/**
 * Writes stdin to `path` atomically with `mode`, only when the content differs
 * (programs/write-file.sh); then restarts `restart`, the service that reads it, if it runs.
 */
export function writeFileScript(path: string, mode: number, restart?: string): string {
    return nodeProgram("node/programs/write-file.sh", { DEST: path, MODE: octal(mode), RESTART: restart ?? "" }, [SERVICE_LIB]);
}

/** The services library (programs/service.sh): the local lab's supervisor, or systemd. */
export const SERVICE_LIB = "node/programs/service.sh";

/**
 * A command that stops, restarts, restarts-if-running or starts-if-down a node's service NAME:
 * systemd's unit on VMs and hosts, the lab's own supervisor on namespace nodes (programs/service.sh).
 */
export function serviceCommand(action: "stop" | "restart" | "restart_if_active" | "restart_if_down", name: string): string {
    return `${programText(SERVICE_LIB).replace(/^#!.*\n/, "")}\nservice_${action} ${q(name)}`;
}

export function removeFileScript(path: string): string {
    return script(`remove ${path}`, [`rm -f ${q(path)}`]);
}

/** A root-only directory: checkpoint archives hold process memory. */
export function ensurePrivateDirScript(path: string): string {
    return script(`directory ${path}`, [
        `install -d -m 0700 -o root -g root ${q(path)}`,
        `chmod 0700 ${q(path)}`,
        `find ${q(path)} -maxdepth 1 -type f ! -perm 0600 -exec chmod 0600 {} +`,
        `printf '{"path":"%s","mode":"%s"}\\n' ${q(path)} "$(stat -c %a ${q(path)})"`,
    ]);
}

export function removeDirScript(path: string): string {
    return script(`remove ${path}`, [`rm -rf --one-file-system ${q(path)}`]);
}

/**
 * CRIU is usable: `criu check` is the real test (`criu check --tcp-established` is not a check;
 * TCP repair is part of the plain check). An old CRIU on a new kernel fails here, not mid-dump.
 */
export function criuCheckScript(): string {
    return script("criu check", [
        `command -v criu >/dev/null || { echo "criu is not installed" >&2; exit 1; }`,
        `version=$(criu --version | sed -n 's/^Version: //p')`,
        `if ! out=$(criu check 2>&1); then echo "criu $version: criu check failed: $out" >&2; exit 1; fi`,
        `command -v iptables >/dev/null || command -v nft >/dev/null || { echo "criu needs iptables or nft to lock TCP connections" >&2; exit 1; }`,
        `printf '{"criu":"%s","check":"ok"}\\n' "$version"`,
    ]);
}

export interface PreflightArgs {
    readonly archiveDir: string;
    /** Where CRI-O keeps images: the checkpoint image unpacks the archive there once more. */
    readonly imageStore: string;
    /** The job's resident memory on the source: the archive is about that size. */
    readonly rssBytes: number;
}

/**
 * Before a checkpoint is taken: the target can restore. CRIU works, CRI-O answers, the archive
 * directory is private, and there is room for the archive and for its image (each about the job's
 * RSS plus a margin; both at once when they share a filesystem).
 */
export function preflightScript(a: PreflightArgs): string {
    const needMb = Math.ceil((a.rssBytes * 1.25) / 1048576) + 64;
    return script("preflight", [
        `if ! out=$(criu check 2>&1); then echo "criu check failed on the target: $out" >&2; exit 1; fi`,
        `crictl --runtime-endpoint ${q(CRIO_SOCKET)} info >/dev/null 2>&1 || { echo "CRI-O does not answer on ${CRIO_SOCKET} on $(hostname); start it (systemctl start crio) and run pulumi up again" >&2; exit 1; }`,
        `mode=$(stat -c %a ${q(a.archiveDir)}) || { echo "archive directory ${a.archiveDir} is missing" >&2; exit 1; }`,
        `[ "$mode" = 700 ] || { echo "archive directory ${a.archiveDir} has mode $mode; checkpoints hold process memory and need 700" >&2; exit 1; }`,
        `store=${q(a.imageStore)}; [ -d "$store" ] || store=$(dirname "$store")`,
        `free() { df -Pm "$1" | awk 'NR == 2 { print $4 }'; }`,
        `archive_free=$(free ${q(a.archiveDir)}); store_free=$(free "$store")`,
        `if [ "$(stat -c %d ${q(a.archiveDir)})" = "$(stat -c %d "$store")" ]; then need=$(( ${needMb} * 2 )); else need=${needMb}; fi`,
        `[ "$archive_free" -ge "$need" ] || { echo "only \${archive_free} MB free for ${a.archiveDir} on $(hostname); the archive and its image need \${need} MB (the job's RSS is ${Math.round(a.rssBytes / 1048576)} MB); free some space and run pulumi up again" >&2; exit 1; }`,
        `[ "$store_free" -ge ${needMb} ] || { echo "only \${store_free} MB free for $store on $(hostname); the checkpoint image needs ${needMb} MB" >&2; exit 1; }`,
        `printf '{"freeMb":%s,"needMb":%s}\\n' "$archive_free" "$need"`,
    ]);
}

export interface CheckpointArgs {
    readonly kubeletAddress: string;
    readonly namespace: string;
    readonly pod: string;
    readonly container: string;
    /** Files on the master that authenticate the caller to the kubelet. */
    readonly clientCert: string;
    readonly clientKey: string;
    readonly timeoutSeconds: number;
}

/**
 * Asks the source node's kubelet for a checkpoint (POST /checkpoint/{ns}/{pod}/{container}).
 * Runs on the master, which holds the API server's kubelet client certificate. The source keeps
 * running. A CRIU failure comes back in the response body and is printed as the error.
 */
export function checkpointScript(a: CheckpointArgs): string {
    const url = `https://${a.kubeletAddress}:10250/checkpoint/${a.namespace}/${a.pod}/${a.container}?timeout=${a.timeoutSeconds}`;
    return script(`checkpoint ${a.namespace}/${a.pod}/${a.container}`, [
        `started=$(date +%s%3N); start=$(date +%s.%N)`,
        // The kubelet's serving certificate is self-signed on kubeadm and lab nodes; the client
        // certificate is what authenticates this call.
        `body=$(mktemp); trap 'rm -f "$body"' EXIT`,
        `code=$(curl -sS -k -o "$body" -w '%{http_code}' -X POST --cert ${q(a.clientCert)} --key ${q(a.clientKey)} ${q(url)})`,
        `if [ "$code" != 200 ]; then echo "checkpoint of ${a.pod} on ${a.kubeletAddress} failed (HTTP $code): $(cat "$body")" >&2; exit 1; fi`,
        `archive=$(sed -n 's/.*"items":\\["\\([^"]*\\)".*/\\1/p' "$body")`,
        `[ -n "$archive" ] || { echo "kubelet answered without an archive path: $(cat "$body")" >&2; exit 1; }`,
        `printf '{"archive":"%s","startedAt":%s,"seconds":%s}\\n' "$archive" "$started" "$(elapsed "$start")"`,
    ]);
}

export interface TransferArgs {
    readonly from: SshPeer;
    readonly archive: string;
    readonly targetDir: string;
    readonly id: string;
}

/** Where a hop's archive lands on the target. */
export const transferredArchive = (a: Pick<TransferArgs, "targetDir" | "id">) => `${a.targetDir}/${a.id}.tar`;

export interface SshPeer { readonly host: string; readonly port: number; readonly user: string }

/**
 * Runs on the target (programs/transfer.sh): pulls the archive from the source node over the lab
 * network into the root-only archive directory, and verifies the digest on both ends. The lab's
 * SSH key arrives on stdin.
 */
export function transferScript(a: TransferArgs): string {
    return nodeProgram("node/programs/transfer.sh", {
        ID: a.id, ARCHIVE: a.archive, DEST: transferredArchive(a), PEER_HOST: a.from.host, PEER_PORT: a.from.port, PEER_USER: a.from.user,
    }, ["node/programs/peer.sh"]);
}

export interface ImageArgs {
    readonly archive: string;
    /** The archive's digest: an image made from another archive (an earlier attempt) is rebuilt. */
    readonly sha256: string;
    readonly image: string;
    readonly container: string;
}

const ARCHIVE_LABEL = "live-migration-lab.archive-sha256";

/** Turns a checkpoint archive into a local image CRI-O restores from (no registry involved). */
export function checkpointImageScript(a: ImageArgs): string {
    return script(`checkpoint image ${a.image}`, [
        `started=$(date +%s%3N); start=$(date +%s.%N)`,
        `have=$(buildah inspect --type image --format '{{index .OCIv1.Config.Labels "${ARCHIVE_LABEL}"}}' ${q(a.image)} 2>/dev/null || echo absent)`,
        `if [ "$have" != ${q(a.sha256)} ]; then`,
        `  if [ "$have" != absent ]; then buildah rmi ${q(a.image)} >/dev/null || { echo "${a.image} is from another archive and still in use; remove the pod using it" >&2; exit 1; }; fi`,
        `  c=$(buildah from scratch)`,
        `  trap 'buildah rm "$c" >/dev/null 2>&1 || true' EXIT`,
        `  buildah add "$c" ${q(a.archive)} / >/dev/null`,
        `  buildah config --annotation=io.kubernetes.cri-o.annotations.checkpoint.name=${q(a.container)} --label ${ARCHIVE_LABEL}=${q(a.sha256)} "$c"`,
        `  buildah commit -q "$c" ${q(a.image)} >/dev/null`,
        `fi`,
        `printf '{"image":"%s","id":"%s","startedAt":%s,"seconds":%s}\\n' ${q(a.image)} "$(buildah inspect --type image --format '{{.FromImageID}}' ${q(a.image)})" "$started" "$(elapsed "$start")"`,
    ]);
}

export function removeImageScript(image: string): string {
    return script(`remove image ${image}`, [`buildah rmi ${q(image)} >/dev/null 2>&1 || true`]);
}

/** Keeps the `keep` most recently written archives in `dir`. */
export function pruneArchivesScript(dir: string, keep: number): string {
    return script(`prune ${dir}`, [
        `cd ${q(dir)}`,
        `mapfile -t old < <(ls -1tr -- *.tar 2>/dev/null | head -n -${keep})`,
        `if [ "\${#old[@]}" -gt 0 ]; then rm -f -- "\${old[@]}"; fi`,
        `printf '{"kept":%s,"removed":%s}\\n' "$(ls -1 -- *.tar 2>/dev/null | wc -l)" "\${#old[@]}"`,
    ]);
}
