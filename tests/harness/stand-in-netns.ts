// A stand-in for the named network namespaces (`ip netns`, /run/netns) and this process's own
// (/proc/self/ns/net), for unit tests of where the engine runs against the local lab: a directory
// holding the lab's namespace of a state dir as a file, and a `self` link naming it or another.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ROOT } from "./engine-helpers";

export interface StandInNetns {
    /** The directory of named namespaces, and the "self" link (NETNS_PATHS' `named` and `self`). */
    readonly named: string;
    readonly self: string;
    /** The lab's namespace name and its file in `named`. */
    readonly ns: string;
    readonly file: string;
    /** Points `self` at the lab's namespace (inside) or at another one. */
    at(inside: boolean): void;
    remove(): void;
}

/** Made pointing inside the local lab's namespace of `stateDir`. */
export function standInNetns(stateDir: string): StandInNetns {
    const named = fs.mkdtempSync(path.join(os.tmpdir(), "lml-netns-"));
    const ns = execFileSync("bash", [path.join(ROOT, "scripts", "local-node.sh"), "lab-netns", stateDir], { encoding: "utf8" }).trim();
    const file = path.join(named, ns);
    const self = path.join(named, "self");
    fs.writeFileSync(file, "");
    const at = (inside: boolean) => {
        fs.rmSync(self, { force: true });
        fs.symlinkSync(`net:[${fs.statSync(file).ino + (inside ? 0 : 1)}]`, self);
    };
    at(true);
    return { named, self, ns, file, at, remove: () => fs.rmSync(named, { recursive: true, force: true }) };
}
