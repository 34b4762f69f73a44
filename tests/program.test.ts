import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import { promiseOf, runWithMocks } from "./mocks";

const INDEX = require.resolve("../index");

/** Loads index.ts afresh, as `pulumi up` would, and returns its exports. */
function loadProgram(): Record<string, any> {
    delete require.cache[INDEX];
    return require(INDEX);
}

describe("the program (index.ts)", () => {
    it("stops on bad stack config before declaring anything, listing every problem with its config path", async () => {
        let error: unknown;
        const { resources } = await runWithMocks({ driver: "existing", nodes: [{ name: "a", role: "master" }, { name: "a", role: "worker" }], migrations: [{ id: "m1", to: "b" }] }, () => {
            try { loadProgram(); } catch (e) { error = e; }
        });
        assert.ok(error instanceof pulumi.RunError, `expected RunError, got ${error}`);
        const text = (error as Error).message;
        for (const line of ["live-migration-lab:nodes[1].name", "live-migration-lab:nodes[0].address", "live-migration-lab:sshPrivateKey", "live-migration-lab:migrations[0].to", "nothing was changed"]) {
            assert.ok(text.includes(line), `missing ${line} in:\n${text}`);
        }
        assert.deepEqual(resources, [], "no resource was declared");
    });

    it("exports nodes, the Flink placement, migrations and a secret kubeconfig for the dev stack defaults", async () => {
        const { result } = await runWithMocks({}, () => loadProgram());
        assert.deepEqual((await promiseOf<any[]>(result.nodes)).map((n: any) => n.name), ["master", "worker"]);
        assert.equal((await promiseOf<any>(result.flink)).node, "worker");
        assert.deepEqual(await promiseOf(result.migrations), []);
        assert.equal(await result.kubeconfig.isSecret, true);
        assert.match(result.criuConf, /^tcp-established$/m);
    });
});
