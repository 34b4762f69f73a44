// Lab nodes, as the node driver makes them (drivers/). Every driver hands the same NodeHandle to
// the rest of the program.
import * as pulumi from "@pulumi/pulumi";
import type { NodeHandle } from "./command";
import type { DeclareNodesArgs, NodeDriver } from "../drivers";

export interface LabNodesArgs extends DeclareNodesArgs {
    readonly driver: NodeDriver;
}

export class LabNodes extends pulumi.ComponentResource {
    /** One handle per configured node, in config order. */
    public readonly nodes: NodeHandle[];

    constructor(name: string, args: LabNodesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("lab:nodes:LabNodes", name, {}, opts);
        this.nodes = args.driver.declareNodes(this, name, args);
        this.registerOutputs({ nodes: this.nodes.map(n => ({ name: n.name, role: n.role, address: n.address })) });
    }
}
