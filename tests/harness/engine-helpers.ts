// Shared by the tests that drive the real Pulumi engine.
import { strict as assert } from "assert";
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

export const ROOT = path.resolve(__dirname, "..", "..");
export const FIXTURES = path.join(__dirname, "..", "fixtures");

export interface Run { status: number; out: string }

/** Runs pulumi (optionally inside a network namespace) with a file backend under `work`. */
export function pulumiRunner(work: string, netns?: string, extraEnv: Record<string, string> = {}, timeoutMs = 600_000) {
    const env = {
        ...process.env,
        ...extraEnv,
        PULUMI_BACKEND_URL: `file://${work}/state`,
        PULUMI_CONFIG_PASSPHRASE: "engine-test",
        PULUMI_SKIP_UPDATE_CHECK: "true",
    };
    fs.mkdirSync(path.join(work, "state"), { recursive: true });
    const pulumi = (args: string[], cwd: string, input?: string): Run => {
        const argv = netns ? ["nsenter", `--net=/run/netns/${netns}`, "--", "pulumi", ...args, "--non-interactive"] : ["pulumi", ...args, "--non-interactive"];
        const r = spawnSync(argv[0], argv.slice(1), { cwd, env, input, encoding: "utf8", timeout: timeoutMs });
        return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
    };
    const ok = (args: string[], cwd: string, input?: string): string => {
        const r = pulumi(args, cwd, input);
        assert.equal(r.status, 0, `pulumi ${args.join(" ")} failed:\n${r.out}`);
        return r.out;
    };
    /** Starts pulumi in the background, in a process group of its own (the caller may kill it whole); output to `log`. */
    const start = (args: string[], cwd: string, log: string): ChildProcess => {
        const argv = netns ? ["nsenter", `--net=/run/netns/${netns}`, "--", "pulumi", ...args, "--non-interactive"] : ["pulumi", ...args, "--non-interactive"];
        const out = fs.openSync(log, "a");
        const child = spawn(argv[0], argv.slice(1), { cwd, env, detached: true, stdio: ["ignore", out, out] });
        fs.closeSync(out);
        return child;
    };
    return { pulumi, ok, start, backend: path.join(work, "state") };
}

/** Fails with a pointer to scripts/lab.sh when no engine is installed. */
export function requireEngine(): void {
    const version = spawnSync("pulumi", ["version"], { encoding: "utf8" });
    assert.equal(version.status, 0, `no Pulumi engine on PATH; run the tests with scripts/lab.sh test, which installs it (${version.error ?? version.stderr})`);
}

/**
 * A copy of the project in a scratch directory, so that stack init (which writes the passphrase
 * salt into Pulumi.<stack>.yaml) never touches the repository's files.
 */
export function projectCopy(into: string): string {
    const dir = path.join(into, "project");
    fs.mkdirSync(dir);
    for (const f of ["Pulumi.yaml", "Pulumi.dev.yaml", "package.json", "tsconfig.json", "tsconfig.pulumi.json", "index.ts", "components", "policy", "images", "cri-proxy"]) {
        fs.cpSync(path.join(ROOT, f), path.join(dir, f), { recursive: true });
    }
    // scripts/ whole: the program runs some of them (local-node.sh and the init it starts, the build
    // scripts), and naming them one by one once left a new one out (nodes that never started).
    fs.cpSync(path.join(ROOT, "scripts"), path.join(dir, "scripts"), { recursive: true });
    fs.cpSync(path.join(FIXTURES, "cluster-stack"), path.join(dir, "tests", "fixtures", "cluster-stack"), { recursive: true });
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
    return dir;
}
