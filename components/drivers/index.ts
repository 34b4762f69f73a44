// Node drivers: what differs between the local lab, Vagrant VMs and hosts the user already has,
// behind one interface. Only this folder (and config validation) knows which driver a lab uses:
// everything else asks the NodeDriver.
//
// Modelled on kind's providers (pkg/cluster/internal/providers/provider.go): one interface, one
// module per implementation, chosen once from the config.
import type { LabConfig } from "../config/types";
import type { NodeDriver } from "./driver";
import { localDriver } from "./local";
import { vagrantDriver } from "./vagrant";
import { existingDriver } from "./existing";

export type { DeclareNodesArgs, NodeDriver, NodeRuntimeFacts } from "./driver";
export { nodeAddress } from "./address";

/** The driver the config names. */
export function driverFor(c: LabConfig): NodeDriver {
    switch (c.driver) {
        case "local": return localDriver(c);
        case "vagrant": return vagrantDriver(c);
        case "existing": return existingDriver(c);
    }
}
