// The runtime wrapper (oci-runtime.sh): a spec fitted to the node, and a restored pod's fence.
import { strict as assert } from "assert";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { renderOciRuntime } from "../../components/migration/cutover";

describe("runtime wrapper (oci-runtime.sh, oci-spec-fit.py): a container's spec fitted to what the node can grant", () => {
    let dir = "";
    const lastCap = Number(fs.readFileSync("/proc/sys/kernel/cap_last_cap", "utf8"));
    const full = (2n ** BigInt(lastCap + 1) - 1n);
    const SYS_RESOURCE = 24n;
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "lml-fit-"));
        fs.mkdirSync(path.join(dir, "bundle"));
        fs.writeFileSync(path.join(dir, "runc"), `#!/usr/bin/env bash\necho "$*" >>${dir}/runtime.log\n`, { mode: 0o755 });
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
    /** CRI-O's conmon creating a container through the wrapper, on a node whose bounding set is `bounding`. */
    const create = (bounding: bigint, spec: object) => {
        fs.writeFileSync(path.join(dir, "status"), `Name:\tbash\nCapBnd:\t${bounding.toString(16).padStart(16, "0")}\n`);
        fs.writeFileSync(path.join(dir, "bundle", "config.json"), JSON.stringify(spec));
        fs.writeFileSync(path.join(dir, "wrapper"), renderOciRuntime("runc", path.join(dir, "runc"), path.join(dir, "holds"), path.join(dir, "stats"), path.join(dir, "status"), path.join(dir, "fit.log")), { mode: 0o755 });
        const r = spawnSync(path.join(dir, "wrapper"), ["--root", "/run/runc", "create", "--bundle", path.join(dir, "bundle"), "--pid-file", "p", "c1"], { encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        assert.equal(fs.readFileSync(path.join(dir, "runtime.log"), "utf8").trim(), `--root /run/runc create --bundle ${dir}/bundle --pid-file p c1`, "the runtime gets the same call");
        return JSON.parse(fs.readFileSync(path.join(dir, "bundle", "config.json"), "utf8"));
    };
    const critical = { process: { oomScoreAdj: -997, capabilities: { bounding: ["CAP_CHOWN", "CAP_SYS_RESOURCE", "CAP_NET_ADMIN"], effective: ["CAP_SYS_RESOURCE"] } } };

    it("on a node without CAP_SYS_RESOURCE: drops what it cannot grant and raises oom_score_adj to 0, saying so", () => {
        const spec = create(full & ~(1n << SYS_RESOURCE), critical);
        assert.deepEqual(spec.process, { oomScoreAdj: 0, capabilities: { bounding: ["CAP_CHOWN", "CAP_NET_ADMIN"], effective: [] } });
        assert.match(fs.readFileSync(path.join(dir, "fit.log"), "utf8"), /container c1: the node cannot grant: bounding without CAP_SYS_RESOURCE; effective without CAP_SYS_RESOURCE; oomScoreAdj -997 -> 0/);
    });

    it("fits an exec's process spec too (kubectl exec into such a container)", () => {
        fs.writeFileSync(path.join(dir, "status"), `CapBnd:\t${(full & ~(1n << SYS_RESOURCE)).toString(16).padStart(16, "0")}\n`);
        fs.writeFileSync(path.join(dir, "process.json"), JSON.stringify({ args: ["cat"], capabilities: { effective: ["CAP_SYS_RESOURCE", "CAP_KILL"] } }));
        fs.writeFileSync(path.join(dir, "wrapper"), renderOciRuntime("runc", path.join(dir, "runc"), path.join(dir, "holds"), path.join(dir, "stats"), path.join(dir, "status"), path.join(dir, "fit.log")), { mode: 0o755 });
        const r = spawnSync(path.join(dir, "wrapper"), ["--root", "/run/runc", "exec", "--process", path.join(dir, "process.json"), "c1"], { encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, "process.json"), "utf8")).capabilities, { effective: ["CAP_KILL"] });
    });

    it("on a node with every capability: leaves the spec as it is", () => {
        assert.deepEqual(create(full, critical), critical);
        assert.ok(!fs.existsSync(path.join(dir, "fit.log")));
    });
});

describe("a restored pod's fence (oci-runtime.sh): restored only while its cutover watches", () => {
    const CID = "fe11ce".padEnd(64, "0");
    let dir: string;
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "lml-fence-"));
        for (const d of ["bundle", "fences"]) fs.mkdirSync(path.join(dir, d));
        // The stand-in runtime logs its calls; its `state` names a pid that does not exist, so no fence
        // process is ever started here (it would look for the container's processes on this machine).
        fs.writeFileSync(path.join(dir, "runc"), `#!/usr/bin/env bash
echo "$*" >>${dir}/runtime.log
case " $* " in *" state "*) echo '{"pid": 2147483646}' ;; esac
`, { mode: 0o755 });
        fs.writeFileSync(path.join(dir, "wrapper"), renderOciRuntime("runc", path.join(dir, "runc"), path.join(dir, "holds"), path.join(dir, "stats"), "/proc/self/status", path.join(dir, "fit.log"), path.join(dir, "fences")), { mode: 0o755 });
        // A restored container's spec as CRI-O 1.34 writes it: its new sandbox's name, and a nested container name.
        fs.writeFileSync(path.join(dir, "bundle", "config.json"), JSON.stringify({ annotations: {
            "io.kubernetes.cri-o.SandboxName": "k8s_flink-minimal-m9_default_0c8b-uid_0",
            "io.kubernetes.cri-o.Name": "k8s_k8s_flink_flink-minimal-m8_default_0c8a-uid_0_flink-minimal-m9_default_0c8b-uid0",
        } }));
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
    let fence: string;
    beforeEach(() => { fence = path.join(dir, "fences", "default_flink-minimal-m9"); });
    const restore = () => spawnSync(path.join(dir, "wrapper"), ["--root", "/run/runc", "restore", "--bundle", path.join(dir, "bundle"), "--image-path", path.join(dir, "img"), CID], { encoding: "utf8" });
    const restored = () => fs.existsSync(path.join(dir, "runtime.log")) && fs.readFileSync(path.join(dir, "runtime.log"), "utf8").includes(" restore ");

    it("refuses the restore once the source's hold has ended with no cutover watching, and logs why", () => {
        fs.writeFileSync(fence, `deadline=${Date.now() - 1}\nid=m9\n`);
        const r = restore();
        assert.equal(r.status, 1);
        assert.match(r.stderr, /not restoring default_flink-minimal-m9: no migration cutover watches it and the source's hold has ended/);
        assert.ok(!restored(), "the runtime was not asked to restore");
        assert.match(fs.readFileSync(`${fence}.log`, "utf8"), /not restored: no cutover watched it before the source's hold ended/);
    });

    it("waits for the cutover, then restores", () => {
        fs.writeFileSync(fence, `deadline=${Date.now() + 10_000}\nid=m9\n`);
        // A cutover that turns up a little later: this test process stands in for it (a live pid).
        const late = spawn("bash", ["-c", `sleep 0.4; echo ${process.pid} >${fence}.cutover`], { stdio: "ignore" });
        const t = Date.now();
        const r = restore();
        late.kill();
        assert.equal(r.status, 0, r.stderr);
        assert.ok(Date.now() - t >= 350, "it waited for the cutover");
        assert.ok(restored());
    });

    it("has runc restore from the page images where they arrived when CRI-O unpacked an archive split on arrival", () => {
        const images = path.join(dir, "m9.tar.images");
        fs.mkdirSync(images);
        fs.mkdirSync(path.join(dir, "img"));
        for (const f of ["inventory.img", "pages-1.img"]) fs.writeFileSync(path.join(images, f), "x");
        fs.writeFileSync(path.join(dir, "img", "inventory.img"), "x");
        fs.writeFileSync(fence, `deadline=${Date.now() + 10_000}\nid=m9\nimages=${images}\n`);
        fs.writeFileSync(`${fence}.cutover`, `${process.pid}\n`);
        assert.equal(restore().status, 0);
        assert.match(fs.readFileSync(path.join(dir, "runtime.log"), "utf8"), new RegExp(` restore --bundle \\S+ --image-path ${images} ${CID}`));
        assert.match(fs.readFileSync(`${fence}.log`, "utf8"), /restoring from .*m9\.tar\.images \(the page images as they arrived\)/);
        // A whole archive unpacked by CRI-O (its pages are there): restored from CRI-O's directory.
        fs.rmSync(path.join(dir, "runtime.log"));
        fs.writeFileSync(path.join(dir, "img", "pages-1.img"), "x");
        assert.equal(restore().status, 0);
        assert.match(fs.readFileSync(path.join(dir, "runtime.log"), "utf8"), new RegExp(`--image-path ${path.join(dir, "img")} ${CID}`));
    });

    it("restores a pod without a fence, or one whose cutover watches, at once", () => {
        assert.equal(restore().status, 0);
        assert.ok(restored());
        fs.rmSync(path.join(dir, "runtime.log"));
        fs.writeFileSync(fence, `deadline=${Date.now() - 1}\nid=m9\n`);
        fs.writeFileSync(`${fence}.cutover`, `${process.pid}\n`);
        assert.equal(restore().status, 0);
        assert.ok(restored());
    });
});
