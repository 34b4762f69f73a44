// scripts/k8s-build.sh takes official release binaries only with the checksums their releases
// publish: run for real against a stand-in release tree (file:// URLs), with building forbidden
// (LAB_K8S_BUILD=0), so what it would fall back to is never reached.
import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const SCRIPT = path.join(__dirname, "..", "..", "scripts", "k8s-build.sh");
const ARCH = os.arch() === "arm64" ? "arm64" : "amd64";
const COMMANDS = ["kubeadm", "kubelet", "kubectl", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy"];
const sha = (b: string | Buffer) => crypto.createHash("sha256").update(b).digest("hex");

describe("k8s-build.sh's official downloads (a stand-in release tree)", () => {
    let dir: string;
    let env: NodeJS.ProcessEnv;
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "lml-k8s-"));
        const bin = path.join(dir, "release", "v1.34.1", "bin", "linux", ARCH);
        fs.mkdirSync(bin, { recursive: true });
        for (const c of COMMANDS) {
            const text = `#!/bin/sh\necho ${c}\n`;
            fs.writeFileSync(path.join(bin, c), text);
            fs.writeFileSync(path.join(bin, `${c}.sha256`), sha(text));
        }
        // The lab's CRI proxy counts as built already (its build needs Go, not the releases).
        const cache = path.join(dir, "cache");
        const digest = execFileSync("bash", [SCRIPT, "--proxy-digest"], { encoding: "utf8" }).trim();
        fs.mkdirSync(path.join(cache, `cri-proxy-${digest}`), { recursive: true });
        fs.writeFileSync(path.join(cache, `cri-proxy-${digest}`, "cri-proxy"), "");
        fs.writeFileSync(path.join(cache, `cri-proxy-${digest}`, ".built"), "");
        env = {
            ...process.env, LAB_K8S_CACHE: cache, LAB_K8S_BUILD: "0",
            LAB_K8S_RELEASES: `file://${dir}/release`, LAB_GITHUB: `file://${dir}/github`, LAB_GITHUB_RAW: `file://${dir}/raw`, LAB_CRIO_ARTIFACTS: `file://${dir}/crio`,
        };
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
    const run = () => spawnSync("bash", [SCRIPT, "1.34.1", "1.34"], { env, encoding: "utf8" });

    it("refuses a binary whose checksum is not the published one, and keeps nothing", () => {
        fs.appendFileSync(path.join(dir, "release", "v1.34.1", "bin", "linux", ARCH, "kubelet"), "tampered\n");
        const r = run();
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /no official release binaries \(\S+\/kubelet does not match its published checksum [0-9a-f]{64}\)/);
        assert.match(r.stderr, /LAB_K8S_BUILD=0 forbids building them/);
        assert.deepEqual(fs.readdirSync(path.join(dir, "cache")).filter(f => f.startsWith("bin-")), [], "no bin directory from unverified files");
    });

    it("says which download it could not get (the stand-in has no pause.c), and uses none", () => {
        const r = run();
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /no official release binaries \(cannot download file:\/\/\S+\/raw\/kubernetes\/kubernetes\/v1\.34\.1\/build\/pause\/linux\/pause\.c\)/);
        assert.deepEqual(fs.readdirSync(path.join(dir, "cache")).filter(f => f.startsWith("bin-")), []);
    });
});
