// The node's runtime files as the program renders them: CRI-O's drop-in, the CRIU config runc reads, the kubelet's settings.
import { strict as assert } from "assert";
import * as TOML from "smol-toml";
import * as YAML from "yaml";
import { CRIO_VERSIONS, crioKeySource, dottedKeys, isCrioKey, renderCrioDropIn, renderCrioDropIns } from "../../components/node/crio";
import { criuConfigPaths, parseCriuConf, renderCriuConf } from "../../components/node/criu";
import { checkpointFeatureGates, renderKubeletConfig } from "../../components/node/kubelet";
import crioKeys from "../../components/node/crio-keys.json";

describe("CRI-O drop-in", () => {
    for (const version of CRIO_VERSIONS) {
        for (const level of ["none", "checkpoint_restore"] as const) {
            it(`renders valid TOML with only keys CRI-O ${version} has, or the restore switch its patch releases know (${level})`, () => {
                for (const [restoreSwitch, text] of Object.entries(renderCrioDropIns({ version, runtime: "runc", checkpointRestore: level, runtimePath: "/usr/sbin/runc" }))) {
                    const doc = TOML.parse(text!) as Record<string, unknown>;
                    for (const key of dottedKeys(doc)) {
                        const known = isCrioKey(version, key) || (key === "crio.checkpoint_restore.container_level_enabled" && isCrioKey("1.37", key));
                        assert.ok(known, `${key} is not a CRI-O ${version} key (${restoreSwitch})`);
                    }
                    assert.ok(text!.includes(crioKeySource(version)), "names where its key list came from");
                }
            });
        }
    }

    it("uses enable_criu_support where the node's crio has no container_level_enabled, whatever its minor", () => {
        for (const version of ["1.34", "1.37"]) {
            const doc = TOML.parse(renderCrioDropIn({ version, runtime: "runc", checkpointRestore: "checkpoint_restore", restoreSwitch: "enable_criu_support" })) as any;
            assert.equal(doc.crio.runtime.enable_criu_support, true);
            assert.equal(doc.crio.checkpoint_restore, undefined);
        }
        const off = TOML.parse(renderCrioDropIn({ version: "1.34", runtime: "runc", checkpointRestore: "none", restoreSwitch: "enable_criu_support" })) as any;
        assert.equal(off.crio.runtime.enable_criu_support, false);
    });

    it("uses [crio.checkpoint_restore] container_level_enabled where the node's crio knows it (1.34 patch releases too), with restore on", () => {
        for (const version of ["1.34", "1.37"]) {
            const doc = TOML.parse(renderCrioDropIn({ version, runtime: "crun", checkpointRestore: "checkpoint_restore", restoreSwitch: "container_level_enabled" })) as any;
            assert.equal(doc.crio.checkpoint_restore.container_level_enabled, "checkpoint_restore");
            assert.equal(doc.crio.runtime.enable_criu_support, undefined, "the deprecated switch is not rendered");
            assert.equal(doc.crio.runtime.default_runtime, "crun");
        }
    });

    it("has no enable_criu_support variant for checkpoint_only, which that switch cannot express", () => {
        assert.deepEqual(Object.keys(renderCrioDropIns({ version: "1.34", runtime: "runc", checkpointRestore: "checkpoint_only" })), ["container_level_enabled"]);
        assert.deepEqual(Object.keys(renderCrioDropIns({ version: "1.34", runtime: "runc", checkpointRestore: "checkpoint_restore" })), ["container_level_enabled", "enable_criu_support"]);
    });

    it("merges user settings under the program's keys", () => {
        const doc = TOML.parse(renderCrioDropIn({ version: "1.34", runtime: "runc", checkpointRestore: "checkpoint_restore", restoreSwitch: "enable_criu_support", settings: { crio: { runtime: { log_level: "debug" } } } })) as any;
        assert.equal(doc.crio.runtime.log_level, "debug");
        assert.equal(doc.crio.runtime.enable_criu_support, true);
    });

    it("keeps the CRI-O key list with the commit it came from, and no criu_* keys in any release", () => {
        for (const [version, entry] of Object.entries(crioKeys.versions)) {
            assert.match(entry.source, /^cri-o\/cri-o \S+ \([0-9a-f]{40}\) pkg\/config\/config\.go$/, version);
            for (const keys of Object.values(entry.tables)) assert.ok(!keys.some(k => k.startsWith("criu")), `${version} lists a criu key`);
        }
        assert.ok(isCrioKey("1.34", "crio.runtime.runtimes.runc.allowed_annotations"));
        assert.ok(!isCrioKey("1.34", "crio.runtime.criu_path"));
        assert.ok(!isCrioKey("1.36", "crio.checkpoint_restore.container_level_enabled"));
        assert.ok(isCrioKey("1.37", "crio.checkpoint_restore.container_level_enabled"));
    });
});

describe("CRIU config file", () => {
    it("renders one option per line without dashes, both sides merged", () => {
        const text = renderCriuConf({ dump: ["tcp-established", "link-remap", "ghost-limit  10M"], restore: ["tcp-established", "file-locks"] });
        assert.deepEqual(parseCriuConf(text), ["tcp-established", "link-remap", "ghost-limit 10M", "file-locks"]);
        assert.ok(!/^--/m.test(text));
    });

    it("is /etc/criu/runc.conf for runc, and crun.conf then runc.conf for crun", () => {
        assert.deepEqual(criuConfigPaths("runc"), ["/etc/criu/runc.conf"]);
        assert.deepEqual(criuConfigPaths("crun"), ["/etc/criu/crun.conf", "/etc/criu/runc.conf"]);
    });
});

describe("kubelet settings", () => {
    const cases: [string, Record<string, boolean>][] = [["1.25.0", { ContainerCheckpoint: true }], ["1.29.9", { ContainerCheckpoint: true }], ["1.30.0", {}], ["1.34.1", {}]];
    for (const [version, gates] of cases) {
        it(`sets the ContainerCheckpoint gate only where ${version} needs it`, () => {
            assert.deepEqual(checkpointFeatureGates(version), gates);
            const doc = YAML.parse(renderKubeletConfig({ kubernetesVersion: version, cgroupDriver: "systemd", clientCAFile: "/ca.crt" }));
            assert.equal(doc.kind, "KubeletConfiguration");
            assert.deepEqual(doc.featureGates ?? {}, gates);
            assert.equal(doc.containerRuntimeEndpoint, "unix:///var/run/crio/crio.sock");
            assert.equal(doc.authentication.anonymous.enabled, false, "the checkpoint endpoint is not anonymous");
        });
    }
    it("sets failCgroupV1: false only for a cgroup v1 node's kubelet from 1.35 (KEP-5573)", () => {
        const fail = (version: string, cgroup?: "v1" | "v2") => YAML.parse(renderKubeletConfig({ kubernetesVersion: version, cgroupDriver: "cgroupfs", clientCAFile: "/ca.crt", cgroup })).failCgroupV1;
        assert.equal(fail("1.37.2", "v1"), false);
        assert.equal(fail("1.35.4", "v1"), false);
        for (const [v, cg] of [["1.37.2", "v2"], ["1.34.1", "v1"], ["1.37.2", undefined]] as const) assert.equal(fail(v, cg), undefined, `${v} ${cg}`);
    });
});
