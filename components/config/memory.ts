// Whether the workloads' pods fit where they start and where each hop restores them, beside what
// runs there (the local lab's nodes share one machine's memory; a vagrant VM keeps some for itself).
import type { MigrationPlan, WorkloadStart } from "../migration/plan";
import { flinkPodMemoryMb } from "../flink/flink";
import { FLINK_WORKLOAD } from "./types";
import type { FlinkSpec, WorkloadSpec } from "./types";
import { ConfigProblem, key } from "./problem";

/** Memory limit of each workload's pod, in MB (the Flink pod's as its manifest sets it; 0 where the schema refused a size). */
export function podMemoryMb(flink: Partial<FlinkSpec>, workloads: readonly Partial<WorkloadSpec>[]): Map<string, number> {
    const sized = typeof flink.jobManagerMemory === "string" && typeof flink.taskManagerMemory === "string";
    const out = new Map<string, number>([[FLINK_WORKLOAD, sized ? flinkPodMemoryMb(flink as FlinkSpec) : 0]]);
    for (const w of workloads) {
        if (typeof w?.name === "string" && Array.isArray(w.containers)) out.set(w.name, w.containers.reduce((sum, x) => sum + (typeof x?.memoryMb === "number" ? x.memoryMb : 0), 0));
    }
    return out;
}

/**
 * The workloads' pods must fit where they run: where they start, and on each hop's target, where
 * the restored pod is made beside what runs there while the source's pod still exists. `capacityMb`:
 * what pods may take on a node (undefined: not known, as on existing hosts); `sharedHost`: the
 * nodes share one machine's memory (the local lab).
 */
export function checkMemory(plan: MigrationPlan, starts: readonly WorkloadStart[], memory: ReadonlyMap<string, number>, capacityMb: number | undefined, sharedHost: boolean): ConfigProblem[] {
    if (capacityMb === undefined) return [];
    const pool = (node: string) => (sharedHost ? "" : node);
    const where = (node: string) => (sharedHost ? "this machine, which all the local lab's nodes share," : `node ${node}, which`);
    const problems: ConfigProblem[] = [];
    const running = new Map<string, string>(); // workload -> node
    const load = (node: string) => [...running].filter(([, n]) => pool(n) === pool(node)).reduce((sum, [w]) => sum + (memory.get(w) ?? 0), 0);
    for (const s of starts) {
        if (s.node === undefined) continue;
        const need = memory.get(s.name) ?? 0;
        const used = load(s.node);
        if (used + need > capacityMb) {
            problems.push({ path: key(s.nodePath.replace(/\.node$/, "")), message: `needs ${need} MB for its pod on ${s.node}, but ${where(s.node)} has ${capacityMb} MB for pods and ${used} MB of it go to the workloads before it: lower its memory or start it on another node` });
        }
        running.set(s.name, s.node);
    }
    for (const hop of plan.hops) {
        const need = memory.get(hop.workload) ?? 0;
        const used = load(hop.to);
        if (used + need > capacityMb) {
            problems.push({ path: key(`migrations[${hop.index}].to`), message: `got "${hop.to}": workload ${hop.workload}'s restored pod needs ${need} MB beside the ${used} MB running there while the hop runs, but ${where(hop.to)} has ${capacityMb} MB for pods; move another workload away first` });
        }
        running.set(hop.workload, hop.to);
    }
    return problems;
}
