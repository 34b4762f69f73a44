// The Redis example (examples/redis-sidecar.yaml) watched from outside its pod, shared by the
// end-to-end test: the counter, the sidecar's connection (its Redis client id and age) and a key,
// read over the pod's loopback from the node (nsenter into the pod's network namespace, bash's
// /dev/tcp, RESP parsed by python3), so nothing runs inside the containers while a hop checkpoints
// them. A sampler does it in the background while `pulumi up` moves the pod.
import { BackgroundSampler, LocalLab, NodeName, sampleInBackground } from "./local-lab-helpers";
import { libraryText, words } from "../../components/node/program";
import { CRIO_SOCKET } from "../../components/node/crio";

export interface RedisSample {
    pod: string;
    node: string;
    /** The sidecar's counter (INCR every 100 ms). */
    counter: number;
    /** The sidecar connection's Redis client id (a new connection gets a new one), and its age in seconds. */
    id: number;
    age: number;
    /** The value of the key asked for (key:N = N), or null when Redis has no such key. */
    key: string | null;
    at: number;
}

const PARSE = `
import json, sys, time
data = sys.stdin.buffer.read().decode()
def bulk(s):
    head, _, rest = s.partition("\\r\\n")
    if head == "$-1":
        return None, rest
    if not head.startswith("$"):
        sys.exit("unexpected reply: " + head)
    n = int(head[1:])
    return rest[:n], rest[n + 2:]
counter, rest = bulk(data)
clients, rest = bulk(rest)
key, rest = bulk(rest) if len(sys.argv) > 3 else (None, rest)
side = [dict(f.split("=", 1) for f in line.split(" ") if "=" in f) for line in (clients or "").splitlines()]
side = [c for c in side if c.get("name") == "sidecar"]
if counter is None or not side:
    sys.exit("no counter or no sidecar connection yet")
print(json.dumps({"pod": sys.argv[1], "node": sys.argv[2], "counter": int(counter), "id": int(side[0]["id"]), "age": int(side[0]["age"]),
                  "key": key, "at": int(time.time() * 1000)}))
`;

/** A node program printing one RedisSample of `pod` (on that node); `key`: also read key:KEY. */
export function redisSampleScript(pod: string, key?: number): string {
    const ask = `GET counter\\r\\nCLIENT LIST\\r\\n${key === undefined ? "" : `GET key:${key}\\r\\n`}QUIT\\r\\n`;
    return [
        "set -euo pipefail",
        libraryText("node/programs/container.sh"),
        `found=$(find_container ${words([CRIO_SOCKET, "server", pod, "default"])}); read -r _ pid <<<"$found"`,
        // printf's format holds only the fixed request; the pod's loopback answers on one connection.
        `nsenter -t "$pid" -n timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/6379; printf "${ask}" >&3; cat <&3' | python3 -c ${words([PARSE])} ${words([pod])} "$(hostname)"${key === undefined ? "" : " key"}`,
    ].join("\n");
}

/** Samples `pods` (pod on node) every ~0.3 s until stopped; pods that do not answer are skipped. */
export function startRedisSampler(lab: LocalLab, pods: readonly { node: NodeName; pod: string }[]): BackgroundSampler<RedisSample> {
    return sampleInBackground<RedisSample>(lab, pods.map(({ node, pod }) => ({ node, script: redisSampleScript(pod) })), "redis-sampler", 0.3);
}

/** Why a sample sequence is wrong: the counter went back, or the sidecar's connection changed. */
export function redisWentWrong(samples: readonly RedisSample[]): string | undefined {
    for (let i = 1; i < samples.length; i++) {
        const [a, b] = [samples[i - 1], samples[i]];
        if (b.counter < a.counter) return `the counter went back: ${b.counter} in ${b.pod} on ${b.node} at ${b.at}, after ${a.counter} in ${a.pod} on ${a.node} at ${a.at}`;
        if (b.id !== a.id) return `the sidecar's connection changed: client id ${b.id} in ${b.pod} on ${b.node}, after ${a.id} in ${a.pod} on ${a.node} (a reconnect)`;
    }
    return undefined;
}
