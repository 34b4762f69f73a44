// A Pulumi engine as scripts/lab.sh's ensure_engine finds one installed (the official CLI and the
// plugins at the versions package.json and the provider packages name), whose `pulumi` is a shell
// script of the test's: for running lab.sh for real without an engine or a lab.
import * as fs from "fs";
import * as path from "path";

const ROOT = path.join(__dirname, "..", "..");
const pkg = (p: string) => JSON.parse(fs.readFileSync(path.join(ROOT, p), "utf8"));

/** Makes PULUMI_HOME under `dir` with `pulumi` running `body` (sh; every call is logged to dir/pulumi.log); returns it. */
export function standInEngine(dir: string, body: string): string {
    const home = path.join(dir, "pulumi-home");
    const version = pkg("package.json").devDependencies.pulumi;
    const bin = path.join(home, "versions", version, "bin");
    fs.mkdirSync(bin, { recursive: true });
    fs.writeFileSync(path.join(bin, "pulumi"), `#!/bin/sh\necho "$*" >>"${dir}/pulumi.log"\n${body}\n`, { mode: 0o755 });
    fs.writeFileSync(path.join(bin, "pulumi-language-nodejs"), "#!/bin/sh\n", { mode: 0o755 });
    fs.writeFileSync(path.join(home, "engine-sources"), `pulumi-cli ${version} downloaded\n`);
    for (const p of ["command", "kubernetes"]) {
        const d = path.join(home, "plugins", `resource-${p}-v${pkg(`node_modules/@pulumi/${p}/package.json`).pulumi.version}`);
        fs.mkdirSync(d, { recursive: true });
        fs.writeFileSync(path.join(d, `pulumi-resource-${p}`), "#!/bin/sh\n", { mode: 0o755 });
    }
    return home;
}

/** The calls the stand-in engine received, in order. */
export function standInCalls(dir: string): string[] {
    const log = path.join(dir, "pulumi.log");
    return fs.existsSync(log) ? fs.readFileSync(log, "utf8").split("\n").filter(Boolean) : [];
}
