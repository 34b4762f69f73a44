// The vagrant driver's Vagrantfile as vagrant itself reads it: `vagrant validate` with Debian's vagrant
// and vagrant-libvirt (scripts/lab.sh test installs them; no VM is made). Here rather than in the unit
// suite, which runs with nothing but Node and Python (docs/development.md).
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { renderVagrantfile } from "../../components/drivers/vagrant";

describe("the vagrant driver's Vagrantfile, validated by vagrant and vagrant-libvirt", () => {
    const vagrantfile = (provider: "libvirt" | "virtualbox") => renderVagrantfile({ provider, box: "debian/bookworm64", cpus: 2, memoryMb: 4096, nodes: [{ name: "master", address: "192.168.56.10" }, { name: "worker", address: "192.168.56.11" }] });
    /** `vagrant validate` (Debian's vagrant and vagrant-libvirt) in a scratch directory with its own VAGRANT_HOME. */
    const validate = (text: string) => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lml-vagrant-"));
        try {
            fs.writeFileSync(path.join(dir, "Vagrantfile"), text);
            const r = spawnSync("vagrant", ["validate"], { cwd: dir, encoding: "utf8", env: { ...process.env, VAGRANT_HOME: path.join(dir, ".vagrant.d"), VAGRANT_CHECKPOINT_DISABLE: "1" } });
            assert.ok(!r.error, "vagrant is not installed: apt-get install --no-install-recommends vagrant vagrant-libvirt (scripts/lab.sh test installs them)");
            return r;
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    };

    for (const provider of ["libvirt", "virtualbox"] as const) {
        it(`renders a Vagrantfile that \`vagrant validate\` accepts with the ${provider} provider`, () => {
            const r = validate(vagrantfile(provider));
            assert.equal(r.status, 0, r.stdout + r.stderr);
            assert.match(r.stdout, /Vagrantfile validated successfully/);
        });
    }

    it("is checked by the provider's own validation (vagrant-libvirt refuses a setting it does not have)", () => {
        const r = validate(vagrantfile("libvirt").replace("v.cpus =", "v.cpux ="));
        assert.notEqual(r.status, 0);
        assert.match(r.stdout + r.stderr, /Libvirt Provider:[\s\S]*The following settings shouldn't exist: cpux/);
    });
});
