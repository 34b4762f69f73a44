import { strict as assert } from "assert";
import { joinVariants, splitVariants } from "../../components/node/variants";
import * as pulumi from "@pulumi/pulumi";
import * as TOML from "smol-toml";
import { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { crioPolicies } from "../../policy/crio";
import { criuPolicies } from "../../policy/criu";
import { flinkPolicies } from "../../policy/flink";
import { migrationPolicies } from "../../policy/migration";
import { securityPolicies } from "../../policy/security";
import { validateConfig } from "../../components/config/config";
import { words } from "../../components/node/program";
import { desiredLab } from "../../components/desired";
import { buildLab } from "../../components/lab";
import { promiseOf, Registered, runWithMocks } from "./mocks";

type Policy = ResourceValidationPolicy | StackValidationPolicy;
const ALL: Policy[] = [...crioPolicies, ...criuPolicies, ...migrationPolicies, ...flinkPolicies, ...securityPolicies];

interface Res { type: string; name: string; urn: string; props: Record<string, any> }

const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/** Policies see secret values unwrapped (as @pulumi/policy hands them over). */
function unwrap(v: any): any {
    if (Array.isArray(v)) return v.map(unwrap);
    if (v && typeof v === "object") {
        if (SECRET_SIG in v) return unwrap(v.value);
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrap(x)]));
    }
    return v;
}

/** The happy path: what the program declares for two existing hosts and one migration. */
async function happyPath(overrides: Record<string, unknown> = {}, secret = true): Promise<Res[]> {
    const raw = {
        driver: "existing", sshPrivateKey: KEY, migrations: [{ id: "m1", to: "cp" }],
        nodes: [{ name: "cp", role: "master", address: "192.168.56.10" }, { name: "w1", role: "worker", address: "192.168.56.11" }],
        ...overrides,
    };
    const { resources, result } = await runWithMocks(raw, () => buildLab(desiredLab(validateConfig(raw, secret)), pulumi.secret(KEY), "/tmp/lml-test"), { secretKeys: secret ? ["sshPrivateKey"] : [] });
    await promiseOf(result.criu);
    return resources.map((r: Registered) => ({ type: r.type, name: r.name, urn: r.urn, props: unwrap(r.inputs) }));
}

/** Every violation the pack reports: "policy-name: message". */
function violations(resources: Res[], policies: Policy[] = ALL): string[] {
    const out: string[] = [];
    for (const p of policies) {
        const report = (message: string) => out.push(`${p.name}: ${message}`);
        if ("validateStack" in p && p.validateStack) {
            p.validateStack({ resources: resources.map(r => ({ ...r, opts: {}, dependencies: [], propertyDependencies: {} })) } as any, report);
        }
        if ("validateResource" in p && p.validateResource) {
            for (const r of resources) (p.validateResource as any)({ ...r, opts: {} }, report);
        }
    }
    return out;
}

function assertNoViolation(resources: Res[]) {
    assert.deepEqual(violations(resources), []);
}

function assertHasViolation(resources: Res[], policy: string, ...fragments: string[]) {
    const all = violations(resources);
    assert.ok(all.some(v => v.startsWith(`${policy}: `) && fragments.every(f => v.includes(f))), `no ${policy} violation with ${JSON.stringify(fragments)}; got:\n${all.join("\n")}`);
}

const find = (rs: Res[], name: string) => {
    const r = rs.find(x => x.name === name);
    assert.ok(r, `no resource ${name}`);
    return r;
};
/** Edits a drop-in as TOML: each variant of one sent per restore switch (components/node/variants.ts). */
const editToml = (r: Res, edit: (doc: any) => void) => {
    const one = (text: string) => {
        const doc = TOML.parse(text) as any;
        edit(doc);
        return TOML.stringify(doc);
    };
    const variants = splitVariants(r.props.stdin);
    r.props.stdin = variants ? joinVariants(Object.fromEntries(Object.entries(variants).map(([k, v]) => [k, one(v)]))) : one(r.props.stdin);
};
const stepMarker = (r: Res) => r.props.triggers?.find((t: any) => t.lab === "migration-step");

describe("policy pack", () => {
    it("passes what the program declares for a lab with a migration", async () => {
        assertNoViolation(await happyPath());
    });

    it("passes the local lab defaults", async () => {
        const raw = {};
        const { resources } = await runWithMocks(raw, () => buildLab(desiredLab(validateConfig(raw, false)), undefined, "/tmp/lml-test"));
        assertNoViolation(resources.map(r => ({ type: r.type, name: r.name, urn: r.urn, props: unwrap(r.inputs) })));
    });

    describe("crio-no-fictional-keys", () => {
        it("rejects a CRI-O drop-in with the seed's criu_* keys and says what to use instead", async () => {
            const rs = await happyPath();
            editToml(find(rs, "w1-crio-drop-in"), d => { d.crio.runtime.criu_path = "/usr/sbin/criu"; d.crio.runtime.criu_tcp_established = true; });
            assertHasViolation(rs, "crio-no-fictional-keys", "crio.runtime.criu_path", "/etc/criu/runc.conf", "node w1");
            assertHasViolation(rs, "crio-no-fictional-keys", "crio.runtime.criu_tcp_established");
        });

        it("rejects a CRI-O drop-in with keys CRI-O does not know", async () => {
            const rs = await happyPath();
            editToml(find(rs, "cp-crio-drop-in"), d => { d.crio.runtime.log_levle = "debug"; });
            assertHasViolation(rs, "crio-no-fictional-keys", "crio.runtime.log_levle", "ignores it silently");
        });
    });

    describe("crio-no-fictional-annotations", () => {
        for (const a of ["io.kubernetes.cri-o.criu-options", "io.kubernetes.cri-o.checkpoint-restore-tcp"]) {
            it(`rejects the pod annotation ${a}`, async () => {
                const rs = await happyPath();
                find(rs, "flink-m1").props.metadata.annotations[a] = "--tcp-established";
                assertHasViolation(rs, "crio-no-fictional-annotations", a, "/etc/criu/runc.conf");
            });
        }
    });

    describe("crio-restore-enabled-for-migrations", () => {
        it("rejects CRI-O with checkpoint/restore off on a node a migration uses", async () => {
            const rs = await happyPath();
            editToml(find(rs, "cp-crio-drop-in"), d => { d.crio.runtime.enable_criu_support = false; });
            assertHasViolation(rs, "crio-restore-enabled-for-migrations", "enable_criu_support = false", "m1", "checkpoint_restore");
        });

        it("rejects container_level_enabled = checkpoint_only where the node's CRI-O reads that switch", async () => {
            const rs = await happyPath({ crio: { version: "1.37" }, kubernetes: { version: "1.37.0" } });
            editToml(find(rs, "cp-crio-drop-in"), d => { if (d.crio.checkpoint_restore) d.crio.checkpoint_restore.container_level_enabled = "checkpoint_only"; });
            assertHasViolation(rs, "crio-restore-enabled-for-migrations", `container_level_enabled = "checkpoint_only"`);
        });
    });

    describe("criu-tcp-established", () => {
        it("rejects runc.conf without tcp-established while a pod with TCP connections is deployed", async () => {
            const rs = await happyPath();
            find(rs, "cp-runc-conf").props.stdin = "# no options\nfile-locks\n";
            assertHasViolation(rs, "criu-tcp-established", "/etc/criu/runc.conf on node cp", "Connected TCP socket");
        });

        it("rejects a node with no runc.conf at all", async () => {
            const rs = (await happyPath()).filter(r => r.name !== "w1-runc-conf");
            assertHasViolation(rs, "criu-tcp-established", "Node w1 gets no /etc/criu/runc.conf");
        });
    });

    describe("migration-target-valid", () => {
        it("rejects a migration to the node the pod is already on", async () => {
            const rs = await happyPath();
            for (const r of rs) { const m = stepMarker(r); if (m) m.to = m.from; }
            assertHasViolation(rs, "migration-target-valid", "Migration m1", "already runs");
        });

        it("rejects a migration to an unknown node", async () => {
            const rs = await happyPath();
            for (const r of rs) { const m = stepMarker(r); if (m) m.to = "ghost"; }
            assertHasViolation(rs, "migration-target-valid", "ghost", "not a lab node");
        });
    });

    describe("flink-job-unbounded", () => {
        it("rejects a job that reads an input file", async () => {
            const rs = await happyPath();
            const command = find(rs, "flink-m1").props.spec.containers[0].command;
            command[2] = command[2].replace(" '--rps' '100'", " --input /data/in.txt");
            assert.match(command[2], /--input \/data\/in\.txt/);
            assertHasViolation(rs, "flink-job-unbounded", "--input");
        });

        for (const flag of ["--input", "-input"]) {
            it(`rejects ${flag} as the program renders it (each word quoted), with one dash too (Flink's ParameterTool takes both)`, async () => {
                const rs = await happyPath();
                const command = find(rs, "flink-m1").props.spec.containers[0].command;
                command[2] = command[2].replace(" '--rps' '100'", ` ${words([flag, "/data/in.txt"])}`);
                assert.match(command[2], new RegExp(`'${flag}' '/data/in\\.txt'`));
                assertHasViolation(rs, "flink-job-unbounded", "input");
            });
        }

        it("rejects WordCount", async () => {
            const rs = await happyPath();
            find(rs, "flink-m1").props.spec.containers[0].command = ["bash", "-c", "flink run examples/streaming/WordCount.jar"];
            assertHasViolation(rs, "flink-job-unbounded", "WordCount");
        });
    });

    describe("archive-dir-root-only", () => {
        it("rejects an archive directory that is not 0700", async () => {
            const rs = await happyPath();
            const dir = find(rs, "w1-archive-dir");
            dir.props.triggers.find((t: any) => t.lab === "managed-dir").mode = "0755";
            assertHasViolation(rs, "archive-dir-root-only", "mode 0755", "process memory");
        });

        it("rejects an archive directory not created root-owned 0700", async () => {
            const rs = await happyPath();
            const dir = find(rs, "w1-archive-dir");
            dir.props.create = dir.props.create.replace("install -d -m 0700 -o root -g root", "install -d -m 0755");
            assertHasViolation(rs, "archive-dir-root-only", "not created root-owned");
        });
    });

    describe("ssh-key-is-secret", () => {
        it("rejects an SSH private key from plain-text config", async () => {
            assertHasViolation(await happyPath({}, false), "ssh-key-is-secret", "plain-text config", "--secret");
        });
    });
});
