// The live-migration-lab policy pack: run with `pulumi preview --policy-pack policy`.
// Each domain file holds its policies; this file only assembles them.
import { PolicyPack } from "@pulumi/policy";
import { crioPolicies } from "./crio";
import { criuPolicies } from "./criu";
import { flinkPolicies } from "./flink";
import { migrationPolicies } from "./migration";
import { securityPolicies } from "./security";

new PolicyPack("live-migration-lab", {
    policies: [...crioPolicies, ...criuPolicies, ...migrationPolicies, ...flinkPolicies, ...securityPolicies],
});
