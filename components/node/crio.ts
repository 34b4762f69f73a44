// The CRI-O drop-in this program writes to /etc/crio/crio.conf.d/.
//
// CRI-O decodes its config with a TOML library and discards the "undecoded keys" metadata, so a
// key it does not have is silently ignored. Every key rendered here, and every key a stack sets
// through crio.settings, is checked against crio-keys.json: the keys each CRI-O release really
// decodes, taken from the struct tags of its pkg/config/config.go (see scripts/crio-keys.mjs).
import * as TOML from "smol-toml";
import crioKeys from "./crio-keys.json";
import type { ConfigProblem } from "../config/problem";

export type CheckpointRestoreLevel = "none" | "checkpoint_only" | "checkpoint_restore";

/** Where CRI-O serves the CRI (and its inspect API) on every node. */
export const CRIO_SOCKET = "unix:///var/run/crio/crio.sock";
/** Where CRI-O (containers/storage) keeps images on a node: its packages' default graphroot, and the local lab's. */
export const IMAGE_STORE = "/var/lib/containers/storage";

export const CRIO_DROP_IN_PATH = "/etc/crio/crio.conf.d/60-live-migration-lab.conf";

interface KeyTable {
    readonly source: string;
    readonly tables: Readonly<Record<string, readonly string[]>>;
}
const KEYS: Readonly<Record<string, KeyTable>> = crioKeys.versions;

/** CRI-O minor versions whose keys this program knows. */
export const CRIO_VERSIONS: readonly string[] = Object.keys(KEYS).sort((a, b) => minorOf(a) - minorOf(b));

// `[crio.checkpoint_restore] container_level_enabled` came with cri-o PR 10248 (main, September
// 2026, the 1.37 key list) and was backported to the patch releases of 1.30 to 1.34 after 2026-09
// (PRs 10339, 10338, 10337, 10336, 10327), with restore OFF by default there: which switch a node's
// CRI-O reads is learned from its binary (crioRestoreSwitch), never from its minor version.

/**
 * The key that switches a CRI-O binary's restores: `[crio.checkpoint_restore] container_level_enabled`
 * where the binary knows it (it then defaults to "checkpoint_only" in the backports: restore off),
 * `[crio.runtime] enable_criu_support` where it does not (deprecated where both exist).
 */
export type RestoreSwitch = "container_level_enabled" | "enable_criu_support";
export const RESTORE_SWITCHES: readonly RestoreSwitch[] = ["container_level_enabled", "enable_criu_support"];

/**
 * Which switch a CRI-O binary reads, from what its `crio config` prints: every key of its
 * [crio.checkpoint_restore] table, commented out when at its default (pkg/config/template.go,
 * templateStringCrioCheckpointRestoreContainerLevelEnabled). Undefined when the text is not CRI-O's config.
 */
export function crioRestoreSwitch(crioConfig: string): RestoreSwitch | undefined {
    if (/^[ \t]*(#[ \t]*)?container_level_enabled[ \t]*=/m.test(crioConfig)) return "container_level_enabled";
    if (/^[ \t]*\[crio\.runtime\]/m.test(crioConfig)) return "enable_criu_support";
    return undefined;
}

function minorOf(version: string): number {
    return Number(version.split(".")[1]);
}

/** Where the key list for a CRI-O version came from. */
export function crioKeySource(version: string): string {
    return KEYS[version]?.source ?? "unknown";
}

/** Keys the program itself owns; a stack may not set them through crio.settings. */
const MANAGED: Readonly<Record<string, string>> = {
    "crio.runtime.enable_criu_support": "crio.checkpointRestore",
    "crio.checkpoint_restore.container_level_enabled": "crio.checkpointRestore",
    "crio.runtime.default_runtime": "crio.runtime",
};

/** The seed's and the internet's favourite keys that no CRI-O release has, with what to do instead. */
const FICTIONAL: readonly [RegExp, string][] = [
    [/^criu_/, "CRI-O has no criu_* keys; set CRIU options in criu.dump and criu.restore, which this program renders to /etc/criu/runc.conf (the file runc reads)"],
    [/^(checkpoint_restore_tcp|criu_options|criu-options)$/, "CRI-O has no such key; TCP handling comes from /etc/criu/runc.conf (set tcp-established in criu.dump and criu.restore)"],
];

/** Annotations people put on pods (or allow in CRI-O's runtime tables) that CRI-O never reads, and what works instead. */
export const FICTIONAL_ANNOTATIONS: Readonly<Record<string, string>> = {
    "io.kubernetes.cri-o.criu-options": "CRI-O has no CRIU options annotation; put CRIU options in /etc/criu/runc.conf (criu.dump / criu.restore)",
    "io.kubernetes.cri-o.checkpoint-restore-tcp": "CRI-O has no TCP checkpoint annotation; put tcp-established in /etc/criu/runc.conf (criu.dump / criu.restore)",
};

/**
 * Values CRI-O refuses when it starts, for the keys that take one of a few words (read in v1.34.0):
 * log_level goes through logrus.ParseLevel (cmd/crio/main.go), cgroup_manager through
 * cgmgr.SetCgroupManager, image_volumes and runtime_type ("" is the default, "oci") through the
 * validation in pkg/config/config.go.
 */
const VALUES: Readonly<Record<string, readonly string[]>> = {
    "crio.runtime.log_level": ["fatal", "panic", "error", "warn", "warning", "info", "debug", "trace"],
    "crio.runtime.cgroup_manager": ["systemd", "cgroupfs"],
    "crio.image.image_volumes": ["mkdir", "bind", "ignore"],
    "crio.runtime.runtimes.*.runtime_type": ["oci", "vm", "pod", ""],
};

/** What is wrong with a value of a known key (its generic key: runtimes.* for any handler), or undefined. */
function valueProblem(generic: string, key: string, value: unknown): string | undefined {
    const words = VALUES[generic];
    if (words && !(typeof value === "string" && words.includes(value))) {
        return `got ${JSON.stringify(value)}; CRI-O takes one of ${words.map(w => `"${w}"`).join(", ")} for ${key}`;
    }
    if (key === "allowed_annotations" || key === "default_annotations") {
        const names = Array.isArray(value) ? value : isTable(value) ? Object.keys(value) : [];
        const fictional = names.filter((n): n is string => typeof n === "string" && FICTIONAL_ANNOTATIONS[n] !== undefined);
        if (fictional.length > 0) return fictional.map(n => `"${n}": ${FICTIONAL_ANNOTATIONS[n]}`).join("; ");
    }
    return undefined;
}

/** Explains a key CRI-O does not have, naming the fix where one is known. */
export function fictionalKeyAdvice(key: string): string | undefined {
    return FICTIONAL.find(([re]) => re.test(key))?.[1];
}

function tableKeys(version: string, table: string): readonly string[] | undefined {
    const tables = KEYS[version].tables;
    if (tables[table]) return tables[table];
    if (/^crio\.runtime\.runtimes\.[A-Za-z0-9_-]+$/.test(table)) return tables["crio.runtime.runtimes.*"];
    return undefined;
}

const isTable = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Checks a nested settings object (as it would appear in TOML: { crio: { runtime: { log_level } } })
 * against the keys CRI-O `version` decodes. `path` is the config path of the settings object.
 */
export function checkCrioSettings(settings: Record<string, unknown>, version: string, path: string): ConfigProblem[] {
    if (!KEYS[version]) return []; // the version itself is reported by the caller
    const problems: ConfigProblem[] = [];
    const walk = (node: Record<string, unknown>, table: string, at: string) => {
        const known = table === "" ? undefined : tableKeys(version, table);
        for (const [key, value] of Object.entries(node)) {
            const full = table === "" ? key : `${table}.${key}`;
            const where = `${at}.${key}`;
            const advice = fictionalKeyAdvice(key);
            if (advice) {
                problems.push({ path: where, message: `"${full}" is not a CRI-O key: ${advice}` });
                continue;
            }
            if (MANAGED[full]) {
                problems.push({ path: where, message: `"${full}" is set by this program; use ${MANAGED[full]} instead` });
                continue;
            }
            if (known?.includes(key)) {
                const wrong = valueProblem(`${table.replace(/^crio\.runtime\.runtimes\.[^.]+$/, "crio.runtime.runtimes.*")}.${key}`, key, value);
                if (wrong) problems.push({ path: where, message: wrong });
                continue;
            }
            if (table === "" && key.includes(".")) {
                // `crio.runtime.log_level: debug` written flat: TOML's dotted keys, but here one key with dots in its name.
                const parts = key.split(".");
                const yaml = parts.slice(0, -1).map(k => `${k}: { `).join("") + `${parts[parts.length - 1]}: VALUE` + " }".repeat(parts.length - 1);
                const real = isCrioKey(version, key) ? "" : ` (and CRI-O ${version} has no ${key})`;
                problems.push({ path: where, message: `"${key}" is one key with dots in its name; crio.settings takes nested tables as TOML does${real}: pulumi config set --path '${at}.${key}' VALUE, or in YAML ${yaml}` });
                continue;
            }
            if (isTable(value) && tableKeys(version, full) !== undefined) {
                walk(value, full, where);
                continue;
            }
            if (isTable(value) && full === "crio.runtime.runtimes") {
                walk(value, full, where);
                continue;
            }
            const allowed = known ? known.join(", ") : "tables " + Object.keys(KEYS[version].tables).join(", ");
            problems.push({ path: where, message: `"${full}" is not a key CRI-O ${version} has (it would be silently ignored); allowed here: ${allowed}` });
        }
    };
    walk(settings, "", path);
    return problems;
}

export interface CrioDropInArgs {
    /** CRI-O minor version, e.g. "1.34". */
    readonly version: string;
    /** Default OCI runtime handler. */
    readonly runtime: "runc" | "crun";
    readonly checkpointRestore: CheckpointRestoreLevel;
    /** The switch the node's CRI-O binary reads (crioRestoreSwitch). */
    readonly restoreSwitch: RestoreSwitch;
    /** Absolute path of the runtime binary where the node's layout needs one (e.g. Debian's /usr/sbin/runc). */
    readonly runtimePath?: string;
    /** Extra settings, already checked with checkCrioSettings. */
    readonly settings?: Record<string, unknown>;
}

export function deepMerge(into: Record<string, unknown>, from: Record<string, unknown>): Record<string, unknown> {
    for (const [k, v] of Object.entries(from)) {
        into[k] = isTable(v) && isTable(into[k]) ? deepMerge({ ...(into[k] as Record<string, unknown>) }, v) : v;
    }
    return into;
}

/** The drop-in as a TOML document (object form), version-aware. */
export function crioDropIn(args: CrioDropInArgs): Record<string, unknown> {
    const enabled = args.checkpointRestore !== "none";
    const runtime: Record<string, unknown> = { default_runtime: args.runtime };
    const doc: Record<string, unknown> = { crio: { runtime } };
    if (args.restoreSwitch === "container_level_enabled") {
        (doc.crio as Record<string, unknown>).checkpoint_restore = { container_level_enabled: args.checkpointRestore };
    } else {
        // One switch covers both directions. CRI-O also turns it off by itself when `criu` is not
        // on its PATH, which is why the node runtime checks `criu check` first.
        if (args.checkpointRestore === "checkpoint_only") throw new Error(`CRI-O without container_level_enabled cannot enable checkpoints without restores`);
        runtime.enable_criu_support = enabled;
    }
    if (args.runtimePath) {
        runtime.runtimes = { [args.runtime]: { runtime_path: args.runtimePath, runtime_type: "oci" } };
    }
    return args.settings ? deepMerge(doc, args.settings) : doc;
}

/** Renders the drop-in file. */
export function renderCrioDropIn(args: CrioDropInArgs): string {
    const header = [
        "# Managed by live-migration-lab. Keys checked against the keys CRI-O decodes:",
        `# ${crioKeySource(args.version)}`,
        "# CRIU options (tcp-established, ...) are not CRI-O settings: see /etc/criu/runc.conf.",
        "",
    ].join("\n");
    return header + TOML.stringify(crioDropIn(args)) + "\n";
}

/**
 * The drop-in for each switch a node's CRI-O may read (a binary without container_level_enabled
 * cannot express "checkpoint_only": it has no variant then). The node's writer picks the one its
 * binary reads (crio-switch.sh); drift review compares with the one the node reported.
 */
export function renderCrioDropIns(args: Omit<CrioDropInArgs, "restoreSwitch">): Partial<Record<RestoreSwitch, string>> {
    const out: Partial<Record<RestoreSwitch, string>> = {};
    for (const restoreSwitch of RESTORE_SWITCHES) {
        if (restoreSwitch === "enable_criu_support" && args.checkpointRestore === "checkpoint_only") continue;
        out[restoreSwitch] = renderCrioDropIn({ ...args, restoreSwitch });
    }
    return out;
}

/** Every dotted key in a parsed drop-in, for checking a rendered or hand-edited file. */
export function dottedKeys(doc: Record<string, unknown>, prefix = ""): string[] {
    return Object.entries(doc).flatMap(([k, v]) => {
        const full = prefix ? `${prefix}.${k}` : k;
        return isTable(v) ? dottedKeys(v, full) : [full];
    });
}

/** Whether `dotted` (e.g. crio.runtime.log_level) is a key CRI-O `version` decodes. */
export function isCrioKey(version: string, dotted: string): boolean {
    const i = dotted.lastIndexOf(".");
    const keys = tableKeys(version, dotted.slice(0, i));
    return keys !== undefined && keys.includes(dotted.slice(i + 1));
}
