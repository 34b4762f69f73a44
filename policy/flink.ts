// Flink guard rails: the job must run unbounded, or there is nothing left to migrate.
import { ResourceValidationPolicy } from "@pulumi/policy";
import { CONFIG_MAP, POD } from "./facts";

/** Why a job launch line is bounded, or undefined. */
export function boundedJob(text: string): string | undefined {
    // As written by hand or as the program renders each word ('--input'); one dash is the same to Flink's ParameterTool.
    if (/(^|\s)'?--?input(=|'?(\s|$))/.test(text)) return "reads a file with --input, so the job finishes";
    if (/WordCount(\.jar)?\b/.test(text)) return "runs WordCount, a batch-style example that finishes";
    return undefined;
}

export const flinkJobUnbounded: ResourceValidationPolicy = {
    name: "flink-job-unbounded",
    description: "The Flink job in flink-minimal is unbounded (StateMachineExample, TopSpeedWindowing), so it is still running when migrated.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        const texts: string[] = [];
        if (args.type === CONFIG_MAP && String(args.props.metadata?.name ?? "").startsWith("flink-minimal")) {
            texts.push(...Object.values<string>(args.props.data ?? {}));
        }
        if (args.type === POD && args.props.metadata?.labels?.app === "flink-minimal") {
            for (const c of args.props.spec?.containers ?? []) texts.push([...(c.command ?? []), ...(c.args ?? [])].join(" "));
        }
        for (const t of texts) {
            const why = boundedJob(t);
            if (why) report(`${args.props.metadata?.name ?? args.name} ${why}; use StateMachineExample or TopSpeedWindowing without --input.`);
        }
    },
};

export const flinkPolicies = [flinkJobUnbounded];
