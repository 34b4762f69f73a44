// CRIU configuration files that the OCI runtime hands to CRIU.
//
// CRI-O runs `runc checkpoint --file-locks ...` and never passes --tcp-established, and there is
// no CRI-O key or annotation that adds it. runc instead reads a CRIU config file: the one named by
// the `org.criu.config` annotation, else /etc/criu/runc.conf (libcontainer/criu_linux.go,
// handleCriuConfigurationFile), for checkpoint AND restore. crun reads /etc/criu/crun.conf, then
// /etc/criu/runc.conf. The file holds long options without dashes, one per line.
import type { ConfigProblem } from "../config/problem";

export type CriuSide = "dump" | "restore";

interface OptionSpec {
    /** Allowed values for an option that takes one; undefined for a flag. */
    readonly values?: RegExp;
    readonly valueHelp?: string;
    /** Sides the option means something on. */
    readonly sides: readonly CriuSide[];
    /** An image made with this option must be restored with it too. */
    readonly symmetric?: boolean;
    readonly help: string;
}

/** The CRIU options this program lets a stack set (criu(8), `criu --help`). */
export const CRIU_OPTIONS: Readonly<Record<string, OptionSpec>> = {
    "tcp-established": { sides: ["dump", "restore"], symmetric: true, help: "checkpoint and restore established TCP connections" },
    "tcp-close": { sides: ["dump", "restore"], symmetric: true, help: "restore established TCP connections closed (listeners kept)" },
    // A client connecting while the dump runs leaves a connection not yet accepted on a listener;
    // CRIU refuses the dump ("In-flight connection") unless told to skip it (the client retries).
    "skip-in-flight": { sides: ["dump"], help: "skip TCP connections still being established (not yet accepted) instead of failing the dump" },
    "ext-unix-sk": { sides: ["dump", "restore"], symmetric: true, help: "allow external unix socket connections" },
    "file-locks": { sides: ["dump", "restore"], help: "handle file locks (CRI-O already passes --file-locks on checkpoint)" },
    "link-remap": { sides: ["dump"], help: "allow linked-remap of deleted but open files" },
    "shell-job": { sides: ["dump", "restore"], help: "allow a process tree attached to a terminal" },
    "network-lock": { sides: ["dump", "restore"], values: /^(iptables|nftables|skip)$/, valueHelp: "iptables, nftables or skip", help: "how TCP connections are locked during dump" },
    "ghost-limit": { sides: ["dump"], values: /^\d+[KMG]?$/, valueHelp: "a size such as 10M", help: "largest deleted file CRIU keeps in the image" },
    "timeout": { sides: ["dump", "restore"], values: /^\d+$/, valueHelp: "seconds", help: "seconds to wait for the process tree to freeze" },
};

export interface CriuOptions {
    readonly dump: readonly string[];
    readonly restore: readonly string[];
}

/** An entry's option name, without the dashes of a command line (those are reported on their own). */
const optionName = (entry: string) => entry.trim().split(/\s+/)[0].replace(/^--?/, "");

/**
 * Whether a dump with these options can checkpoint a pod holding TCP connections: CRIU refuses
 * "Connected TCP socket, consider using --tcp-established option" unless told to repair them
 * (tcp-established) or to close them (tcp-close).
 */
export function dumpsTcpConnections(opts: CriuOptions): boolean {
    return opts.dump.some(e => ["tcp-established", "tcp-close"].includes(optionName(e)));
}

/** Names people reach for that CRIU does not have, and what CRIU calls them. */
const MISNAMED: Readonly<Record<string, string>> = { "tcp-skip-in-flight": "skip-in-flight" };

/** Checks CRIU option lists; `path` is the config path of the criu object. */
export function checkCriuOptions(opts: CriuOptions, path: string): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    const allowed = Object.keys(CRIU_OPTIONS).join(", ");
    for (const side of ["dump", "restore"] as const) {
        opts[side].forEach((entry, i) => {
            const at = `${path}.${side}[${i}]`;
            const [name, ...rest] = entry.trim().split(/\s+/);
            const bare = name.replace(/^--?/, "");
            const spec = CRIU_OPTIONS[bare];
            if (!spec) {
                const hint = MISNAMED[bare] ? `CRIU has no option "${bare}", it is called "${MISNAMED[bare]}"; ` : "";
                problems.push({ path: at, message: `got "${entry}"; ${hint}allowed: ${allowed}` });
                return;
            }
            if (name !== bare) {
                problems.push({ path: at, message: `got "${entry}"; a CRIU config file takes options without dashes: "${[bare, ...rest].join(" ")}"` });
                return;
            }
            if (spec.values) {
                if (rest.length !== 1 || !spec.values.test(rest[0])) {
                    problems.push({ path: at, message: `got "${entry}"; ${bare} takes one value: ${spec.valueHelp}` });
                }
            } else if (rest.length > 0) {
                problems.push({ path: at, message: `got "${entry}"; ${bare} is a flag and takes no value` });
            }
            if (!spec.sides.includes(side)) {
                problems.push({ path: at, message: `got "${entry}"; ${bare} only applies to ${spec.sides.join(" and ")}` });
            }
        });
    }
    const names = (side: CriuSide) => new Set(opts[side].map(optionName));
    const dump = names("dump");
    const restore = names("restore");
    for (const name of Object.keys(CRIU_OPTIONS).filter(n => CRIU_OPTIONS[n].symmetric)) {
        if (dump.has(name) !== restore.has(name)) {
            const missing = dump.has(name) ? "restore" : "dump";
            problems.push({
                path: `${path}.${missing}`,
                message: `lacks "${name}", which the other side has; an image dumped with ${name} must be restored with it (and the reverse)`,
            });
        }
    }
    for (const side of ["dump", "restore"] as const) {
        const set = side === "dump" ? dump : restore;
        if (set.has("tcp-established") && set.has("tcp-close")) {
            problems.push({ path: `${path}.${side}`, message: `has both "tcp-established" and "tcp-close"; choose one` });
        }
    }
    return problems;
}

/** The runtime's CRIU config file path(s): crun reads crun.conf first, then runc.conf. */
export function criuConfigPaths(runtime: "runc" | "crun"): string[] {
    return runtime === "crun" ? ["/etc/criu/crun.conf", "/etc/criu/runc.conf"] : ["/etc/criu/runc.conf"];
}

/**
 * Renders the CRIU config file. The same file is read for checkpoint and for restore, so it holds
 * the union of both sides; an option that only matters on one side is ignored by CRIU on the other.
 */
export function renderCriuConf(opts: CriuOptions): string {
    const seen = new Set<string>();
    const lines: string[] = [];
    for (const entry of [...opts.dump, ...opts.restore]) {
        const line = entry.trim().split(/\s+/).join(" ");
        if (!seen.has(optionName(line))) {
            seen.add(optionName(line));
            lines.push(line);
        }
    }
    return [
        "# Managed by live-migration-lab: CRIU options the OCI runtime passes to every checkpoint and restore.",
        "# CRI-O has no setting for these; runc reads this file (crun reads crun.conf, then this one).",
        ...lines,
        "",
    ].join("\n");
}

/** Parses a CRIU config file back into its option lines (comments and blanks dropped). */
export function parseCriuConf(text: string): string[] {
    return text
        .split("\n")
        .map(l => l.replace(/#.*$/, "").trim())
        .filter(l => l.length > 0);
}
