// The JSON Schema of the stack config (namespace `live-migration-lab:`), checked by ajv before any
// resource is declared. Shape and enumerations live here; rules that relate several keys to each
// other (unknown nodes, duplicate names, version pairings) live in config.ts.

export const CONFIG_NAMESPACE = "live-migration-lab";

const dnsLabel = { type: "string", pattern: "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", description: "a DNS label: lower-case letters, digits and '-', at most 63 characters" } as const;
const absolutePath = { type: "string", pattern: "^/", description: "an absolute path" } as const;
const subnet24 = { type: "string", pattern: "^\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.0/24$", description: "a private IPv4 /24 such as 10.231.0.0/24" } as const;

export const CRIU_RUNTIMES = ["runc", "crun"] as const;
export const CHECKPOINT_RESTORE_LEVELS = ["none", "checkpoint_only", "checkpoint_restore"] as const;
export const FLINK_JOBS = ["StateMachineExample", "TopSpeedWindowing"] as const;

export const configSchema = {
    type: "object",
    additionalProperties: false,
    properties: {
        driver: { enum: ["local", "vagrant", "existing"], default: "local" },
        nodes: {
            type: "array",
            minItems: 2,
            default: [
                { name: "master", role: "master" },
                { name: "worker", role: "worker" },
            ],
            items: {
                type: "object",
                additionalProperties: false,
                required: ["name", "role"],
                properties: {
                    name: dnsLabel,
                    role: { enum: ["master", "worker"] },
                    address: { type: "string", pattern: "^[A-Za-z0-9][A-Za-z0-9.:-]*$", description: "an IP address or DNS name" },
                    sshUser: { type: "string", pattern: "^[a-z_][a-z0-9_-]{0,31}$", description: "a Unix user name", default: "root" },
                    sshPort: { type: "integer", minimum: 1, maximum: 65535, default: 22 },
                    // KubeletConfiguration settings of this node, over the lab's own (its drop-in).
                    kubelet: { type: "object", default: {} },
                },
            },
        },
        // Checked for presence and secrecy in config.ts; its value never appears in a message.
        sshPrivateKey: { type: "string" },
        local: {
            type: "object",
            additionalProperties: false,
            default: {},
            properties: {
                stateDir: { ...absolutePath, default: "/var/lib/live-migration-lab" },
                subnet: { ...subnet24, default: "10.231.0.0/24" },
            },
        },
        vagrant: {
            type: "object",
            additionalProperties: false,
            default: {},
            properties: {
                provider: { enum: ["libvirt", "virtualbox"], default: "libvirt" },
                box: { type: "string", minLength: 1, default: "debian/bookworm64" },
                cpus: { type: "integer", minimum: 2, maximum: 64, default: 2 },
                memoryMb: { type: "integer", minimum: 2048, maximum: 262144, default: 4096 },
                // Not 192.168.121.0/24: vagrant-libvirt uses that for its management network.
                subnet: { ...subnet24, default: "192.168.56.0/24" },
            },
        },
        existing: {
            type: "object",
            additionalProperties: false,
            default: {},
            properties: {
                // packages: CRI-O and Kubernetes from their official repositories (installed by the
                // program); present: already on the hosts' PATH (golden images, distro packages).
                install: { enum: ["packages", "present"], default: "packages" },
                // Who runs CRI-O and the kubelet: systemd, or the lab's supervisor (hosts without systemd).
                services: { enum: ["systemd", "supervised"], default: "systemd" },
                // Where kubeadm's and the Flink image come from: a registry, or built on each host with
                // buildah from the binaries on its PATH (and the Flink inputs at /opt/lab/images).
                images: { enum: ["pull", "build"], default: "pull" },
            },
        },
        criu: {
            type: "object",
            additionalProperties: false,
            default: {},
            properties: {
                dump: { type: "array", items: { type: "string" }, default: ["tcp-established", "skip-in-flight"] },
                restore: { type: "array", items: { type: "string" }, default: ["tcp-established"] },
            },
        },
        crio: {
            type: "object",
            additionalProperties: false,
            default: {},
            properties: {
                // Default: the Kubernetes minor, or on the local lab the one CRI-O it can build (config.ts).
                version: { type: "string", pattern: "^1\\.\\d+$", description: "a CRI-O minor version such as \"1.37\"" },
                runtime: { enum: CRIU_RUNTIMES, default: "runc" },
                checkpointRestore: { enum: CHECKPOINT_RESTORE_LEVELS, default: "checkpoint_restore" },
                settings: { type: "object", default: {} },
            },
        },
        kubernetes: {
            type: "object",
            additionalProperties: false,
            default: {},
            properties: {
                // The newest supported minor's release that the Go module proxy serves here (KUBERNETES_RELEASES).
                version: { type: "string", pattern: "^1\\.\\d+\\.\\d+$", description: "a Kubernetes release such as \"1.37.2\"", default: "1.37.2" },
                namespace: { ...dnsLabel, default: "default" },
                // false: nodes and their CRIU/CRI-O configuration only (no cluster, Flink or migrations).
                enabled: { type: "boolean", default: true },
                // KubeProxyConfiguration settings, over the driver's own.
                kubeProxy: { type: "object", default: {} },
                // kubeadm preflight checks to skip on these nodes, besides the driver's own.
                ignorePreflightErrors: { type: "array", items: { type: "string", pattern: "^[A-Za-z][A-Za-z0-9-]*$" }, default: [] },
            },
        },
        flink: {
            type: "object",
            additionalProperties: false,
            default: {},
            properties: {
                // false: no Flink job (a lab for the stack's own workloads only).
                enabled: { type: "boolean", default: true },
                version: { type: "string", pattern: "^\\d+\\.\\d+\\.\\d+$", description: "a Flink release such as \"1.20.0\"", default: "1.20.0" },
                image: { type: "string", minLength: 1 },
                job: { enum: FLINK_JOBS, default: "StateMachineExample" },
                args: { type: "array", items: { type: "string" }, default: [] },
                parallelism: { type: "integer", minimum: 1, maximum: 8, default: 1 },
                jobManagerMemory: { type: "string", pattern: "^[1-9]\\d*m$", description: "megabytes such as \"768m\"", default: "768m" },
                taskManagerMemory: { type: "string", pattern: "^[1-9]\\d*m$", description: "megabytes such as \"1024m\"", default: "1024m" },
                checkpointIntervalMs: { type: "integer", minimum: 1000, default: 10000 },
                node: { type: "string" },
            },
        },
        migrations: {
            type: "array",
            default: [],
            items: {
                type: "object",
                additionalProperties: false,
                required: ["id", "to"],
                properties: {
                    id: { type: "string", pattern: "^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$", description: "a short id: lower-case letters, digits and '-', at most 32 characters" },
                    to: { type: "string" },
                    // Which workload moves: "flink" or a name from `workloads`; may be left out when the stack runs one.
                    workload: { type: "string" },
                },
            },
        },
        // Pods the stack brings, each a workload the lab runs and can migrate beside the Flink job.
        workloads: {
            type: "array",
            default: [],
            items: {
                type: "object",
                additionalProperties: false,
                required: ["name", "containers", "probe"],
                properties: {
                    // The pod's name; a migration's restored pod is NAME-ID.
                    name: { type: "string", pattern: "^[a-z0-9]([-a-z0-9]{0,28}[a-z0-9])?$", description: "a short name: lower-case letters, digits and '-', at most 30 characters" },
                    // The node it starts on; the first worker when left out.
                    node: { type: "string" },
                    containers: {
                        type: "array",
                        minItems: 1,
                        items: {
                            type: "object",
                            additionalProperties: false,
                            required: ["name", "image"],
                            properties: {
                                name: dnsLabel,
                                // An image reference (pulled), or on the local lab the name of the image it builds from `packages`.
                                image: { type: "string", minLength: 1 },
                                // Debian packages the local lab builds the image from (debootstrap on the host, buildah on the nodes).
                                packages: { type: "array", items: { type: "string", pattern: "^[a-z0-9][a-z0-9+.-]+$", description: "a Debian package name" }, default: [] },
                                command: { type: "array", items: { type: "string" }, default: [] },
                                args: { type: "array", items: { type: "string" }, default: [] },
                                env: { type: "object", additionalProperties: { type: "string" }, default: {} },
                                ports: { type: "array", items: { type: "integer", minimum: 1, maximum: 65535 }, default: [] },
                                memoryMb: { type: "integer", minimum: 16, maximum: 262144, default: 256 },
                            },
                        },
                    },
                    // How to tell it is alive and making progress: a command run in one of its containers
                    // that prints a number which must never go back across a migration (and, after it, an
                    // identity that must stay the same, such as a connection's id).
                    probe: {
                        type: "object",
                        additionalProperties: false,
                        required: ["command"],
                        properties: {
                            // The container it runs in; the first one when left out.
                            container: { type: "string" },
                            command: { type: "array", minItems: 1, items: { type: "string" } },
                        },
                    },
                },
            },
        },
        archive: {
            type: "object",
            additionalProperties: false,
            default: {},
            properties: {
                dir: { ...absolutePath, default: "/var/lib/live-migration-lab/checkpoints" },
                keep: { type: "integer", minimum: 1, maximum: 100, default: 3 },
                // How the target restores: "direct" from the transferred archive (CRI-O reads it
                // through the lab's CRI proxy, cri-proxy/), or "image" from a checkpoint image that
                // buildah makes of it first. The default is "direct" on the local driver, "image" elsewhere.
                restore: { enum: ["direct", "image"] },
            },
        },
        cutover: {
            type: "object",
            additionalProperties: false,
            default: {},
            properties: {
                // The source is frozen from its checkpoint until the target commits; past this it
                // resumes on its own and the migration counts as failed. Below Flink's heartbeat and
                // RPC timeouts (FLINK_FREEZE_TOLERANCE_MS, 60 s) so a long hold never fails the job over.
                // At most 50 with the Flink job (validation: its heartbeat); longer for slow hosts (emulated VMs).
                maxPauseSeconds: { type: "integer", minimum: 10, maximum: 600, description: "seconds, 10 to 600", default: 40 },
            },
        },
    },
} as const;
