// The migration hold: the runtime wrapper and the lease run for real against a stand-in runtime.
import { strict as assert } from "assert";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { leaseTool, renderOciRuntime } from "../../components/migration/cutover";

describe("migration hold (cutover.ts): the runtime wrapper and the lease run for real against a stand-in runtime", () => {
    // The lease tool only reads and writes freezer.state, so a plain file stands in for the cgroup.
    // A stand-in runtime (REAL) freezes and thaws that file on pause and resume, as runc does; the
    // wrapper (oci-runtime.sh, rendered as nodes get it) sits in front of it. The test plays CRI-O
    // 1.34 around a kubelet checkpoint (internal/lib/checkpoint.go: pause, checkpoint
    // --leave-running, thaw) and the target (commit).
    const CID = "c0ffee".padEnd(64, "0");
    let dir: string;
    let watcher: ReturnType<typeof spawn> | undefined;
    const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
    const state = () => fs.readFileSync(path.join(dir, "cg", "freezer.state"), "utf8").trim();
    const lease = (...args: string[]) => spawnSync("bash", [path.join(dir, "lease.sh"), ...args], { encoding: "utf8" });
    /** CRI-O calling its runtime path (with its default --root) for the container. */
    const runtime = (...args: string[]) => spawnSync(path.join(dir, "wrapper"), ["--root", "/run/runc", ...args], { encoding: "utf8" });
    const runtimeLog = () => fs.existsSync(path.join(dir, "runtime.log")) ? fs.readFileSync(path.join(dir, "runtime.log"), "utf8").trim().split("\n") : [];
    const until = (what: string, ok: () => boolean, ms = 5000) => {
        for (let t = 0; t < ms; t += 20) { if (ok()) return; sleep(20); }
        assert.fail(`timed out waiting for ${what}`);
    };
    const holdFile = () => path.join(dir, "holds", CID);
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "lml-lease-"));
        for (const d of ["hold", "cg"]) fs.mkdirSync(path.join(dir, d));
        fs.writeFileSync(path.join(dir, "lease.sh"), leaseTool());
        fs.writeFileSync(path.join(dir, "cg", "freezer.state"), "THAWED\n");
        // The stand-in runtime: logs its arguments; pause/resume write the freezer file atomically
        // (a real freezer.state never reads empty) and fail as runc does when it already is; checkpoint
        // fails when told to.
        fs.writeFileSync(path.join(dir, "runc"), [
            "#!/usr/bin/env bash",
            `d=${dir}`,
            'echo "$*" >>"$d/runtime.log"',
            'set_state() { echo "$1" >"$d/cg/freezer.tmp" && mv "$d/cg/freezer.tmp" "$d/cg/freezer.state"; }',
            'frozen() { [ "$(cat "$d/cg/freezer.state")" = FROZEN ]; }',
            'case " $* " in',
            '  *" pause "*) ! frozen || { echo "container already paused" >&2; exit 1; }; set_state FROZEN ;;',
            '  *" resume "*) frozen || { echo "container not paused" >&2; exit 1; }; set_state THAWED ;;',
            '  *" checkpoint "*) [ ! -e "$d/fail-dump" ] || { echo "criu failed" >&2; exit 1; } ;;',
            "esac",
            "",
        ].join("\n"), { mode: 0o755 });
        fs.writeFileSync(path.join(dir, "wrapper"), renderOciRuntime("runc", path.join(dir, "runc"), path.join(dir, "holds"), path.join(dir, "stats")), { mode: 0o755 });
        fs.writeFileSync(path.join(dir, "hold", "env"), [
            "KIND=v1", `CGS=(${dir}/cg)`, "PIDNSS=(none)", `CIDS=(${CID})`, `CRIO_SOCKET=${dir}/crio.sock`, "POD=p", "NAMESPACE=default",
            "ATTEMPT=first", "MAX_PAUSE=2", "CHECKPOINT_TIMEOUT=10", `HOLD_FILES=(${holdFile()})`, "",
        ].join("\n"));
        fs.writeFileSync(path.join(dir, "hold", "id"), "m1\n");
    });
    /** Starts the watcher and writes the wrapper's lease file, as the hold step does. */
    const arm = (checkpointTimeout = 10) => {
        const env = path.join(dir, "hold", "env");
        fs.writeFileSync(env, fs.readFileSync(env, "utf8").replace("CHECKPOINT_TIMEOUT=10", `CHECKPOINT_TIMEOUT=${checkpointTimeout}`));
        // The marker file tells that the watcher ended (the sync waits below keep Node from reaping it).
        // Its own process group, so afterEach kills lease.sh too and not only the bash around it.
        watcher = spawn("bash", ["-c", `bash ${dir}/lease.sh watch; touch ${dir}/watch.done`], { stdio: "ignore", detached: true });
        fs.mkdirSync(path.join(dir, "holds"), { mode: 0o700 });
        fs.writeFileSync(holdFile(), `${dir}/hold\n`);
    };
    let crio: ReturnType<typeof spawn> | undefined;
    afterEach(() => {
        if (watcher?.pid) {
            try { process.kill(-watcher.pid, "SIGKILL"); } catch { /* the group has ended */ }
        }
        watcher = undefined;
        crio?.kill("SIGKILL");
        crio = undefined;
        fs.rmSync(dir, { recursive: true, force: true });
    });
    /**
     * A stand-in for CRI-O's inspect API on the lease's socket: it caches a state, as CRI-O does,
     * and answers /unpause/{id} as CRI-O 1.34 does (server/inspect.go): 409 unless it believes the
     * container paused; then its runtime path's resume (the wrapper), and the state is read again.
     * Each request is logged.
     */
    const fakeCrio = (cached: "running" | "paused") => {
        crio = spawn("python3", ["-c", [
            "import http.server, socketserver, subprocess, sys",
            "sock, wrapper, log, state = sys.argv[1:5]",
            "class H(http.server.BaseHTTPRequestHandler):",
            "    def do_GET(self):",
            "        global state",
            "        open(log, 'a').write(self.path.split('/')[1] + ' ' + state + '\\n')",
            "        if state != 'paused': code = 409",
            "        elif subprocess.run([wrapper, 'resume', self.path.split('/')[-1]]).returncode != 0: code = 500",
            "        else: state = 'running'; code = 200",
            "        self.send_response(code); self.send_header('Content-Length', '0'); self.end_headers()",
            "    def log_message(self, *a): pass",
            "class S(socketserver.UnixStreamServer):",
            "    def get_request(self): r, _ = self.socket.accept(); return r, ('crio', 0)",
            "S(sock, H).serve_forever()",
        ].join("\n"), path.join(dir, "crio.sock"), path.join(dir, "wrapper"), path.join(dir, "crio.log"), cached], { stdio: "ignore" });
        until("the CRI-O stand-in", () => fs.existsSync(path.join(dir, "crio.sock")));
    };
    const crioLog = () => fs.existsSync(path.join(dir, "crio.log")) ? fs.readFileSync(path.join(dir, "crio.log"), "utf8").trim().split("\n") : [];
    /** What CRI-O does around a kubelet checkpoint: pause, dump, (archive), thaw; the thaw's result. */
    const crioCheckpoint = () => {
        if (!watcher) arm();
        assert.equal(runtime("pause", CID).status, 0);
        runtime("checkpoint", "--file-locks", "--image-path", "/i", "--work-path", "/w", "--leave-running", CID);
        return runtime("resume", CID);
    };

    it("keeps the job frozen from CRI-O's pause to the commit: CRI-O's thaw is refused, with a reason", () => {
        const thaw = crioCheckpoint();
        assert.equal(thaw.status, 1);
        assert.match(thaw.stderr, /stays frozen for migration m1 until its target commits/);
        assert.equal(state(), "FROZEN");
        assert.ok(!runtimeLog().some(l => l.includes("resume")), "the real runtime never thawed it");
        until("the hold", () => fs.existsSync(path.join(dir, "hold", "heldAt")));
        const c = lease("commit");
        assert.equal(c.status, 0, c.stderr);
        assert.equal(c.stdout.trim(), "committed");
        assert.equal(lease("commit").stdout.trim(), "committed", "a repeated commit is still a commit");
        assert.equal(lease("abort", "late").stdout.trim(), "committed", "an abort after the commit changes nothing");
        assert.equal(fs.existsSync(holdFile()), false, "deciding releases the wrapper's lease file");
        until("the watcher to end", () => fs.existsSync(path.join(dir, "watch.done")), 3000);
        sleep(2200);
        assert.equal(state(), "FROZEN");
        assert.equal(fs.existsSync(path.join(dir, "aborted")), false);
        const s = JSON.parse(lease("status").stdout);
        assert.equal(s.decision, "committed");
        assert.ok(s.pausedAt > 0 && s.dumpedAt >= s.pausedAt && s.heldAt >= s.dumpedAt && s.committedAt >= s.heldAt, JSON.stringify(s));
    });

    it("gives the job back to the source when no commit comes in time, logs it, and refuses a late commit", () => {
        fakeCrio("paused");
        crioCheckpoint();
        // The watcher thaws, then logs the abort and ends: wait for the end, not only the thaw.
        until("the hold to expire", () => fs.existsSync(path.join(dir, "watch.done")), 6000);
        assert.equal(state(), "THAWED");
        assert.deepEqual(crioLog(), ["unpause paused"], "resumed by CRI-O, which then reads the state again");
        assert.match(fs.readFileSync(path.join(dir, "aborted"), "utf8"), /attempt first: no commit within 2s; the source resumed/);
        const c = lease("commit");
        assert.equal(c.status, 3);
        assert.equal(c.stdout.trim(), "aborted");
        assert.notEqual(lease("retire").status, 0, "an aborted source is never retired");
    });

    it("lets the job run on when the dump failed: CRI-O's thaw goes through, the attempt is void and logged", () => {
        fs.writeFileSync(path.join(dir, "fail-dump"), "");
        arm();
        assert.equal(runtime("pause", CID).status, 0);
        runtime("checkpoint", "--file-locks", "--image-path", "/i", "--work-path", "/w", "--leave-running", CID);
        // CRI-O's thaw comes late (a loaded machine): the watcher has seen the failure by then, and
        // must leave the thaw to CRI-O rather than make CRI-O's resume fail on a running container.
        sleep(600);
        const thaw = runtime("resume", CID);
        assert.equal(thaw.status, 0, `CRI-O's thaw after a failed dump is not held: ${thaw.stderr}`);
        assert.equal(state(), "THAWED");
        until("the watcher to end", () => fs.existsSync(path.join(dir, "watch.done")), 4000);
        assert.match(fs.readFileSync(path.join(dir, "hold", "state"), "utf8"), /the checkpoint failed \(the runtime's checkpoint exited 1\); the job runs on/);
        assert.match(fs.readFileSync(path.join(dir, "aborted"), "utf8"), /attempt first: the checkpoint failed/, "a void attempt is logged, so the hop is redone");
        assert.equal(lease("commit").status, 3);
    });

    it("gives the job back MAX_PAUSE after CRI-O's pause when CRI-O dies mid-checkpoint and never comes to thaw it", () => {
        arm();
        assert.equal(runtime("pause", CID).status, 0);
        runtime("checkpoint", "--file-locks", "--image-path", "/i", "--work-path", "/w", "--leave-running", CID);
        // No thaw: CRI-O was killed while it wrote the archive. The hold is 2 s, the checkpoint's time 10 s.
        const t = Date.now();
        until("the hold to end", () => fs.existsSync(path.join(dir, "watch.done")), 6000);
        assert.ok(Date.now() - t < 4000, `given back after ${Date.now() - t} ms, not at the checkpoint's timeout`);
        assert.equal(state(), "THAWED", "thawed by hand: CRI-O does not answer");
        assert.match(fs.readFileSync(path.join(dir, "aborted"), "utf8"), /attempt first: CRI-O paused the job for the dump but did not finish the checkpoint within 2s \(CRI-O stopped mid-checkpoint\?\); the source resumed/);
        assert.equal(lease("commit").status, 3, "no late commit");
    });

    it("voids an attempt whose checkpoint never came", () => {
        arm(1);
        until("the watcher to end", () => fs.existsSync(path.join(dir, "watch.done")), 4000);
        assert.match(fs.readFileSync(path.join(dir, "hold", "state"), "utf8"), /no checkpoint was held within 1s/);
        assert.equal(fs.existsSync(holdFile()), false);
        assert.equal(lease("commit").status, 3);
    });

    it("thaws by hand when CRI-O cannot resume it (CRI-O sees it running)", () => {
        fakeCrio("running");
        crioCheckpoint();
        until("the hold to expire", () => state() === "THAWED", 5000);
        assert.deepEqual(crioLog(), ["unpause running"]);
    });

    it("passes every other call through unchanged, and leaves containers without a hold alone", () => {
        arm();
        const other = "b".repeat(64);
        assert.equal(runtime("create", "--bundle", "/b", "--pid-file", "/p", CID).status, 0);
        assert.equal(runtime("pause", other).status, 0);
        assert.equal(runtime("resume", other).status, 0);
        assert.equal(runtime("checkpoint", "--help").status, 0);
        assert.deepEqual(runtimeLog(), [
            `--root /run/runc create --bundle /b --pid-file /p ${CID}`, `--root /run/runc pause ${other}`, `--root /run/runc resume ${other}`,
            "--root /run/runc checkpoint --help",
        ]);
        fs.rmSync(path.join(dir, "holds"), { recursive: true });
        assert.equal(runtime("pause", CID).status, 0, "no lease directory: straight through");
        assert.equal(fs.existsSync(path.join(dir, "hold", "pausedAt")), false);
    });

    it("keeps CRIU's restore figures and log, which CRI-O deletes right after the restore", () => {
        // conmon runs `runtime restore` without --work-path: CRIU writes stats-restore in the bundle.
        fs.mkdirSync(path.join(dir, "bundle"));
        fs.writeFileSync(path.join(dir, "bundle", "stats-restore"), "figures");
        fs.writeFileSync(path.join(dir, "bundle", "restore.log"), "Restore finished successfully");
        const r = runtime("restore", "--bundle", path.join(dir, "bundle"), "--detach", "--image-path", "/nowhere", CID);
        assert.equal(r.status, 0, r.stderr);
        assert.equal(fs.readFileSync(path.join(dir, "stats", `${CID}.restore`), "utf8"), "figures");
        assert.equal(fs.readFileSync(path.join(dir, "stats", `${CID}.restore.log`), "utf8"), "Restore finished successfully");
        assert.equal((fs.statSync(path.join(dir, "stats", `${CID}.restore.log`)).mode & 0o777), 0o600);
        assert.equal((fs.statSync(path.join(dir, "stats")).mode & 0o777), 0o700);
        assert.deepEqual(runtimeLog(), [`--root /run/runc restore --bundle ${dir}/bundle --detach --image-path /nowhere ${CID}`]);
    });

    it("mends a running container that CRI-O believes paused, and leaves a consistent one alone", () => {
        fakeCrio("paused");
        const m = lease("mend");
        assert.equal(m.status, 0, m.stderr);
        assert.match(m.stdout, /CRI-O saw p as paused while it ran; resumed through CRI-O/);
        assert.equal(state(), "THAWED");
        assert.deepEqual(crioLog(), ["unpause paused", "unpause paused"], "refused while thawed, then resumed once frozen");
        const again = lease("mend");
        assert.equal(again.stdout, "", "CRI-O now sees it running: nothing to mend");
        assert.deepEqual(crioLog().slice(2), ["unpause running"]);
    });

    it("an abort gives the job back at once and is logged", () => {
        crioCheckpoint();
        until("the hold", () => fs.existsSync(path.join(dir, "hold", "heldAt")));
        assert.equal(lease("abort", "verify failed").stdout.trim(), "aborted");
        assert.equal(state(), "THAWED");
        assert.match(fs.readFileSync(path.join(dir, "aborted"), "utf8"), /attempt first: verify failed/);
    });
});
