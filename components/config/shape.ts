// The config's shape, checked against its JSON schema (schema.ts) by ajv, which also fills in the
// schema's defaults; each error becomes a ConfigProblem naming the config path as `pulumi config`
// writes it (nodes[1].role) and what the schema allows.
import Ajv, { ErrorObject } from "ajv";
import { configSchema } from "./schema";
import { ConfigProblem, key } from "./problem";

/** `/nodes/1/role` -> `nodes[1].role` */
function configPath(instancePath: string, child?: string): string {
    const parts = instancePath.split("/").slice(1).map(p => p.replace(/~1/g, "/").replace(/~0/g, "~"));
    if (child !== undefined) parts.push(child);
    return key(parts.map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`)).join(""));
}

const shown = (path: string, value: unknown) => (path.endsWith(":sshPrivateKey") ? "a value (not shown)" : JSON.stringify(value));

export function describeAjvError(e: ErrorObject): ConfigProblem {
    const path = configPath(e.instancePath);
    const got = `got ${shown(path, e.data)}`;
    const p = e.params as Record<string, unknown>;
    switch (e.keyword) {
        case "enum":
            return { path, message: `${got}; allowed: ${(p.allowedValues as unknown[]).map(v => JSON.stringify(v)).join(", ")}` };
        case "type": {
            // YAML reads an unquoted 1.30 as the number 1.3.
            const quote = p.type === "string" && typeof e.data === "number" ? `; YAML read an unquoted value as the number ${e.data}: quote it in the stack's YAML (version: "1.30", not version: 1.30, which is 1.3)` : "";
            return { path, message: `${got}; expected ${p.type}${quote}` };
        }
        case "pattern": {
            const description = (e.parentSchema as { description?: string } | undefined)?.description;
            return { path, message: `${got}; expected ${description ?? `a string matching ${p.pattern}`}` };
        }
        case "additionalProperties": {
            const names = Object.keys((e.parentSchema as { properties: object }).properties);
            const extra = String(p.additionalProperty);
            // `pulumi config set ns:archive.dir X` without --path makes a key named "archive.dir".
            const dotted = extra.includes(".") && names.includes(extra.split(".")[0])
                ? `; for the nested key use --path: pulumi config set --path ${configPath(e.instancePath, extra)} VALUE` : "";
            return { path: configPath(e.instancePath, extra), message: `unknown key; allowed here: ${names.join(", ")}${dotted}` };
        }
        case "required":
            return { path: configPath(e.instancePath, String(p.missingProperty)), message: "missing; this key is required" };
        case "minimum":
        case "maximum": {
            const s = e.parentSchema as { minimum?: number; maximum?: number };
            return { path, message: `${got}; allowed: ${s.minimum ?? "-inf"} to ${s.maximum ?? "+inf"}` };
        }
        case "minItems":
            return { path, message: `has ${(e.data as unknown[]).length} entries; needs at least ${p.limit}` };
        default:
            return { path, message: `${got}; ${e.message}` };
    }
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, verbose: true, strict: true });
export const validateShape = ajv.compile(configSchema);
