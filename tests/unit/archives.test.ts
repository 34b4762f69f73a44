// The archive's stream to the target and its split on arrival, run for real.
import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

describe("archive stream (migration/programs/archive-stream.py): sent while it is written, for real", () => {
    const program = path.resolve(__dirname, "../../components/migration/programs/archive-stream.py");
    let dir = "";
    beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "lml-stream-")); fs.mkdirSync(path.join(dir, "hold")); fs.mkdirSync(path.join(dir, "ckpt")); });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
    const prefix = "checkpoint-p_default-c-";
    /** send into a pipe, as transfer.sh runs it over SSH; `writer` runs beside it. */
    const stream = (writer: string, timeout = 5) => spawnSync("bash", ["-c", `set -o pipefail; (${writer}) & python3 ${program} send ${dir}/hold ${dir}/ckpt ${prefix} ${timeout} 2>${dir}/sent | cat >${dir}/dest; rc=$?; wait; exit $rc`], { encoding: "utf8" });
    const said = () => fs.readFileSync(path.join(dir, "sent"), "utf8");
    const now = `$(date +%s%3N)`;

    it("sends the archive CRI-O is still writing, to its end once the thaw is recorded", () => {
        const tar = `${dir}/ckpt/${prefix}2026-11-30T12:00:00Z.tar`;
        // An older archive of the same container (an earlier attempt) is left alone.
        fs.writeFileSync(`${dir}/ckpt/${prefix}2026-11-30T11:00:00Z.tar`, "old");
        fs.utimesSync(`${dir}/ckpt/${prefix}2026-11-30T11:00:00Z.tar`, 1000, 1000);
        const r = stream(`sleep 0.2; echo ${now} >${dir}/hold/pausedAt; sleep 0.2; for i in 1 2 3 4 5; do head -c 1048576 /dev/urandom >>${tar}; sleep 0.1; done; head -c 512 /dev/zero >>${tar}; echo ${now} >${dir}/hold/heldAt`);
        assert.equal(r.status, 0, r.stderr + said());
        const sent = JSON.parse(said().trim().split("\n").pop()!);
        assert.equal(sent.archive, tar);
        assert.equal(sent.sizeBytes, 5 * 1048576 + 512);
        assert.ok(sent.firstByteAt > 0);
        assert.ok(fs.readFileSync(`${dir}/dest`).equals(fs.readFileSync(tar)), "the copy is the archive, byte for byte");
    });

    it("sends a finished archive as it is (send-file)", () => {
        const tar = `${dir}/ckpt/a.tar`;
        execFileSync("bash", ["-c", `head -c 3145728 /dev/urandom >${tar}`]);
        const r = spawnSync("bash", ["-c", `python3 ${program} send-file ${tar} 2>${dir}/sent >${dir}/dest`], { encoding: "utf8" });
        assert.equal(r.status, 0, said());
        assert.ok(fs.readFileSync(`${dir}/dest`).equals(fs.readFileSync(tar)));
    });

    it("fails, saying why, when the runtime wrapper records a failed dump", () => {
        const r = stream(`echo ${now} >${dir}/hold/pausedAt; sleep 0.2; echo "the runtime's checkpoint exited 1" >${dir}/hold/failed`);
        assert.notEqual(r.status, 0);
        assert.match(said(), /the checkpoint failed \(the runtime's checkpoint exited 1\); no archive to send/);
    });

    it("fails soon when CRI-O never pauses the container (the checkpoint call failed), pointing at that step", () => {
        const r = stream("true", 1);
        assert.notEqual(r.status, 0);
        assert.match(said(), /CRI-O did not pause the held container within 1s \(no .*\/hold\/pausedAt\): see the checkpoint step's error/);
    });

    it("fails when no archive comes within its time, naming where it looked", () => {
        const r = stream(`echo ${now} >${dir}/hold/pausedAt`, 1);
        assert.notEqual(r.status, 0);
        assert.match(said(), new RegExp(`no archive ${dir}/ckpt/${prefix}\\*\\.tar after the pause within 1s`));
    });

    it("refuses an archive that is not a whole tar (cut short)", () => {
        const tar = `${dir}/ckpt/${prefix}x.tar`;
        const r = stream(`echo ${now} >${dir}/hold/pausedAt; sleep 0.1; head -c 1000 /dev/zero >${tar}; echo ${now} >${dir}/hold/heldAt`);
        assert.notEqual(r.status, 0);
        assert.match(said(), /sent 1000 bytes of 1000; not a whole tar archive/);
    });
});

describe("archive split on arrival (migration/programs/archive-split.py): for real, on tar archives of every header kind", () => {
    const program = path.resolve(__dirname, "../../components/migration/programs/archive-split.py");
    let dir = "";
    beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "lml-split-")); });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
    /** A checkpoint archive as CRI-O lays it out, with Python's tarfile in the given format (pax, gnu, ustar). */
    const archive = (format: string) => {
        const file = path.join(dir, `${format}.tar`);
        execFileSync("python3", ["-c", [
            "import io, os, sys, tarfile",
            "fmt = {'pax': tarfile.PAX_FORMAT, 'gnu': tarfile.GNU_FORMAT, 'ustar': tarfile.USTAR_FORMAT}[sys.argv[2]]",
            "def add(t, name, size, **kw):",
            "    i = tarfile.TarInfo(name); i.size = size; i.mode = 0o600",
            "    for k, v in kw.items(): setattr(i, k, v)",
            "    t.addfile(i, io.BytesIO(os.urandom(size)))",
            "with tarfile.open(sys.argv[1], 'w', format=fmt) as t:",
            "    add(t, 'spec.dump', 40); add(t, 'config.dump', 30)",
            "    d = tarfile.TarInfo('checkpoint'); d.type = tarfile.DIRTYPE; d.mode = 0o700; t.addfile(d)",
            "    add(t, 'checkpoint/inventory.img', 100); add(t, 'checkpoint/descriptors.json', 20)",
            "    add(t, 'checkpoint/pages-1.img', 5 * 1048576 + 7, pax_headers={'SCHILY.xattr.user.x': 'y'} if fmt == tarfile.PAX_FORMAT else {})",
            "    add(t, 'checkpoint/pagemap-1.img', 3000); add(t, 'checkpoint/pages-2.img', 12288)",
            "    if fmt != tarfile.USTAR_FORMAT: add(t, 'artifacts/' + 'x' * 150 + '.txt', 9)",
            "    add(t, 'rootfs-diff.tar', 9 * 1048576); add(t, 'empty', 0)",
        ].join("\n"), file, format]);
        return file;
    };
    const members = (tar: string) => execFileSync("tar", ["-tf", tar], { encoding: "utf8" }).trim().split("\n");

    for (const format of ["pax", "gnu", "ustar"]) {
        it(`splits a ${format} archive received through a pipe, and joins it back byte for byte`, () => {
            const tar = archive(format);
            const dest = path.join(dir, "m1.tar");
            const r = spawnSync("bash", ["-c", `cat ${tar} | python3 ${program} receive ${dest}`], { encoding: "utf8" });
            assert.equal(r.status, 0, r.stderr);
            assert.equal(JSON.parse(r.stdout).sizeBytes, fs.statSync(tar).size);
            fs.renameSync(`${dest}.part`, dest);
            // What CRI-O gets: a valid tar with everything but the page images, a few hundred KB at most.
            assert.deepEqual(members(dest), members(tar).filter(m => !/^checkpoint\/pages-\d+\.img$/.test(m)));
            assert.ok(fs.statSync(dest).size < 10 * 1048576, `${fs.statSync(dest).size} bytes`);
            // What CRIU gets: every checkpoint/* file, each the archive's own bytes, root-only.
            const images = fs.readdirSync(`${dest}.images`).sort();
            assert.deepEqual(images, ["descriptors.json", "inventory.img", "pagemap-1.img", "pages-1.img", "pages-2.img"]);
            for (const f of images) {
                assert.ok(fs.readFileSync(path.join(`${dest}.images`, f)).equals(execFileSync("tar", ["-xOf", tar, `checkpoint/${f}`], { maxBuffer: 64 << 20 })), f);
                assert.equal(fs.statSync(path.join(`${dest}.images`, f)).mode & 0o777, 0o600);
            }
            const j = spawnSync("python3", [program, "join", dest, `${dest}.joined`], { encoding: "utf8" });
            assert.equal(j.status, 0, j.stderr);
            assert.ok(fs.readFileSync(`${dest}.joined`).equals(fs.readFileSync(tar)), "joined: the archive as it was sent");
            assert.equal(j.stdout.trim(), execFileSync("sha256sum", [tar], { encoding: "utf8" }).split(" ")[0]);
            // Joined already (a cutover stopped before it cleaned up): the digest is read, nothing written.
            fs.renameSync(`${dest}.joined`, dest);
            const again = spawnSync("python3", [program, "join", dest, `${dest}.joined`], { encoding: "utf8" });
            assert.equal(again.status, 0, again.stderr);
            assert.equal(again.stdout.trim(), j.stdout.trim());
            assert.ok(!fs.existsSync(`${dest}.joined`));
        });
    }

    it("reads a file on stdin too (no splice), and fails, saying where, on an archive cut short", () => {
        const tar = archive("pax");
        const dest = path.join(dir, "m2.tar");
        const r = spawnSync("bash", ["-c", `python3 ${program} receive ${dest} <${tar}`], { encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        fs.rmSync(`${dest}.images`, { recursive: true });
        const cut = spawnSync("bash", ["-c", `head -c 3000000 ${tar} | python3 ${program} receive ${dest}`], { encoding: "utf8" });
        assert.notEqual(cut.status, 0);
        assert.match(cut.stderr, /archive-split: the archive ended after 3000000 bytes, inside a member/);
    });
});
