// What the policies read off the resources the program declares. Commands carry a `lab` marker
// in their triggers (components/node/command.ts) saying what they manage; managed files carry their
// rendered content in `stdin`.
import * as TOML from "smol-toml";
import { splitVariants } from "../components/node/variants";

export const REMOTE_COMMAND = "command:remote:Command";
export const POD = "kubernetes:core/v1:Pod";
export const CONFIG_MAP = "kubernetes:core/v1:ConfigMap";

export interface Resource {
    readonly type: string;
    readonly name: string;
    readonly urn: string;
    readonly props: Record<string, any>;
}

export interface Marker {
    readonly lab: string;
    readonly [key: string]: unknown;
}

/** The lab markers in a command's triggers. */
export function markers(r: Resource): Marker[] {
    if (r.type !== REMOTE_COMMAND || !Array.isArray(r.props.triggers)) return [];
    return r.props.triggers.filter((t: unknown): t is Marker => typeof t === "object" && t !== null && typeof (t as Marker).lab === "string");
}

export function marker(r: Resource, lab: string): Marker | undefined {
    return markers(r).find(m => m.lab === lab);
}

export interface ManagedFileFact {
    readonly resource: Resource;
    readonly node: string;
    readonly path: string;
    readonly mode: string;
    /** Rendered content; undefined while unknown (preview before dependencies exist). */
    readonly content?: string;
    /** For a file sent as variants (components/node/variants.ts), which one this is. */
    readonly variant?: string;
}

export function managedFiles(resources: readonly Resource[]): ManagedFileFact[] {
    return resources.flatMap((r): ManagedFileFact[] => {
        const m = marker(r, "managed-file");
        if (!m) return [];
        const fact = { resource: r, node: String(m.node), path: String(m.path), mode: String(m.mode) };
        if (typeof r.props.stdin !== "string") return [{ ...fact, content: undefined }];
        // A file sent as variants (the CRI-O drop-in per restore switch): each is checked, as any may be written.
        const variants = splitVariants(r.props.stdin);
        return variants ? Object.entries(variants).map(([variant, content]) => ({ ...fact, content, variant })) : [{ ...fact, content: r.props.stdin }];
    });
}

/** Parses a CRI-O drop-in; undefined when it is not valid TOML (reported by its own policy). */
export function parseToml(text: string): Record<string, unknown> | undefined {
    try {
        return TOML.parse(text) as Record<string, unknown>;
    } catch {
        return undefined;
    }
}

export interface MigrationStepFact {
    readonly resource: Resource;
    readonly id: string;
    readonly step: string;
    readonly from: string;
    readonly to: string;
}

export function migrationSteps(resources: readonly Resource[]): MigrationStepFact[] {
    return resources.flatMap(r => {
        const m = marker(r, "migration-step");
        return m ? [{ resource: r, id: String(m.id), step: String(m.step), from: String(m.from), to: String(m.to) }] : [];
    });
}

/** Node names the lab manages (every command on a node carries the ssh marker). */
export function nodeNames(resources: readonly Resource[]): Set<string> {
    return new Set(resources.flatMap(r => markers(r).filter(m => m.lab === "ssh").map(m => String(m.node))));
}
