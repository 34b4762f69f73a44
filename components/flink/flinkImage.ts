// The Flink image on every node of the local lab, built there with buildah from the inputs that
// scripts/flink-build.sh made on the host. Clusters with a registry pull the official image instead
// and need nothing from this component.
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { jsonStdout, NodeHandle, nodeCommand } from "../node/command";
import { flinkImageScript } from "./flink";
import { removeImageScript } from "../node/scripts";

/** The recipe the inputs come from; its digest is part of the image command's identity. */
const POM = path.join(__dirname, "..", "..", "images", "flink", "pom.xml");

export interface FlinkImageArgs {
    readonly version: string;
    readonly image: string;
    readonly nodes: readonly NodeHandle[];
}

export interface BuiltImage { image: string; id: string; inputs: string; built: boolean; seconds: number }

export class FlinkImage extends pulumi.ComponentResource {
    /** Per node: the image id (the same on every node, or restores would fail). */
    public readonly ids: pulumi.Output<Record<string, string>>;
    /** The build commands, for dependsOn. */
    public readonly commands: pulumi.Resource[];

    constructor(name: string, args: FlinkImageArgs, opts?: pulumi.ComponentResourceOptions) {
        super("lab:flink:FlinkImage", name, {}, opts);
        const recipe = crypto.createHash("sha256").update(fs.readFileSync(POM)).digest("hex").slice(0, 16);
        const builds = args.nodes.map(n => nodeCommand(`${name}-${n.name}`, {
            node: n,
            create: flinkImageScript(args.version, args.image),
            // An image a pod still uses stays (buildah refuses); the node's store goes with the node.
            delete: removeImageScript(args.image),
            triggers: [{ lab: "node-check", node: n.name, check: `flink-image ${args.image} recipe ${recipe}` }],
            timeoutMinutes: 15,
        }, { parent: this }));
        this.commands = builds;
        this.ids = pulumi.all(builds.map(b => jsonStdout<BuiltImage>(b))).apply(outs => {
            const ids = Object.fromEntries(outs.map((o, i) => [args.nodes[i].name, o.id]));
            if (new Set(Object.values(ids)).size > 1) {
                throw new pulumi.ResourceError(`the Flink image ${args.image} has different ids on the nodes (${JSON.stringify(ids)}); a checkpoint restores only on its own base image id`, this);
            }
            return ids;
        });
        this.registerOutputs({ ids: this.ids });
    }
}
