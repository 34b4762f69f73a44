// Node programs: the bash and Python that run on nodes live in .sh and .py files beside the
// components that run them (components/*/programs/), readable and lintable on their own (the unit
// tests run shellcheck and a Python syntax check on every one). A program reaches its node as the
// command text of a remote command: a header, its inputs as shell variables quoted by `q` (the one
// quoting helper; values are never spliced into code), the helper libraries it names, then the file.
// Python programs travel the same way, as the value of a variable (PY_*) run with `python3 -c`.
import * as fs from "fs";
import * as path from "path";

/** Quotes a value for bash: the program's one quoting helper. */
export function q(value: string | number | boolean): string {
    return `'${String(value).replace(/'/g, `'\\''`)}'`;
}

/** Quotes each word for bash, space-separated. */
export const words = (values: readonly (string | number)[]) => values.map(q).join(" ");

const COMPONENTS = path.resolve(__dirname, "..");
const texts = new Map<string, string>();

/** The text of a node program, by its path under components/ (read once). */
export function programText(file: string): string {
    let text = texts.get(file);
    if (text === undefined) {
        text = fs.readFileSync(path.join(COMPONENTS, file), "utf8");
        texts.set(file, text);
    }
    return text;
}

/** A program's text without its shebang and shellcheck directive, to embed in another (a library). */
export const libraryText = (file: string) => programText(file).replace(/^#!.*\n/, "").replace(/^# shellcheck shell=bash\n/m, "");

export type ProgramInputs = Readonly<Record<string, string | number | boolean>>;

/**
 * The command text that runs `file` (a .sh path under components/) on a node: strict mode, an ERR
 * trap naming it by `label` (what it works on: "transfer m2"), `inputs` as shell variables
 * (UPPER_CASE names), the common library and `libs`.
 */
export function nodeProgram(file: string, label: string, inputs: ProgramInputs = {}, libs: readonly string[] = []): string {
    for (const k of Object.keys(inputs)) {
        if (!/^[A-Z][A-Z0-9_]*$/.test(k)) throw new Error(`${file}: input ${k} is not an UPPER_CASE shell variable name`);
    }
    // The label is text inside the trap's single-quoted command: it must not end that quoting.
    const said = label.replace(/[^A-Za-z0-9 ,._:/@+=-]/g, "_");
    return [
        "#!/usr/bin/env bash",
        `# live-migration-lab: ${said} (${file})`,
        "set -euo pipefail",
        `trap 'echo "live-migration-lab: ${said} failed on $(hostname) at line $LINENO" >&2' ERR`,
        // sudo's secure_path leaves out /usr/local on newer Debian (sid: /usr/sbin:/usr/bin:/sbin:/bin),
        // where release tarballs and the local lab put CRI-O and Kubernetes.
        'PATH="/usr/local/sbin:/usr/local/bin:$PATH"',
        ...Object.entries(inputs).map(([k, v]) => `${k}=${q(v)}`),
        libraryText("node/programs/lib.sh").trimEnd(),
        ...libs.map(l => libraryText(l).trimEnd()),
        libraryText(file).trimEnd(),
        "",
    ].join("\n");
}
