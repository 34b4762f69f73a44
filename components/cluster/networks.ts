// The networks the lab's Kubernetes and Vagrant use themselves: node subnets must stay clear of them.
// Pure constants, shared by kubeadm's configs (kubeadm.ts) and config validation (config.ts).

/** The cluster's pod network (each local node bridges a /24 of it) and service network. */
export const POD_SUBNET = "10.85.0.0/16";
export const SERVICE_SUBNET = "10.96.0.0/16";
/** vagrant-libvirt's management network. */
export const VAGRANT_LIBVIRT_MANAGEMENT = "192.168.121.0/24";

/** Whether two IPv4 CIDRs overlap. */
export function overlaps(a: string, b: string): boolean {
    const parse = (cidr: string) => {
        const [ip, bits] = cidr.split("/");
        const n = ip.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
        return { n, bits: Number(bits ?? 32) };
    };
    const x = parse(a), y = parse(b);
    const bits = Math.min(x.bits, y.bits);
    const block = 2 ** (32 - bits);
    return Math.floor(x.n / block) === Math.floor(y.n / block);
}
