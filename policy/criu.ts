// CRIU guard rails: a pod with established TCP connections can only be checkpointed when the
// CRIU config file the runtime reads allows it (CRI-O never passes --tcp-established itself).
import { StackValidationPolicy } from "@pulumi/policy";
import { parseCriuConf } from "../components/node/criu";
import { TCP_ANNOTATION } from "../components/flink/flink";
import { managedFiles, nodeNames, POD, Resource } from "./facts";

const CRIU_CONF = /^\/etc\/criu\/(runc|crun)\.conf$/;

export const criuTcpEstablished: StackValidationPolicy = {
    name: "criu-tcp-established",
    description: "Nodes have tcp-established (or tcp-close) in their CRIU config file while a pod with TCP connections is deployed.",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
        const resources = args.resources as Resource[];
        const tcpPods = resources.filter(r => r.type === POD && r.props.metadata?.annotations?.[TCP_ANNOTATION] !== undefined);
        if (tcpPods.length === 0) return;
        const pods = tcpPods.map(p => p.props.metadata?.name ?? p.name).join(", ");
        const files = managedFiles(resources).filter(f => CRIU_CONF.test(f.path));
        for (const node of nodeNames(resources)) {
            const conf = files.find(f => f.node === node && f.path.endsWith("runc.conf"));
            if (!conf) {
                report(`Node ${node} gets no /etc/criu/runc.conf while pod ${pods} holds TCP connections; CRIU will fail with "Connected TCP socket, consider using --tcp-established option". Set criu.dump and criu.restore.`);
                continue;
            }
            if (conf.content === undefined) continue;
            const options = parseCriuConf(conf.content);
            if (!options.includes("tcp-established") && !options.includes("tcp-close")) {
                report(`${conf.path} on node ${node} lacks tcp-established while pod ${pods} holds TCP connections; CRIU will fail with "Connected TCP socket, consider using --tcp-established option". Add tcp-established to criu.dump and criu.restore.`, conf.resource.urn);
            }
        }
    },
};

export const criuPolicies = [criuTcpEstablished];
