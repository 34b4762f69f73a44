// The flink-minimal pod and its configuration, at the node and image of its current stage.
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import type { FlinkSpec } from "../config/types";
import { FLINK_POD, flinkPodManifest, renderFlinkConf, renderLog4j } from "./flink";
import { restoredPodIgnores } from "../workload/pod";

export interface FlinkStage {
    /** "initial", or the id of the migration that produced this pod. */
    readonly id: string;
    readonly node: string;
    /** The Flink image, or the checkpoint image a migration made. */
    readonly image: pulumi.Input<string>;
    readonly pull: boolean;
    /** For a pod restored straight from an archive: its path on the pod's node (the CRI proxy reads it). */
    readonly restoreArchive?: string;
    /** What the pod is made after, besides the cluster (a migration's steps). */
    readonly after?: pulumi.Input<pulumi.Resource>[];
    /** For a restored pod: which attempt of its migration made it; `retrying` lets a new one replace it. */
    readonly attempt?: { readonly value: string; readonly retrying: boolean };
}

export interface FlinkJobArgs {
    readonly spec: FlinkSpec;
    readonly namespace: string;
    readonly stage: FlinkStage;
    readonly provider: k8s.Provider;
    readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/** The ConfigMap holding Flink's config.yaml and log4j settings. */
const CONF_MAP = "flink-minimal-conf";

/** Kubernetes name of the pod of a stage; stages exist side by side while a migration runs. */
export const podName = (stageId: string) => (stageId === "initial" ? FLINK_POD : `${FLINK_POD}-${stageId}`);

export class FlinkJob extends pulumi.ComponentResource {
    /** Kubernetes name of the running pod. */
    public readonly podName: string;
    /** The node it runs on. */
    public readonly node: string;
    public readonly pod: k8s.core.v1.Pod;

    constructor(name: string, args: FlinkJobArgs, opts?: pulumi.ComponentResourceOptions) {
        super("lab:flink:FlinkJob", name, {}, opts);
        const conf = new k8s.core.v1.ConfigMap(`${name}-conf`, {
            metadata: { name: CONF_MAP, namespace: args.namespace },
            data: {
                "config.yaml": renderFlinkConf(args.spec),
                "log4j-console.properties": renderLog4j(),
            },
        }, { parent: this, provider: args.provider, dependsOn: args.dependsOn });

        this.podName = podName(args.stage.id);
        this.node = args.stage.node;
        // The logical name carries the stage: when a migration adds a stage, Pulumi creates the
        // new pod first and deletes the old stage's pod only after the whole update succeeded,
        // so a failed migration leaves the source job running.
        const manifest = pulumi.output(args.stage.image).apply(image => flinkPodManifest({
            name: this.podName, namespace: args.namespace, nodeName: args.stage.node, image,
            configMapName: CONF_MAP, stage: args.stage.id, spec: args.spec, pull: args.stage.pull,
            attempt: args.stage.attempt?.value, restoreArchive: args.stage.restoreArchive,
        }));
        this.pod = new k8s.core.v1.Pod(`${name}-${args.stage.id}`, {
            metadata: manifest.metadata,
            spec: manifest.spec,
        }, {
            parent: this, provider: args.provider, dependsOn: [conf, ...(args.dependsOn ?? []), ...(args.stage.after ?? [])],
            // The attempt only replaces the pod when its migration is being redone (see migration.ts).
            // A restored pod's processes come from its archive, so no change of its containers can
            // reach them: replacing the pod would restore the same archive again, the job back where
            // it was at that hop. Its containers are left alone until the hop is redone (see
            // restoredPodIgnores). Pods made before they tolerated their node's outage are not
            // replaced for it (that would restart the job): the next migration's pod has them.
            ignoreChanges: [...restoredPodIgnores(args.stage.id, args.stage.attempt, ["spec.containers[0].env"]), "spec.tolerations"],
        });
        this.registerOutputs({ podName: this.podName, node: this.node });
    }
}
