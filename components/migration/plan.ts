// The migration planner: turns the append-only list of migration requests into hops with a
// source and a target, and finds requests that cannot be carried out.
import { CONFIG_NAMESPACE } from "../config/schema";
import type { ConfigProblem } from "../config/problem";

export interface MigrationHop {
    readonly id: string;
    /** Position in the migrations list; hop i restores what hop i-1 left running. */
    readonly index: number;
    readonly from: string;
    readonly to: string;
}

export interface MigrationPlan {
    readonly hops: readonly MigrationHop[];
    /** Where the job runs once every hop is done. */
    readonly current: string;
    readonly problems: readonly ConfigProblem[];
}

/**
 * The job starts on `initialNode`; each request moves it from wherever the previous one left it.
 * Requests are history: `pulumi up` carries out the ones not yet done, in order, so the list is
 * only ever appended to.
 */
export function planMigrations(
    initialNode: string | undefined,
    requests: readonly { id: string; to: string }[],
    nodeNames: readonly string[],
): MigrationPlan {
    const problems: ConfigProblem[] = [];
    const hops: MigrationHop[] = [];
    const seen = new Map<string, number>();
    let at = initialNode; // undefined when the start is itself invalid: then only targets are checked
    requests.forEach((r, index) => {
        const path = `${CONFIG_NAMESPACE}:migrations[${index}]`;
        if (!r || typeof r.id !== "string" || typeof r.to !== "string") return; // shape errors come from the schema
        if (seen.has(r.id)) {
            problems.push({ path: `${path}.id`, message: `got "${r.id}", already used by migrations[${seen.get(r.id)}]; ids must be unique` });
        }
        seen.set(r.id, index);
        if (!nodeNames.includes(r.to)) {
            problems.push({ path: `${path}.to`, message: `got "${r.to}", which is not a node; allowed: ${nodeNames.map(n => `"${n}"`).join(", ")}` });
            return;
        }
        if (at === undefined) return;
        if (r.to === at) {
            problems.push({ path: `${path}.to`, message: `got "${r.to}", where the job already runs at that point; allowed: ${nodeNames.filter(n => n !== at).map(n => `"${n}"`).join(", ")}` });
            return;
        }
        hops.push({ id: r.id, index, from: at, to: r.to });
        at = r.to;
    });
    return { hops, current: at ?? "", problems };
}

/** A migration request as the errors show it. */
const show = (r: { id: string; to: string }) => `{id: ${r.id}, to: ${r.to}}`;

/** A hop as the previous update's `migrations` output recorded it. */
export interface DoneHop { readonly id: string; readonly from: string; readonly to: string }

/**
 * Hops already carried out (the last successful update's `migrations` output) must stay the head
 * of the list, in order and unchanged, and the job's start node must stay the same: removing,
 * reordering or editing one would delete or replace its resources and declare an older stage's pod
 * again, which restarts Flink from that stage (from scratch for the first). Refused instead.
 */
export function checkHistory(done: readonly DoneHop[], initialNode: string, requests: readonly { id: string; to: string }[]): ConfigProblem[] {
    if (done.length === 0) return [];
    const undo = "the list is append-only: put it back and append new requests after it (or `pulumi destroy` to start the lab over)";
    const problems: ConfigProblem[] = [];
    if (done[0].from !== initialNode) {
        problems.push({
            path: `${CONFIG_NAMESPACE}:flink.node`,
            message: `got "${initialNode}", but the job started on "${done[0].from}" and has moved since (${done.map(h => h.id).join(", ")}); ` +
                `a new start node would restart Flink from scratch: set it back to "${done[0].from}" (or \`pulumi destroy\` to start the lab over)`,
        });
    }
    done.forEach((h, i) => {
        const r = requests[i];
        if (r === undefined) {
            problems.push({ path: `${CONFIG_NAMESPACE}:migrations[${i}]`, message: `missing, but migration ${show(h)} was carried out there; ${undo}` });
        } else if (r.id !== h.id || r.to !== h.to) {
            problems.push({ path: `${CONFIG_NAMESPACE}:migrations[${i}]`, message: `got ${show(r)}, but migration ${show(h)} was carried out there; ${undo}` });
        }
    });
    return problems;
}

/**
 * `pulumi up` carries out one new request at a time, and only once the job runs: a restored pod is
 * declared for the newest stage alone, so of two new requests the earlier one's cutover would wait
 * for a restored pod nothing makes, and the first `pulumi up` has no pod to checkpoint yet.
 * `jobStarted`: the last successful update started the job (its `flink` output names a pod).
 * Requests already checked by checkHistory against `done` are not looked at again.
 */
export function checkPending(done: readonly DoneHop[], jobStarted: boolean, requests: readonly { id: string; to: string }[]): ConfigProblem[] {
    const pending = requests.slice(done.length);
    if (pending.length === 0) return [];
    const at = (i: number) => `${CONFIG_NAMESPACE}:migrations[${done.length + i}]`;
    if (!jobStarted) {
        return [{
            path: at(0),
            message: `got ${show(pending[0])}, but the Flink job has not been started by a successful \`pulumi up\` yet, so there is nothing to move: ` +
                `bring the lab up with an empty \`migrations\` list first, then append`,
        }];
    }
    return pending.slice(1).map((r, i) => ({
        path: at(i + 1),
        message: `got ${show(r)}, but ${show(pending[0])} before it has not been carried out yet; \`pulumi up\` carries out one new migration at a time: ` +
            `remove this entry, run \`pulumi up\`, then append it again`,
    }));
}
