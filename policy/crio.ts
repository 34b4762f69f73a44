// CRI-O guard rails: keys CRI-O does not have (silently ignored by CRI-O), annotations that do
// not exist, and checkpoint/restore switched off while migrations are requested.
import { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { dottedKeys, fictionalKeyAdvice, isCrioKey, CRIO_VERSIONS, FICTIONAL_ANNOTATIONS } from "../components/node/crio";
import { managedFiles, migrationSteps, parseToml, POD, Resource } from "./facts";

const isDropIn = (path: string) => path.startsWith("/etc/crio/");


/** Problems with a CRI-O drop-in's keys: fictional keys (with the fix) and keys no CRI-O release has. */
export function dropInKeyProblems(content: string): string[] {
    const doc = parseToml(content);
    if (!doc) return ["is not valid TOML"];
    return dottedKeys(doc).flatMap(key => {
        const leaf = key.slice(key.lastIndexOf(".") + 1);
        const advice = fictionalKeyAdvice(leaf);
        if (advice) return [`sets "${key}": ${advice}`];
        if (!CRIO_VERSIONS.some(v => isCrioKey(v, key))) return [`sets "${key}", which no CRI-O release from ${CRIO_VERSIONS[0]} to ${CRIO_VERSIONS[CRIO_VERSIONS.length - 1]} has; CRI-O ignores it silently`];
        return [];
    });
}

export const crioNoFictionalKeys: StackValidationPolicy = {
    name: "crio-no-fictional-keys",
    description: "CRI-O drop-ins only set keys CRI-O has; unknown keys are silently ignored by CRI-O.",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
        for (const f of managedFiles(args.resources as Resource[])) {
            if (!isDropIn(f.path) || f.content === undefined) continue;
            for (const p of dropInKeyProblems(f.content)) {
                report(`${f.path} on node ${f.node} ${p}.`, f.resource.urn);
            }
        }
    },
};

export const crioNoFictionalAnnotations: ResourceValidationPolicy = {
    name: "crio-no-fictional-annotations",
    description: "Pods do not carry CRI-O annotations that do not exist.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        if (args.type !== POD) return;
        const annotations: Record<string, string> = args.props.metadata?.annotations ?? {};
        for (const key of Object.keys(annotations)) {
            const fix = FICTIONAL_ANNOTATIONS[key];
            if (fix) report(`Pod ${args.props.metadata?.name ?? args.name} has annotation ${key}: ${fix}.`);
        }
    },
};

/** Whether a parsed drop-in turns container restore off. */
export function restoreDisabled(doc: Record<string, any>): string | undefined {
    const level = doc.crio?.checkpoint_restore?.container_level_enabled;
    if (level !== undefined && level !== "checkpoint_restore") return `container_level_enabled = "${level}"`;
    if (doc.crio?.runtime?.enable_criu_support === false) return "enable_criu_support = false";
    return undefined;
}

export const crioRestoreEnabledForMigrations: StackValidationPolicy = {
    name: "crio-restore-enabled-for-migrations",
    description: "CRI-O checkpoint and restore are both on wherever a migration checkpoints or restores.",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
        const steps = migrationSteps(args.resources as Resource[]);
        if (steps.length === 0) return;
        const involved = new Set(steps.flatMap(s => [s.from, s.to]));
        for (const f of managedFiles(args.resources as Resource[])) {
            if (!isDropIn(f.path) || f.content === undefined || !involved.has(f.node)) continue;
            const doc = parseToml(f.content);
            const off = doc && restoreDisabled(doc);
            if (off) {
                report(`${f.path} on node ${f.node} sets ${off} while migrations ${[...new Set(steps.map(s => s.id))].join(", ")} are requested; set crio.checkpointRestore to "checkpoint_restore".`, f.resource.urn);
            }
        }
    },
};

export const crioPolicies = [crioNoFictionalKeys, crioNoFictionalAnnotations, crioRestoreEnabledForMigrations];
