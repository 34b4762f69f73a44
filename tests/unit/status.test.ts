// scripts/lab.sh status and timeline, from a stack's outputs (scripts/status.ts), and through lab.sh
// itself with a stand-in engine whose `stack output --json` answers with those outputs.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { statusText, timelineSvg } from "../../scripts/status";
import { standInEngine } from "../harness/stand-in-engine";

const ROOT = path.join(__dirname, "..", "..");
const T0 = 1_795_000_000_000;
const hop = (id: string, workload: string, from: string, to: string, before: number, after: number) => ({
    id, workload, from, to, attempt: "first", sourceArchive: "/s.tar", archive: "/a.tar", sha256: "ab", sizeBytes: 8.5 * 1048576,
    restoredFrom: "image" as const, image: "i", jobId: "7", records: { before, after }, rssBytes: 9 * 1048576,
    seconds: { checkpoint: 1.4, transfer: 0.3, image: 2.4, restore: 1.2, cutover: 1.8 }, noProgressSeconds: 5.25,
    criu: { dump: { unavailable: "x" }, restore: { unavailable: "y" } },
    timeline: { checkpointAt: T0, pausedAt: T0 + 30, dumpedAt: T0 + 900, heldAt: T0 + 1400, transferAt: T0 + 1500, imageAt: T0 + 1800, restoredAt: T0 + 5280, cutoverAt: T0 + 5300, committedAt: T0 + 7000 },
});
// As `pulumi stack output --json` prints a lab with the Redis workload moved twice (kubeconfig hidden).
const OUTPUTS = {
    nodes: [{ name: "master", role: "master", address: "10.231.0.10" }, { name: "worker", role: "worker", address: "10.231.0.11" }],
    criu: {
        master: { criu: "4.2.1", check: "ok", cgroup: "v2", kernel: "7.2.13+deb14-amd64", init: "systemd" },
        worker: { criu: "4.2.1", check: "ok", cgroup: "v2", kernel: "7.2.13+deb14-amd64", init: "systemd" },
    },
    workloads: { redis: { pod: "redis-v2", node: "master", image: "localhost/redis-lab:1" } },
    migrations: [hop("v1", "redis", "master", "worker", 120, 131), hop("v2", "redis", "worker", "master", 140, 152)],
    kubeconfig: "[secret]", warnings: ["Kubernetes 1.34 is out of support"],
};

describe("lab.sh status and timeline (scripts/status.ts)", () => {
    it("shows each node, where each workload runs with its last verified figure, and the last hops with their windows", () => {
        const text = statusText(OUTPUTS);
        assert.match(text, /^nodes\n {2}name +role +address +cgroup +init +kernel +CRIU\n {2}master +master +10\.231\.0\.10 +v2 +systemd +7\.2\.13\+deb14-amd64 +4\.2\.1\n/);
        assert.match(text, /\nworkloads\n.*\n {2}redis +master +redis-v2 +152 \(after v2\) +7 +localhost\/redis-lab:1\n/);
        assert.match(text, /\nhops\n.*no progress.*\n {2}v1 +redis +master -> worker +5\.25 s +1\.40 s +0\.30 s +1\.20 s +120 -> 131 +8\.5 MB\n {2}v2 +redis +worker -> master/);
        assert.match(text, /\nwarning: Kubernetes 1\.34 is out of support\n$/);
        assert.match(statusText(OUTPUTS, 1), /hops \(the last 1 of 2\)\n.*\n {2}v2 /);
        assert.match(statusText({ ...OUTPUTS, migrations: null, workloads: null }), /workloads\n {2}none .*\n\nhops\n {2}none carried out yet/);
    });

    it("draws the timeline of any carried-out hop from its outputs, and names the hops there are when asked for another", () => {
        assert.match(timelineSvg(OUTPUTS), /migration v2: worker -&gt; master/);
        const svg = timelineSvg(OUTPUTS, "v1");
        assert.match(svg, /migration v1: master -&gt; worker/);
        assert.ok(svg.includes("no progress 5.3 s") && !/NaN|undefined/.test(svg));
        assert.throws(() => timelineSvg(OUTPUTS, "v9"), /no hop v9; carried out: v1, v2/);
    });

    describe("through lab.sh, with a stand-in engine", () => {
        let dir: string;
        beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "lml-status-")); });
        afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
        const labSh = (outputs: unknown, ...args: string[]) => {
            fs.writeFileSync(path.join(dir, "outputs.json"), JSON.stringify(outputs));
            const home = standInEngine(dir, `case "$1 $2" in "stack output") [ "$(cat "${dir}/outputs.json")" != null ] && cat "${dir}/outputs.json" || exit 255 ;; esac`);
            return spawnSync("bash", [path.join(ROOT, "scripts", "lab.sh"), ...args], {
                encoding: "utf8", cwd: ROOT,
                env: { ...process.env, PATH: `${path.dirname(process.execPath)}:${process.env.PATH}`, PULUMI_HOME: home, PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`, PULUMI_CONFIG_PASSPHRASE: "test" },
            });
        };

        it("status prints the table; a stack never brought up says so in one line", () => {
            const r = labSh(OUTPUTS, "status");
            assert.equal(r.status, 0, r.stderr);
            assert.equal(r.stdout, statusText(OUTPUTS));
            const none = labSh(null, "status");
            assert.equal(none.status, 1);
            assert.equal(none.stderr, "lab.sh: stack dev has no outputs: bring the lab up first (scripts/lab.sh up)\n");
        });

        it("timeline writes the hop's SVG where it is told", () => {
            const file = path.join(dir, "v1.svg");
            const r = labSh(OUTPUTS, "timeline", "v1", file);
            assert.equal(r.status, 0, r.stderr);
            assert.equal(fs.readFileSync(file, "utf8"), timelineSvg(OUTPUTS, "v1"));
            assert.match(r.stderr, /timeline written to .*v1\.svg/);
            assert.match(labSh(OUTPUTS, "timeline", "v9", file).stderr, /^no hop v9; carried out: v1, v2\n$/);
        });
    });
});
