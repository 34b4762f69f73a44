// CRI-O's restore switch by what the node's binary knows, not by its minor version: the drop-in is
// sent as one variant per switch and the node's writer keeps the one its crio reads; the drift
// probe reports that switch; before a checkpoint, the running CRI-O on both nodes must restore.
// The node programs run for real against a stand-in `crio` (printing recorded `crio config`
// outputs) and a stand-in CRI-O socket serving GET /config.
import { strict as assert } from "assert";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as TOML from "smol-toml";
import { crioRestoreSwitch, renderCrioDropIns } from "../../components/node/crio";
import { CRIO_SWITCH_OBSERVATION, parseProbe, probeScript } from "../../components/node/drift";
import { expectedContent, ManagedFile } from "../../components/node/nodeRuntime";
import { libraryText } from "../../components/node/program";
import { joinVariants, splitVariants } from "../../components/node/variants";
import { writeFileScript } from "../../components/node/scripts";
import { desiredLab } from "../../components/desired";
import { validateConfig } from "../../components/config/config";

const FIXTURES = path.join(__dirname, "..", "fixtures", "crio-config");
/** `crio config` of CRI-O v1.34.0 as built here (k8s-build.sh), run on a host without crio.conf. */
const V1_34_0 = fs.readFileSync(path.join(FIXTURES, "v1.34.0.toml"), "utf8");
/** `crio config` of CRI-O main after PR 10248 (f954a17e50), which has [crio.checkpoint_restore]. */
const MAIN = fs.readFileSync(path.join(FIXTURES, "main-f954a17e50.toml"), "utf8");

describe("CRI-O's restore switch, learned from the node's binary", () => {
    it("reads it from `crio config` as each kind of binary prints it", () => {
        assert.equal(crioRestoreSwitch(V1_34_0), "enable_criu_support");
        assert.equal(crioRestoreSwitch(MAIN), "container_level_enabled");
        assert.equal(crioRestoreSwitch("not CRI-O"), undefined);
    });

    it("travels as variants that split back exactly, and drift review expects the one the node reported", () => {
        const contents = renderCrioDropIns({ version: "1.34", runtime: "runc", checkpointRestore: "checkpoint_restore" }) as Record<string, string>;
        assert.deepEqual(splitVariants(joinVariants(contents)), contents);
        assert.equal(splitVariants("[crio]\n"), undefined);
        const f: ManagedFile = { role: "crio-drop-in", path: "/etc/crio/crio.conf.d/x.conf", content: contents.container_level_enabled, mode: 0o644, variants: { by: "crio-restore-switch", contents, assumed: "container_level_enabled", help: "" } };
        assert.equal(expectedContent(f, { [CRIO_SWITCH_OBSERVATION]: "enable_criu_support" }), contents.enable_criu_support);
        assert.equal(expectedContent(f, { [CRIO_SWITCH_OBSERVATION]: "container_level_enabled" }), contents.container_level_enabled);
        assert.equal(expectedContent(f, { [CRIO_SWITCH_OBSERVATION]: "none" }), contents.container_level_enabled, "assumed until the node says");
        assert.equal(expectedContent(f, undefined), contents.container_level_enabled);
    });

    describe("on a node (write-file.sh, probe-files.sh), run for real with a stand-in crio", () => {
        let dir: string;
        beforeEach(() => {
            dir = fs.mkdtempSync(path.join(os.tmpdir(), "lml-crio-switch-"));
            fs.mkdirSync(path.join(dir, "bin"));
        });
        afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
        const crioPrints = (config: string) => {
            fs.writeFileSync(path.join(dir, "config.toml"), config);
            fs.writeFileSync(path.join(dir, "bin", "crio"), `#!/bin/sh\n[ "$1" = config ] && cat '${dir}/config.toml'\n`, { mode: 0o755 });
        };
        const run = (script: string, input = "") => spawnSync("bash", ["-c", script], {
            input, encoding: "utf8", env: { ...process.env, PATH: `${path.join(dir, "bin")}:/usr/bin:/bin:/usr/sbin:/sbin` },
        });
        const write = (contents: Record<string, string>) => {
            const dest = path.join(dir, "etc", "60-live-migration-lab.conf");
            const r = run(writeFileScript(dest, 0o644, undefined, path.join(dir, "record"), { by: "crio-restore-switch", assumed: "enable_criu_support", help: "use checkpoint_restore" }), joinVariants(contents));
            return { ...r, dest };
        };

        for (const [kind, config, key] of [["v1.34.0", V1_34_0, "enable_criu_support"], ["main", MAIN, "container_level_enabled"]] as const) {
            it(`writes the variant a ${kind} crio reads, with restore on (${key})`, () => {
                crioPrints(config);
                const r = write(renderCrioDropIns({ version: "1.34", runtime: "runc", checkpointRestore: "checkpoint_restore" }) as Record<string, string>);
                assert.equal(r.status, 0, r.stderr);
                const doc = TOML.parse(fs.readFileSync(r.dest, "utf8")) as any;
                if (key === "container_level_enabled") {
                    assert.equal(doc.crio.checkpoint_restore.container_level_enabled, "checkpoint_restore");
                    assert.equal(doc.crio.runtime.enable_criu_support, undefined);
                } else {
                    assert.equal(doc.crio.runtime.enable_criu_support, true);
                    assert.equal(doc.crio.checkpoint_restore, undefined);
                }
                assert.doesNotMatch(fs.readFileSync(r.dest, "utf8"), /live-migration-lab variant/, "no marker reaches the file");
                const probe = run(probeScript([r.dest]));
                assert.equal(probe.status, 0, probe.stderr);
                assert.equal(parseProbe(probe.stdout)[CRIO_SWITCH_OBSERVATION], key, "the drift probe reports the same switch");
            });
        }

        it("refuses, saying what to do, where the node's crio cannot express the level (checkpoint_only without container_level_enabled)", () => {
            crioPrints(V1_34_0);
            const r = write(renderCrioDropIns({ version: "1.34", runtime: "runc", checkpointRestore: "checkpoint_only" }) as Record<string, string>);
            assert.equal(r.status, 1);
            assert.match(r.stderr, /no variant for \S+ \(enable_criu_support, from crio config of .*\/bin\/crio\): use checkpoint_restore; nothing was changed on it/);
            assert.ok(!fs.existsSync(r.dest));
            assert.ok(!fs.existsSync(path.join(dir, "etc")), "not even its directory");
            assert.ok(!fs.existsSync(path.join(dir, "record")), "nor the record of what the program wrote");
        });

        it("writes the kubelet drop-in a node's cgroup version needs, and refuses a cgroup v1 node whose config turns failCgroupV1 on, before changing anything", () => {
            const kubeletFile = (kubelet: Record<string, unknown>) => desiredLab(validateConfig({ nodes: [{ name: "master", role: "master", kubelet }, { name: "worker", role: "worker" }] }, false)).nodes[0].files.find(f => f.role === "kubelet-config")!;
            const writeOn = (cgroup: "v1" | "v2", f: ManagedFile) => {
                const fsDir = path.join(dir, `cgroup-${cgroup}`);
                fs.mkdirSync(fsDir, { recursive: true });
                if (cgroup === "v2") fs.writeFileSync(path.join(fsDir, "cgroup.controllers"), "cpu memory\n");
                const dest = path.join(dir, cgroup, "etc", "kubelet.conf.d", "50-live-migration-lab.conf");
                const r = run(`export CGROUP_FS=${fsDir}\n${writeFileScript(dest, 0o644, undefined, path.join(dir, cgroup, "record"), { by: f.variants!.by, assumed: f.variants!.assumed, help: f.variants!.help })}`, joinVariants(f.variants!.contents));
                return { ...r, dest };
            };
            const defaults = kubeletFile({});
            for (const cgroup of ["v1", "v2"] as const) {
                const r = writeOn(cgroup, defaults);
                assert.equal(r.status, 0, r.stderr);
                assert.equal(/^failCgroupV1: false$/m.test(fs.readFileSync(r.dest, "utf8")), cgroup === "v1", `failCgroupV1: false on ${cgroup} only`);
            }
            fs.rmSync(path.join(dir, "v1"), { recursive: true });
            fs.rmSync(path.join(dir, "v2"), { recursive: true });
            const turnedOn = kubeletFile({ failCgroupV1: true });
            const refused = writeOn("v1", turnedOn);
            assert.equal(refused.status, 1);
            assert.match(refused.stderr, /no variant for \S+ \(v1, from its cgroup\): the node runs cgroup v1, where the kubelet 1\.37\.\d+ starts only with failCgroupV1: false \(KEP-5573\), but live-migration-lab:nodes\[0\]\.kubelet\.failCgroupV1 is true: remove that setting/);
            assert.ok(!fs.existsSync(path.join(dir, "v1")), "nothing was written on the node");
            const v2 = writeOn("v2", turnedOn);
            assert.equal(v2.status, 0, v2.stderr);
            assert.match(fs.readFileSync(v2.dest, "utf8"), /^failCgroupV1: true$/m, "on cgroup v2 the setting is the node's own business");
        });

        it("reports none where the node has no crio (yet), and writes there the form of the release the config names", () => {
            const probe = run(probeScript([path.join(dir, "absent.conf")]));
            assert.equal(parseProbe(probe.stdout)[CRIO_SWITCH_OBSERVATION], "none");
            const r = write(renderCrioDropIns({ version: "1.34", runtime: "runc", checkpointRestore: "checkpoint_restore" }) as Record<string, string>);
            assert.equal(r.status, 0, r.stderr);
            assert.equal((TOML.parse(fs.readFileSync(r.dest, "utf8")) as any).crio.runtime.enable_criu_support, true, "1.34.0's switch (assumed)");
        });
    });
});

describe("before the checkpoint: the running CRI-O restores containers (require_crio_restore), against a stand-in socket", () => {
    let dir: string;
    let server: ReturnType<typeof spawn> | undefined;
    beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "lml-crio-running-")); });
    afterEach(() => {
        server?.kill("SIGKILL");
        server = undefined;
        fs.rmSync(dir, { recursive: true, force: true });
    });
    /** Serves `body` as CRI-O's GET /config does (server/inspect.go: its running config, TOML). */
    const serve = (body: string) => {
        fs.writeFileSync(path.join(dir, "config.toml"), body);
        server = spawn("python3", ["-c", [
            "import http.server, socketserver, sys",
            "sock, body = sys.argv[1], open(sys.argv[2], 'rb').read()",
            "class H(http.server.BaseHTTPRequestHandler):",
            "    def do_GET(self):",
            "        ok = self.path == '/config'",
            "        self.send_response(200 if ok else 404); self.send_header('Content-Length', str(len(body) if ok else 0)); self.end_headers()",
            "        if ok: self.wfile.write(body)",
            "    def log_message(self, *a): pass",
            "class S(socketserver.UnixStreamServer):",
            "    def get_request(self): r, _ = self.socket.accept(); return r, ('crio', 0)",
            "S(sock, H).serve_forever()",
        ].join("\n"), path.join(dir, "crio.sock"), path.join(dir, "config.toml")], { stdio: "ignore" });
        const until = Date.now() + 5000;
        while (!fs.existsSync(path.join(dir, "crio.sock")) && Date.now() < until) spawnSync("sleep", ["0.05"]);
    };
    const check = (role: string) => spawnSync("bash", ["-c", `set -euo pipefail\n${libraryText("node/programs/crio-switch.sh")}\nrequire_crio_restore ${role} '${dir}/crio.sock' /etc/crio/crio.conf.d/60-live-migration-lab.conf`], { encoding: "utf8" });

    // As BurntSushi/toml encodes CRI-O's tomlConfig: tables with their keys indented.
    const running = (table: string) => `[crio]\n  root = "/var/lib/containers/storage"\n  [crio.runtime]\n    default_runtime = "runc"\n${table}  [crio.image]\n    pause_image = "registry.k8s.io/pause:3.10.1"\n`;

    it("passes where the running config restores: container_level_enabled = checkpoint_restore, or enable_criu_support = true", () => {
        serve(running(`  [crio.checkpoint_restore]\n    container_level_enabled = "checkpoint_restore"\n`));
        assert.equal(check("target").status, 0, check("target").stderr);
        server?.kill("SIGKILL"); fs.rmSync(path.join(dir, "crio.sock"));
        serve(running("").replace(`default_runtime = "runc"\n`, `default_runtime = "runc"\n    enable_criu_support = true\n`));
        const r = check("source");
        assert.equal(r.status, 0, r.stderr);
    });

    it("fails naming the setting, the node's role, the config key and the drop-in where restore is off", () => {
        serve(running(`  [crio.checkpoint_restore]\n    container_level_enabled = "checkpoint_only"\n`));
        const r = check("target");
        assert.equal(r.status, 1);
        assert.match(r.stderr, /CRI-O on \S+ \(the hop's target\) does not restore containers: its running config has \[crio\.checkpoint_restore\] container_level_enabled = "checkpoint_only"/);
        assert.match(r.stderr, /live-migration-lab:crio\.checkpointRestore .* to \/etc\/crio\/crio\.conf\.d\/60-live-migration-lab\.conf/);
        assert.match(r.stderr, /nothing was checkpointed/);
    });

    it("fails where an old CRI-O runs with enable_criu_support off (or criu missing from its PATH)", () => {
        serve(running("").replace(`default_runtime = "runc"\n`, `default_runtime = "runc"\n    enable_criu_support = false\n`));
        const r = check("source");
        assert.equal(r.status, 1);
        assert.match(r.stderr, /\(the hop's source\) does not restore containers: its running config has \[crio\.runtime\] enable_criu_support = false \(CRI-O also turns it off when criu is not on its PATH\)/);
    });

    it("fails where CRI-O does not answer", () => {
        const r = check("target");
        assert.equal(r.status, 1);
        assert.match(r.stderr, /CRI-O's running config could not be read from .*crio\.sock/);
    });
});
