// Benchmarks that print figures (never asserted): `scripts/lab.sh npm run bench -- lab [--runs N]`.
//
// lab: a nodes-only local lab through the real engine: pulumi up from nothing and again with
// nothing to do, then N rounds of runc checkpoint (TCP workload) -> move image -> runc restore on
// the other node, then pulumi destroy. Needs root.
import * as os from "os";
import { performance } from "perf_hooks";
import { createLocalLab } from "../tests/local-lab-helpers";

function time<T>(samples: Record<string, number[]>, phase: string, f: () => T): T {
    const t = performance.now();
    const out = f();
    (samples[phase] ??= []).push((performance.now() - t) / 1000);
    return out;
}

function report(samples: Record<string, number[]>) {
    const cpu = os.cpus()[0]?.model ?? "unknown cpu";
    console.log(`machine: ${os.cpus().length} x ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Linux ${os.release()}, Node ${process.version}`);
    console.log("phase".padEnd(22) + "runs  median_s  min_s   max_s");
    for (const [phase, xs] of Object.entries(samples)) {
        const s = [...xs].sort((a, b) => a - b);
        const median = s[Math.floor(s.length / 2)];
        console.log(`${phase.padEnd(22)}${String(s.length).padEnd(6)}${median.toFixed(3).padEnd(10)}${s[0].toFixed(3).padEnd(8)}${s[s.length - 1].toFixed(3)}`);
    }
}

function benchLab(runs: number) {
    const samples: Record<string, number[]> = {};
    const lab = time(samples, "lab network + stack", () => createLocalLab("10.231.98.0/24"));
    try {
        time(samples, "pulumi up (cold)", () => lab.run.ok(["up", "--yes", "--stack", "lab"], lab.project));
        time(samples, "pulumi up (no change)", () => lab.run.ok(["up", "--yes", "--stack", "lab"], lab.project));
        lab.copyWorkload();
        for (let i = 0; i < runs; i++) {
            const [from, to] = i % 2 === 0 ? (["master", "worker"] as const) : (["worker", "master"] as const);
            lab.sshOk(from, "bash /tmp/container.sh clean; bash /tmp/container.sh run; sleep 1");
            lab.sshOk(to, "bash /tmp/container.sh clean");
            time(samples, "runc checkpoint", () => lab.sshOk(from, "bash /tmp/container.sh checkpoint"));
            time(samples, "move image", () => lab.moveImage(from, to));
            time(samples, "runc restore", () => lab.sshOk(to, "bash /tmp/container.sh restore"));
            lab.sshOk(to, "bash /tmp/container.sh clean");
            lab.sshOk(from, "bash /tmp/container.sh clean");
        }
        time(samples, "pulumi destroy", () => lab.run.ok(["destroy", "--yes", "--stack", "lab"], lab.project));
    } finally {
        lab.destroy();
        lab.dispose();
    }
    report(samples);
}

const [which = "lab", ...rest] = process.argv.slice(2);
const runs = Number(rest[rest.indexOf("--runs") + 1] ?? 3) || 3;
if (which !== "lab") {
    console.error(`unknown benchmark "${which}"; available: lab`);
    process.exit(2);
}
benchLab(runs);
