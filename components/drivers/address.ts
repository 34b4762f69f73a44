/** Node addresses inside a /24: .1 is the gateway/bridge, nodes start at .10. */
export function nodeAddress(subnet: string, index: number): string {
    const base = subnet.split("/")[0].split(".").slice(0, 3).join(".");
    return `${base}.${10 + index}`;
}
