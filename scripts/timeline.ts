// Draws one migration as an SVG: its phases on a time axis, the window in which the job made no
// progress, and the job's record count as probed from outside across the cutover.
import type { MigrationSummary } from "../components/migration/migration";
import type { FlinkProbe } from "../components/flink/flink";

const W = 900;
const PAD = { left: 100, right: 20, top: 40 };
/** Seconds between ticks on the time axis. */
const TICK_S = 5;
const BAR_H = 22;
const PLOT_H = 200;

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** The phases of a hop as [label, start ms, end ms]. */
export function phases(m: MigrationSummary): [string, number, number][] {
    const t = m.timeline;
    const s = (x: number) => x * 1000;
    const transferEnd = t.transferAt + s(m.seconds.transfer);
    const image: [string, number, number][] = t.imageAt !== undefined && m.seconds.image !== undefined
        ? [["image", t.imageAt, t.imageAt + s(m.seconds.image)]] : [];
    return [
        ["checkpoint", t.checkpointAt, t.checkpointAt + s(m.seconds.checkpoint)],
        // Inside the checkpoint: CRI-O's pause to the end of CRIU's dump, then the archive written.
        ...(t.dumpedAt ? [["pause + dump", t.pausedAt, t.dumpedAt], ["archive", t.dumpedAt, t.heldAt]] as [string, number, number][] : []),
        ["transfer", t.transferAt, transferEnd],
        ...image,
        // The archive (or image) ready on the target to the restored container's start.
        ["restore", image.length > 0 ? image[0][2] : transferEnd, t.restoredAt],
        ["cutover", t.cutoverAt, t.committedAt],
    ];
}

/** CRIU's own figures of the hop in one line (its stats-dump and stats-restore). */
export function criuLine(m: MigrationSummary): string {
    const d = m.criu?.dump as Record<string, number> | undefined;
    const r = m.criu?.restore as Record<string, number> | undefined;
    const mb = (pages: number) => `${((pages * 4096) / 1048576).toFixed(0)} MB`;
    const dump = d && d.frozenMs !== undefined
        ? `CRIU dump: frozen ${d.frozenMs.toFixed(0)} ms (freezing ${d.freezingMs.toFixed(0)}, memdump ${d.memdumpMs.toFixed(0)}, memwrite ${d.memwriteMs.toFixed(0)}), ${d.pagesWritten} pages (${mb(d.pagesWritten)}) written`
        : "CRIU dump: no figures";
    const restore = r && r.restoreMs !== undefined
        ? `restore: ${r.restoreMs.toFixed(0)} ms (forking ${r.forkingMs.toFixed(0)}), ${r.pagesRestored} pages restored`
        : "restore: no figures";
    return `${dump}; ${restore}`;
}

export function renderTimeline(m: MigrationSummary, probes: readonly FlinkProbe[], machine: string): string {
    const ph = phases(m);
    const start = Math.min(ph[0][1], ...probes.map(p => p.at)) - 1000;
    const end = Math.max(ph[ph.length - 1][2], ...probes.map(p => p.at)) + 1000;
    const r1 = (v: number) => Math.round(v * 10) / 10;
    const x = (ms: number) => r1(PAD.left + ((ms - start) / (end - start)) * (W - PAD.left - PAD.right));
    const barsTop = PAD.top;
    const plotTop = barsTop + ph.length * (BAR_H + 6) + 30;
    const height = plotTop + PLOT_H + 100;
    const recs = probes.map(p => p.records);
    const lo = Math.min(...recs, m.records.before);
    const hi = Math.max(...recs, m.records.after, lo + 1);
    const y = (r: number) => r1(plotTop + PLOT_H - ((r - lo) / (hi - lo)) * PLOT_H);
    const out: string[] = [
        `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="sans-serif" font-size="12">`,
        `<rect width="100%" height="100%" fill="white"/>`,
        `<text x="${PAD.left}" y="20" font-size="14" font-weight="bold">${esc(`migration ${m.id}: ${m.from} -> ${m.to} (${m.attempt}), archive ${(m.sizeBytes / 1048576).toFixed(0)} MB, pod RSS ${(m.rssBytes / 1048576).toFixed(0)} MB`)}</text>`,
        // The window without progress: from the source's pause to the restored container's start.
        `<rect x="${x(m.timeline.pausedAt)}" y="${barsTop - 6}" width="${x(m.timeline.restoredAt) - x(m.timeline.pausedAt)}" height="${plotTop + PLOT_H - barsTop + 6}" fill="#f4cccc" opacity="0.5"/>`,
        `<text x="${x(m.timeline.pausedAt) + 4}" y="${plotTop - 8}" fill="#990000">${esc(`no progress ${m.noProgressSeconds.toFixed(1)} s`)}</text>`,
    ];
    ph.forEach(([label, a, b], i) => {
        const top = barsTop + i * (BAR_H + 6);
        out.push(`<text x="${PAD.left - 6}" y="${top + 15}" text-anchor="end">${label}</text>`);
        out.push(`<rect x="${x(a)}" y="${top}" width="${Math.max(1, x(b) - x(a))}" height="${BAR_H}" fill="#3d85c6"/>`);
        out.push(`<text x="${x(b) + 4}" y="${top + 15}">${((b - a) / 1000).toFixed(1)} s</text>`);
    });
    // The record count as probed from outside, one colour per node.
    out.push(`<line x1="${PAD.left}" y1="${plotTop + PLOT_H}" x2="${W - PAD.right}" y2="${plotTop + PLOT_H}" stroke="#999"/>`);
    out.push(`<text x="${PAD.left - 6}" y="${plotTop + 4}" text-anchor="end">${hi}</text>`);
    out.push(`<text x="${PAD.left - 6}" y="${plotTop + PLOT_H}" text-anchor="end">${lo}</text>`);
    out.push(`<text x="8" y="${plotTop + PLOT_H / 2}" transform="rotate(-90 12 ${plotTop + PLOT_H / 2})">records read</text>`);
    const colour: Record<string, string> = { [m.from]: "#e69138", [m.to]: "#6aa84f" };
    for (const p of probes) out.push(`<circle cx="${x(p.at)}" cy="${y(p.records)}" r="2.5" fill="${colour[p.node] ?? "#666"}"/>`);
    // Time axis: seconds from the checkpoint request.
    const t0 = ph[0][1];
    for (let k = Math.ceil((start - t0) / 1000 / TICK_S) * TICK_S; t0 + k * 1000 <= end; k += TICK_S) {
        const tx = x(t0 + k * 1000);
        out.push(`<line x1="${tx}" y1="${plotTop + PLOT_H}" x2="${tx}" y2="${plotTop + PLOT_H + 5}" stroke="#999"/>`);
        out.push(`<text x="${tx}" y="${plotTop + PLOT_H + 17}" text-anchor="middle" fill="#666">${k} s</text>`);
    }
    const legendY = plotTop + PLOT_H + 42;
    out.push(`<circle cx="${PAD.left}" cy="${legendY - 4}" r="4" fill="${colour[m.from]}"/><text x="${PAD.left + 8}" y="${legendY}">${esc(`job on ${m.from} (source)`)}</text>`);
    out.push(`<circle cx="${PAD.left + 180}" cy="${legendY - 4}" r="4" fill="${colour[m.to]}"/><text x="${PAD.left + 188}" y="${legendY}">${esc(`job on ${m.to} (restored)`)}</text>`);
    out.push(`<text x="${PAD.left}" y="${legendY + 20}" fill="#666">${esc(`time in seconds from the checkpoint request; ${machine}`)}</text>`);
    out.push(`<text x="${PAD.left}" y="${legendY + 40}" fill="#666">${esc(criuLine(m))}</text>`);
    out.push("</svg>", "");
    return out.join("\n");
}
