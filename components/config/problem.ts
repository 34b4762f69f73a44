// One problem found in the stack config: its config path and a full-sentence message saying what
// was given and what to use instead. Every check of the config returns a list of these.
import { CONFIG_NAMESPACE } from "./schema";

export interface ConfigProblem {
    readonly path: string;
    readonly message: string;
}

/** A config path as `pulumi config` names it: `nodes[0].name` -> `live-migration-lab:nodes[0].name`. */
export const key = (path: string) => `${CONFIG_NAMESPACE}:${path}`;

/** What validation fills in as it checks: the config's types without their readonly. */
export type Mutable<T> = { -readonly [K in keyof T]: T[K] };
