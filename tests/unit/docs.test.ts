// The README and docs/: every stack config key the schema has (and no other) in both the README and
// docs/config.md, every link between the pages reaching its file and heading, a README that stays short.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { configSchema } from "../../components/config/schema";

const ROOT = path.join(__dirname, "..", "..");

/** The schema's keys: top-level ones, and `parent.child` for objects with properties of their own. */
function schemaKeys(): string[] {
    const keys: string[] = [];
    for (const [k, v] of Object.entries(configSchema.properties as Record<string, any>)) {
        if (v.type === "object" && v.properties) keys.push(...Object.keys(v.properties).map(c => `${k}.${c}`));
        else keys.push(k);
    }
    return keys.sort();
}

/**
 * The keys a markdown page's config table names, from its first column: `a.b` names itself; bare
 * names after it in the same cell (`a.b` / `c`, or `a.b`, `c`) are siblings (`a.c`).
 */
function documentedKeys(file: string, section: string): string[] {
    const text = fs.readFileSync(path.join(ROOT, file), "utf8");
    const start = text.indexOf(section);
    assert.ok(start >= 0, `${file} has ${section}`);
    const keys: string[] = [];
    for (const line of text.slice(start).split("\n")) {
        const m = /^\| ([^|]*`[^|]*) \|/.exec(line);
        if (!m) continue;
        let parent = "";
        for (const [, name] of m[1].matchAll(/`([A-Za-z.]+)`/g)) {
            if (name.includes(".")) { parent = name.slice(0, name.indexOf(".")); keys.push(name); }
            else keys.push(parent ? `${parent}.${name}` : name);
        }
    }
    return [...new Set(keys)].sort();
}

describe("docs: every config key", () => {
    for (const [file, section] of [["README.md", "## Stack config"], ["docs/config.md", "| Key |"]]) {
        it(`${file} names every key of the schema, and only those`, () => {
            assert.deepEqual(documentedKeys(file, section), schemaKeys());
        });
    }
});

/** GitHub's anchor of a heading: lower case, punctuation but `-` dropped, spaces to `-`. */
const slug = (heading: string) => heading.trim().toLowerCase().replace(/[^\w\- ]/g, "").replace(/ /g, "-");

describe("docs: links between the pages", () => {
    const pages = ["README.md", ...fs.readdirSync(path.join(ROOT, "docs")).filter(f => f.endsWith(".md")).map(f => `docs/${f}`)];
    const anchors = (file: string) => {
        const text = fs.readFileSync(path.join(ROOT, file), "utf8").replace(/^```[\s\S]*?^```/gm, "");
        return new Set([...text.matchAll(/^#+ (.*)$/gm)].map(m => slug(m[1])));
    };
    for (const page of pages) {
        it(`${page}: every link to a file of the project reaches it, and its anchor a heading there`, () => {
            const text = fs.readFileSync(path.join(ROOT, page), "utf8");
            for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
                if (/^[a-z]+:/.test(target)) continue;
                const [file, anchor] = target.split("#");
                const to = file ? path.normalize(path.join(path.dirname(page), file)) : page;
                assert.ok(fs.existsSync(path.join(ROOT, to)), `${page} links to ${target}: no ${to}`);
                if (anchor) assert.ok(anchors(to).has(anchor), `${page} links to ${target}: ${to} has no heading #${anchor}`);
            }
        });
    }
});

describe("docs: the README is the door, not the manual", () => {
    it("is at most 300 lines; the rest is in docs/", () => {
        const lines = fs.readFileSync(path.join(ROOT, "README.md"), "utf8").split("\n").length;
        assert.ok(lines <= 300, `README.md has ${lines} lines`);
    });
});
