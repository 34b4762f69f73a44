// The migration planner: turns the append-only list of migration requests into hops with a
// workload, a source and a target, and finds requests that cannot be carried out. Every workload
// the lab runs (the Flink job, the pods the stack brings) moves on its own; a hop's source is where
// that workload's previous hop left it.
import { CONFIG_NAMESPACE } from "../config/schema";
import type { ConfigProblem } from "../config/problem";

export interface MigrationHop {
    readonly id: string;
    /** Position in the migrations list. */
    readonly index: number;
    /** The workload it moves. */
    readonly workload: string;
    readonly from: string;
    readonly to: string;
    /** The id of the same workload's hop before it, whose restored pod this one checkpoints; undefined: the initial pod. */
    readonly previous?: string;
}

export interface MigrationPlan {
    readonly hops: readonly MigrationHop[];
    /** Where each workload runs once every hop is done. */
    readonly current: Readonly<Record<string, string>>;
    /** The workloads and where each starts. */
    readonly starts: readonly WorkloadStart[];
    readonly problems: readonly ConfigProblem[];
}

/** A workload and the node it starts on (undefined when that is itself invalid). */
export interface WorkloadStart {
    readonly name: string;
    readonly node: string | undefined;
    /** The config path of its start node (flink.node, workloads[i].node). */
    readonly nodePath: string;
}

/** A migration request; `workload` may be left out when the stack runs one workload. */
export interface MigrationRequest { readonly id: string; readonly to: string; readonly workload?: string }

/**
 * The workload a request moves: the one it names, or the stack's only one. Undefined (with a
 * problem) when it names none of them or leaves it out among several.
 */
export function workloadOf(r: MigrationRequest, index: number, workloads: readonly string[], recorded: ReadonlyMap<string, string> = new Map()): { workload?: string; problem?: ConfigProblem } {
    const path = `${CONFIG_NAMESPACE}:migrations[${index}].workload`;
    const allowed = workloads.map(w => `"${w}"`).join(", ");
    if (workloads.length === 0) {
        return { problem: { path: `${CONFIG_NAMESPACE}:migrations[${index}]`, message: `got ${show(r)}, but the stack runs no workload to move (flink.enabled is false and workloads is empty)` } };
    }
    if (r.workload === undefined) {
        // A carried-out entry keeps meaning the workload it moved when it was written, whatever
        // workloads came or went since: the last update recorded which one that was.
        const moved = recorded.get(r.id);
        if (moved !== undefined && workloads.includes(moved)) return { workload: moved };
        if (moved !== undefined) return { problem: { path, message: `missing, and this carried-out hop moved workload ${moved}, which the stack no longer runs; history stays as it was: run ${moved} again, or start a new stack` } };
        if (workloads.length === 1) return { workload: workloads[0] };
        return { problem: { path, message: `missing; the stack runs ${workloads.length} workloads, so each migration names the one it moves; allowed: ${allowed}` } };
    }
    if (!workloads.includes(r.workload)) return { problem: { path, message: `got "${r.workload}", which is not a workload of this stack; allowed: ${allowed}` } };
    return { workload: r.workload };
}

/**
 * Each workload starts on its start node; each request moves its workload from wherever that
 * workload's previous request left it. Requests are history: `pulumi up` carries out the ones not
 * yet done, in order, so the list is only ever appended to.
 */
export function planMigrations(
    starts: readonly WorkloadStart[],
    requests: readonly MigrationRequest[],
    nodeNames: readonly string[],
    /** The workload each carried-out hop moved (by id), as the last update recorded it. */
    recorded: ReadonlyMap<string, string> = new Map(),
): MigrationPlan {
    const problems: ConfigProblem[] = [];
    const hops: MigrationHop[] = [];
    const seen = new Map<string, number>();
    const names = starts.map(s => s.name);
    // Where each workload is, and its newest hop; undefined when its start is itself invalid (then only targets are checked).
    const at = new Map<string, string | undefined>(starts.map(s => [s.name, s.node]));
    const last = new Map<string, string>();
    requests.forEach((r, index) => {
        const path = `${CONFIG_NAMESPACE}:migrations[${index}]`;
        if (!r || typeof r.id !== "string" || typeof r.to !== "string") return; // shape errors come from the schema
        if (seen.has(r.id)) {
            problems.push({ path: `${path}.id`, message: `got "${r.id}", already used by migrations[${seen.get(r.id)}]; ids must be unique` });
        }
        seen.set(r.id, index);
        const { workload, problem } = workloadOf(r, index, names, recorded);
        if (problem) problems.push(problem);
        if (!nodeNames.includes(r.to)) {
            problems.push({ path: `${path}.to`, message: `got "${r.to}", which is not a node; allowed: ${nodeNames.map(n => `"${n}"`).join(", ")}` });
            return;
        }
        if (workload === undefined) return;
        const from = at.get(workload);
        if (from === undefined) return;
        if (r.to === from) {
            const what = names.length > 1 ? `workload ${workload}` : "the job";
            problems.push({ path: `${path}.to`, message: `got "${r.to}", where ${what} already runs at that point; allowed: ${nodeNames.filter(n => n !== from).map(n => `"${n}"`).join(", ")}` });
            return;
        }
        hops.push({ id: r.id, index, workload, from, to: r.to, previous: last.get(workload) });
        at.set(workload, r.to);
        last.set(workload, r.id);
    });
    return { hops, current: Object.fromEntries([...at].map(([w, n]) => [w, n ?? ""])), starts, problems };
}

/** A migration request as the errors show it. */
const show = (r: MigrationRequest) => (r.workload === undefined ? `{id: ${r.id}, to: ${r.to}}` : `{id: ${r.id}, workload: ${r.workload}, to: ${r.to}}`);

/** A hop as the previous update's `migrations` output recorded it (outputs from before workloads: the Flink job's). */
export interface DoneHop { readonly id: string; readonly workload: string; readonly from: string; readonly to: string }

/** The hops a stack's `migrations` output recorded; one without a workload (outputs from before workloads) moved `unnamed`. */
export function doneHops(output: unknown, unnamed: string): DoneHop[] {
    const ok = (h: any): h is DoneHop => typeof h?.id === "string" && typeof h?.from === "string" && typeof h?.to === "string";
    return Array.isArray(output) ? output.filter(ok).map(h => ({ id: h.id, workload: typeof h.workload === "string" ? h.workload : unnamed, from: h.from, to: h.to })) : [];
}

/**
 * Hops already carried out (the last successful update's `migrations` output) must stay the head
 * of the list, in order and unchanged, and each workload's start node must stay the same: removing,
 * reordering or editing one would delete or replace its resources and declare an older stage's pod
 * again, which restarts the workload from that stage (from scratch for the first). Refused instead.
 * `requests` name their workload (validateConfig fills in the stack's only one); `show` tells how
 * a request reads in the messages (as the stack wrote it).
 */
export function checkHistory(done: readonly DoneHop[], starts: readonly WorkloadStart[], requests: readonly Required<MigrationRequest>[],
    written: readonly MigrationRequest[] = requests): ConfigProblem[] {
    if (done.length === 0) return [];
    const undo = "the list is append-only: put it back and append new requests after it (or `pulumi destroy` to start the lab over)";
    const problems: ConfigProblem[] = [];
    const several = new Set(done.map(h => h.workload)).size > 1 || starts.length > 1;
    const showDone = (h: DoneHop) => show(several ? h : { id: h.id, to: h.to });
    for (const s of starts) {
        const moved = done.filter(h => h.workload === s.name);
        if (moved.length === 0 || moved[0].from === s.node) continue;
        const what = s.name === "flink" ? "the job" : `workload ${s.name}`;
        problems.push({
            path: `${CONFIG_NAMESPACE}:${s.nodePath}`,
            message: `got "${s.node}", but ${what} started on "${moved[0].from}" and has moved since (${moved.map(h => h.id).join(", ")}); ` +
                `a new start node would restart it from scratch: set it back to "${moved[0].from}" (or \`pulumi destroy\` to start the lab over)`,
        });
    }
    done.forEach((h, i) => {
        const r = requests[i];
        if (r === undefined) {
            problems.push({ path: `${CONFIG_NAMESPACE}:migrations[${i}]`, message: `missing, but migration ${showDone(h)} was carried out there; ${undo}` });
        } else if (r.id !== h.id || r.to !== h.to || r.workload !== h.workload) {
            problems.push({ path: `${CONFIG_NAMESPACE}:migrations[${i}]`, message: `got ${show(written[i] ?? r)}, but migration ${showDone(h)} was carried out there; ${undo}` });
        }
    });
    return problems;
}

/**
 * `pulumi up` carries out one new request at a time, and only once its workload runs: a restored
 * pod is declared for a workload's newest stage alone, so of two new requests the earlier one's
 * cutover could wait for a restored pod nothing makes, and a workload the last update did not
 * start has no pod to checkpoint yet. `started`: the workloads the last successful update started
 * (its outputs name their pods). Requests already checked by checkHistory against `done` are not
 * looked at again.
 */
export function checkPending(done: readonly DoneHop[], started: ReadonlySet<string>, requests: readonly Required<MigrationRequest>[],
    written: readonly MigrationRequest[] = requests): ConfigProblem[] {
    const pending = requests.slice(done.length);
    if (pending.length === 0) return [];
    const at = (i: number) => `${CONFIG_NAMESPACE}:migrations[${done.length + i}]`;
    const shown = (i: number) => show(written[done.length + i] ?? pending[i]);
    if (!started.has(pending[0].workload)) {
        const what = pending[0].workload === "flink" ? "the Flink job" : `workload ${pending[0].workload}`;
        return [{
            path: at(0),
            message: `got ${shown(0)}, but ${what} has not been started by a successful \`pulumi up\` yet, so there is nothing to move: ` +
                `bring it up without this migration first, then append it`,
        }];
    }
    return pending.slice(1).map((_, i) => ({
        path: at(i + 1),
        message: `got ${shown(i + 1)}, but ${shown(0)} before it has not been carried out yet; \`pulumi up\` carries out one new migration at a time: ` +
            `remove this entry, run \`pulumi up\`, then append it again`,
    }));
}
