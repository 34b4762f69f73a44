// A managed file whose right content depends on what the node's software knows (the CRI-O drop-in:
// which restore switch its binary reads) travels as all its variants, each after a marker line,
// and the node's writer keeps the one that fits (write-file.sh with SELECT). The text sent stays the
// same whatever the node has, so learning the node's answer never turns into a change by itself.
// Pure: no I/O.

/** The line before each variant's content (a comment in TOML, YAML and shell alike). */
export const VARIANT_MARK = "#live-migration-lab variant: ";

export function joinVariants(variants: Readonly<Record<string, string>>): string {
    return Object.entries(variants).map(([name, content]) => {
        if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`variant name ${name} is not [a-z0-9_]+`);
        if (content.split("\n").some(l => l.startsWith(VARIANT_MARK))) throw new Error(`variant ${name} holds a marker line`);
        return `${VARIANT_MARK}${name}\n${content}`;
    }).join("");
}

/** The variants of a text made by joinVariants, or undefined for a plain text. */
export function splitVariants(text: string): Record<string, string> | undefined {
    if (!text.startsWith(VARIANT_MARK)) return undefined;
    const out: Record<string, string> = {};
    for (const part of text.split(new RegExp(`^${VARIANT_MARK}`, "m")).slice(1)) {
        const nl = part.indexOf("\n");
        out[part.slice(0, nl)] = part.slice(nl + 1);
    }
    return out;
}
