import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import { standInNetns, StandInNetns } from "../harness/stand-in-netns";
import { NETNS_PATHS } from "../../components/drivers/local";
import { promiseOf, runWithMocks } from "./mocks";

const INDEX = require.resolve("../../index");

/** Loads index.ts afresh and runs it, as `pulumi up` would; resolves to its outputs. */
function runProgram(): Promise<Record<string, any>> {
    delete require.cache[INDEX];
    return require(INDEX)();
}

/** The program's error (a RunError expected), with every resource it declared. */
async function failure(config: Record<string, unknown>, previousOutputs?: Record<string, unknown>) {
    let error: unknown;
    const { resources } = await runWithMocks(config, () => runProgram().catch(e => { error = e; }), { previousOutputs });
    await new Promise(r => setTimeout(r, 50));
    assert.ok(error instanceof pulumi.RunError, `expected RunError, got ${error}`);
    return { text: (error as Error).message, resources };
}

const M1 = { id: "m1", from: "worker", to: "master", sha256: "ab" };
const M2 = { id: "m2", from: "master", to: "worker", sha256: "cd" };

describe("the program (index.ts)", () => {
    // Run as scripts/lab.sh runs it: inside the local lab's network namespace (a stand-in: the
    // named namespaces' directory holds the dev stack's lab namespace as this process's own).
    const saved = { ...NETNS_PATHS };
    let netns: StandInNetns;
    before(() => {
        netns = standInNetns("/var/lib/live-migration-lab");
        Object.assign(NETNS_PATHS, { self: netns.self, named: netns.named });
    });
    after(() => { Object.assign(NETNS_PATHS, saved); netns.remove(); });

    it("stops on bad stack config before declaring anything, listing every problem with its config path", async () => {
        const { text, resources } = await failure({ driver: "existing", nodes: [{ name: "a", role: "master" }, { name: "a", role: "worker" }], migrations: [{ id: "m1", to: "b" }] });
        for (const line of ["live-migration-lab:nodes[1].name", "live-migration-lab:nodes[0].address", "live-migration-lab:sshPrivateKey", "live-migration-lab:migrations[0].to", "nothing was changed"]) {
            assert.ok(text.includes(line), `missing ${line} in:\n${text}`);
        }
        assert.deepEqual(resources, [], "no resource was declared");
    });

    it("outside the local lab's network namespace, `pulumi up` stops in one line naming the command to run, before declaring anything", async () => {
        netns.at(false);
        try {
            const { text, resources } = await failure({});
            assert.match(text, /^driver local: run this through scripts\/lab\.sh \(sudo scripts\/lab\.sh up\)/);
            assert.equal(text.split("\n").length, 1);
            assert.deepEqual(resources.filter(r => r.type !== "pulumi:pulumi:StackReference"), []);
        } finally {
            netns.at(true);
        }
    });

    it("exports nodes, the Flink placement, migrations and a secret kubeconfig for the dev stack defaults", async () => {
        const { result: running } = await runWithMocks({}, () => runProgram());
        const result = await running;
        assert.deepEqual((await promiseOf<any[]>(result.nodes)).map((n: any) => n.name), ["master", "worker"]);
        assert.equal((await promiseOf<any>(result.flink)).node, "worker");
        assert.deepEqual(await promiseOf(result.migrations), []);
        assert.equal(await result.kubeconfig.isSecret, true);
        assert.match(result.criuConf, /^tcp-established$/m);
    });

    // Only the reference to its own stack (a read) may come before the refusal.
    const touched = (resources: { type: string }[]) => resources.filter(r => r.type !== "pulumi:pulumi:StackReference");

    it("refuses to remove, reorder or edit migrations the last update carried out, naming each entry, before declaring anything", async () => {
        const done = { migrations: [M1, M2] };
        const removed = await failure({ migrations: [{ id: "m1", to: "master" }] }, done);
        assert.match(removed.text, /live-migration-lab:migrations\[1\]: missing, but migration \{id: m2, to: worker\} was carried out there; the list is append-only/);
        assert.deepEqual(touched(removed.resources), []);
        const reordered = await failure({ migrations: [{ id: "m2", to: "master" }, { id: "m1", to: "worker" }] }, done);
        assert.match(reordered.text, /migrations\[0\]: got \{id: m2, to: master\}, but migration \{id: m1, to: master\} was carried out there/);
        assert.match(reordered.text, /migrations\[1\]: got \{id: m1, to: worker\}, but migration \{id: m2, to: worker\}/);
        assert.deepEqual(touched(reordered.resources), []);
        const moved = await failure({ flink: { node: "master" }, migrations: [{ id: "m1", to: "worker" }, { id: "m2", to: "master" }] }, done);
        assert.match(moved.text, /live-migration-lab:flink.node: got "master", but the job started on "worker" and has moved since \(m1, m2\)/);
    });

    const STARTED = { pod: "flink-minimal-m2", node: "worker" };

    it("accepts the carried-out migrations with a new one appended", async () => {
        const { result: running, resources } = await runWithMocks({ migrations: [{ id: "m1", to: "master" }, { id: "m2", to: "worker" }, { id: "m3", to: "master" }] }, () => runProgram(), { previousOutputs: { migrations: [M1, M2], flink: STARTED } });
        const result = await running;
        assert.deepEqual((await promiseOf<any[]>(result.migrations)).map((m: any) => `${m.id}:${m.to}`), ["m1:master", "m2:worker", "m3:master"]);
        assert.ok(resources.some(r => r.name === "migrate-m3-cutover"));
    });

    it("carries out one new migration per update: a second one appended at once is refused, naming it, before declaring anything", async () => {
        const r = await failure({ migrations: [{ id: "m1", to: "master" }, { id: "m2", to: "worker" }, { id: "m3", to: "master" }, { id: "m4", to: "worker" }] }, { migrations: [M1, M2], flink: STARTED });
        assert.match(r.text, /live-migration-lab:migrations\[3\]: got \{id: m4, to: worker\}, but \{id: m3, to: master\} before it has not been carried out yet; `pulumi up` carries out one new migration at a time/);
        assert.doesNotMatch(r.text, /migrations\[2\]/, "the first new one is fine");
        assert.deepEqual(touched(r.resources), []);
    });

    it("refuses migrations before a successful update has started the job, naming the first entry", async () => {
        const fresh = await failure({ migrations: [{ id: "m1", to: "master" }] });
        assert.match(fresh.text, /live-migration-lab:migrations\[0\]: got \{id: m1, to: master\}, but the Flink job has not been started by a successful `pulumi up` yet/);
        assert.deepEqual(touched(fresh.resources), []);
        // A failed first update leaves no `flink` output: still refused.
        const failedFirst = await failure({ migrations: [{ id: "m1", to: "master" }] }, { migrations: [] });
        assert.match(failedFirst.text, /migrations\[0\]: .*has not been started/);
    });
});
