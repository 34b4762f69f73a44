// The validated stack config as the program reads it (LabConfig) and its parts: types only, so that
// what renders a part (flink.ts, pod.ts, the drivers) can name it without loading validation
// (config.ts), which itself reads some of them (the Flink pod's memory).
import type { MigrationPlan, MigrationRequest } from "../migration/plan";
import type { CriuOptions } from "../node/criu";
import type { CheckpointRestoreLevel } from "../node/crio";

export type Driver = "local" | "vagrant" | "existing";
export type Role = "master" | "worker";

export interface NodeSpec {
    readonly name: string;
    readonly role: Role;
    readonly address?: string;
    readonly sshUser: string;
    readonly sshPort: number;
    /** KubeletConfiguration settings of this node, over the lab's own. */
    readonly kubelet: Record<string, unknown>;
}

export type { MigrationRequest } from "../migration/plan";

/** The built-in Flink job's workload name (migrations[].workload). */
export const FLINK_WORKLOAD = "flink";

/** A container of a workload the stack brings (workloads[].containers[]). */
export interface ContainerSpec {
    readonly name: string;
    readonly image: string;
    /** Debian packages the local lab builds `image` from; empty: pulled. */
    readonly packages: readonly string[];
    readonly command: readonly string[];
    readonly args: readonly string[];
    readonly env: Readonly<Record<string, string>>;
    readonly ports: readonly number[];
    readonly memoryMb: number;
}

/** A pod the stack brings (workloads[]): the lab runs it and migrates it when asked. */
export interface WorkloadSpec {
    readonly name: string;
    /** The node it starts on. */
    readonly node: string;
    readonly containers: readonly ContainerSpec[];
    /** Run in `container`; prints the progress figure (never goes back) and optionally an identity (never changes). */
    readonly probe: { readonly container: string; readonly command: readonly string[] };
}

export interface FlinkSpec {
    /** false: the lab runs no Flink job. */
    readonly enabled: boolean;
    readonly version: string;
    readonly image: string;
    readonly job: "StateMachineExample" | "TopSpeedWindowing";
    readonly args: readonly string[];
    readonly parallelism: number;
    readonly jobManagerMemory: string;
    readonly taskManagerMemory: string;
    readonly checkpointIntervalMs: number;
    /** The node the job starts on. */
    readonly node: string;
}

export interface LabConfig {
    readonly driver: Driver;
    readonly nodes: readonly NodeSpec[];
    /** Whether sshPrivateKey was set, and whether as a Pulumi secret. Its value is read separately. */
    readonly sshPrivateKey: "absent" | "secret" | "plain";
    readonly local: { readonly stateDir: string; readonly subnet: string };
    readonly vagrant: { readonly provider: "libvirt" | "virtualbox"; readonly box: string; readonly cpus: number; readonly memoryMb: number; readonly subnet: string };
    readonly existing: { readonly install: "packages" | "present"; readonly services: "systemd" | "supervised"; readonly images: "pull" | "build" };
    readonly criu: CriuOptions;
    readonly crio: {
        readonly version: string;
        readonly runtime: "runc" | "crun";
        readonly checkpointRestore: CheckpointRestoreLevel;
        readonly settings: Record<string, unknown>;
    };
    readonly kubernetes: { readonly version: string; readonly namespace: string; readonly enabled: boolean; readonly ignorePreflightErrors: readonly string[]; readonly kubeProxy: Record<string, unknown> };
    readonly flink: FlinkSpec;
    /** The pods the stack brings besides the Flink job. */
    readonly workloads: readonly WorkloadSpec[];
    /** As the stack wrote them (`workload` may be left out); the plan's hops name it. */
    readonly migrations: readonly MigrationRequest[];
    /** The migrations as hops, from where each workload starts (planned once, here, where they are checked). */
    readonly plan: MigrationPlan;
    /** `restore` is resolved here: the driver's default when the config leaves it out. */
    readonly archive: { readonly dir: string; readonly keep: number; readonly restore: RestoreMode };
    readonly cutover: { readonly maxPauseSeconds: number };
    /** What the user should know but that does not stop the program (a Kubernetes out of support, ...). */
    readonly warnings: readonly string[];
}

/** How a migration's target restores: straight from the archive (the CRI proxy), or from a checkpoint image. */
export type RestoreMode = "direct" | "image";
