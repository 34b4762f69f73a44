// Migration guard rails: every hop moves the job to another node the lab has.
import { StackValidationPolicy } from "@pulumi/policy";
import { migrationSteps, nodeNames, Resource } from "./facts";

export const migrationTargetValid: StackValidationPolicy = {
    name: "migration-target-valid",
    description: "A migration moves the job to a different node that exists in the lab.",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
        const resources = args.resources as Resource[];
        const nodes = nodeNames(resources);
        const reported = new Set<string>();
        for (const s of migrationSteps(resources)) {
            if (reported.has(s.id)) continue;
            if (s.from === s.to) {
                report(`Migration ${s.id} moves the job to node ${s.to}, where it already runs; choose another node.`, s.resource.urn);
                reported.add(s.id);
            } else if (!nodes.has(s.to)) {
                report(`Migration ${s.id} targets node ${s.to}, which is not a lab node (${[...nodes].join(", ")}).`, s.resource.urn);
                reported.add(s.id);
            }
        }
    },
};

export const migrationPolicies = [migrationTargetValid];
