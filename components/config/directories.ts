// Directories the program makes root-only and deletes on destroy (the archive directory, the local
// lab's state): never one of the system's or of the software around the lab.
import { posix } from "path";
import type { ConfigProblem } from "./problem";

/** Directories of the system and of the software around the lab: a lab directory is none of these. */
const SYSTEM_DIRECTORIES = ["/", "/home", "/media", "/mnt", "/opt", "/root", "/srv", "/tmp", "/var", "/var/lib", "/var/cache", "/var/local", "/var/mail", "/var/opt", "/var/spool", "/var/tmp"];
/** ... nor lies inside these. */
const SYSTEM_TREES = ["/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/run", "/sbin", "/sys", "/usr", "/var/lib/cni", "/var/lib/containers", "/var/lib/etcd", "/var/lib/kubelet", "/var/lock", "/var/log", "/var/run"];

/**
 * A directory the program creates, makes root-only and deletes again (archive.dir, local.stateDir)
 * must be one of its own: not a system directory, not inside one, not someone's home. The node
 * check refuses one that exists already with files the program did not write (private-dir.sh).
 */
export function checkOwnDirectory(dir: string, at: string, fallback: string): ConfigProblem[] {
    if (!dir.startsWith("/")) return []; // the schema reports it
    const instead = `use the default "${fallback}", or another path that does not exist yet`;
    if (posix.normalize(dir) !== dir || (dir.length > 1 && dir.endsWith("/"))) {
        return [{ path: at, message: `got "${dir}"; write it without ".", ".." or a trailing "/": "${posix.normalize(dir).replace(/(.)\/$/, "$1")}"` }];
    }
    const tree = SYSTEM_TREES.find(t => dir === t || dir.startsWith(`${t}/`));
    const why = SYSTEM_DIRECTORIES.includes(dir) ? "a system directory"
        : tree ? (tree === dir ? "a system directory" : tree.startsWith("/var/lib/") ? `inside ${tree}, which ${tree.slice("/var/lib/".length)} owns` : `inside ${tree}, a system directory`)
            : /^\/home\/[^/]+$/.test(dir) ? "someone's home directory" : undefined;
    if (!why) return [];
    return [{ path: at, message: `got "${dir}", ${why}; the program makes this directory root-only and deletes it on destroy, so it must be one of its own: ${instead}` }];
}
