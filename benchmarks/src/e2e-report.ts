/** Medians across rounds, the text table, and the SVG chart of `bench:e2e`. */
import type { Sample } from "./e2e-measure.js";

/** The figures of one case: a median over its rounds for each. */
export interface Medians {
  tcp1Gbps: number;
  tcp4Gbps: number;
  udpGbps: number;
  udpLossPercent: number;
  rttIdleMs: number;
  rttLoadMs: number;
  tcp1CpuPerGB: number;
  tcp4CpuPerGB: number;
  udpCpuPerGB: number;
  tcp1VpnCpuPerGB: number | null;
  tcp4VpnCpuPerGB: number | null;
  udpVpnCpuPerGB: number | null;
}

/** This case over the reference case (upstream wireguard-go on both sides). */
export interface Ratios {
  tcp1Gbps: number;
  tcp4Gbps: number;
  udpGbps: number;
  tcp1CpuPerGB: number;
  tcp1VpnCpuPerGB: number | null;
}

export interface CaseSummary {
  id: string;
  name: string;
  /** Why the case did not run at all (e.g. no upstream binary). */
  skipped?: string;
  rounds: number;
  errors: string[];
  median: Medians | null;
  ratios: Ratios | null;
}

const EXTRACT: { [K in keyof Medians]: (s: Sample) => number | null } = {
  tcp1Gbps: (s) => s.tcp1.gbps,
  tcp4Gbps: (s) => s.tcp4.gbps,
  udpGbps: (s) => s.udp.gbps,
  udpLossPercent: (s) => s.udp.lossPercent,
  rttIdleMs: (s) => s.rttIdle.medianMs,
  rttLoadMs: (s) => s.rttLoad.medianMs,
  tcp1CpuPerGB: (s) => s.tcp1.cpuPerGB,
  tcp4CpuPerGB: (s) => s.tcp4.cpuPerGB,
  udpCpuPerGB: (s) => s.udp.cpuPerGB,
  tcp1VpnCpuPerGB: (s) => s.tcp1.vpnCpuPerGB,
  tcp4VpnCpuPerGB: (s) => s.tcp4.vpnCpuPerGB,
  udpVpnCpuPerGB: (s) => s.udp.vpnCpuPerGB,
};

export function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function medians(samples: Sample[]): Medians | null {
  if (samples.length === 0) return null;
  const out = {} as Record<keyof Medians, number | null>;
  for (const [k, f] of Object.entries(EXTRACT) as [keyof Medians, (s: Sample) => number | null][]) {
    const xs = samples.map(f);
    out[k] = xs.every((x) => x === null) ? null : median(xs.filter((x): x is number => x !== null));
  }
  return out as unknown as Medians;
}

export function ratios(m: Medians | null, ref: Medians | null): Ratios | null {
  if (!m || !ref) return null;
  const r = (x: number | null, y: number | null): number | null => (x === null || y === null || !y ? null : x / y);
  return {
    tcp1Gbps: r(m.tcp1Gbps, ref.tcp1Gbps)!,
    tcp4Gbps: r(m.tcp4Gbps, ref.tcp4Gbps)!,
    udpGbps: r(m.udpGbps, ref.udpGbps)!,
    tcp1CpuPerGB: r(m.tcp1CpuPerGB, ref.tcp1CpuPerGB)!,
    tcp1VpnCpuPerGB: r(m.tcp1VpnCpuPerGB, ref.tcp1VpnCpuPerGB),
  };
}

const fmt = (x: number | null | undefined, digits: number): string =>
  x === null || x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(digits);

/** A fixed-width table: first column left-aligned, the rest right-aligned; `head` may span two lines. */
function textTable(head: string[][], rows: string[][]): string {
  const all = [...head, ...rows];
  const widths = all[0].map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ").trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [...head.map(line), rule, ...rows.map(line)].join("\n");
}

export function renderTable(cases: CaseSummary[]): string {
  const head = [
    ["", "TCP-1", "TCP-4", "UDP", "UDP", "RTT", "RTT", "CPU-s/GB", "CPU-s/GB", "x up", "x up", "x up", "x up", "x up"],
    ["case", "Gbit/s", "Gbit/s", "Gbit/s", "loss %", "idle ms", "load ms", "machine", "VPN", "TCP-1", "TCP-4", "UDP", "CPU/GB", "VPN CPU"],
  ];
  const rows = cases.map((c) => {
    if (!c.median) return [c.name, c.skipped ? `skipped: ${c.skipped}` : `FAILED: ${c.errors[0]?.split("\n")[0].slice(0, 100) ?? "?"}`];
    const m = c.median;
    const r = c.ratios;
    return [
      c.name,
      fmt(m.tcp1Gbps, 2),
      fmt(m.tcp4Gbps, 2),
      fmt(m.udpGbps, 2),
      fmt(m.udpLossPercent, 1),
      fmt(m.rttIdleMs, 3),
      fmt(m.rttLoadMs, 2),
      fmt(m.tcp1CpuPerGB, 1),
      fmt(m.tcp1VpnCpuPerGB, 1),
      fmt(r?.tcp1Gbps, 2),
      fmt(r?.tcp4Gbps, 2),
      fmt(r?.udpGbps, 2),
      fmt(r?.tcp1CpuPerGB, 2),
      fmt(r?.tcp1VpnCpuPerGB, 2),
    ];
  });
  // Rows that only carry a note are not padded to the table's width.
  const table = textTable(head, rows.filter((r) => r.length > 2));
  const lines = table.split("\n");
  let next = head.length + 1;
  const out: string[] = lines.slice(0, next);
  for (const r of rows) out.push(r.length > 2 ? lines[next++] : `${r[0]}  ${r[1]}`);
  return out.join("\n");
}

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** Bars of `values` for each case, one panel; `x0`..`x0+width` is the scale's extent. */
function panel(
  cases: CaseSummary[],
  o: {
    x0: number; y0: number; width: number; rowH: number; barH: number; title: string; unit: string;
    series: { label: string; color: string; value: (m: Medians) => number | null; digits: number }[];
    /** Cases left out of the scale (the bare veth, far above any VPN): their longer bars are cut. */
    offScale?: string[];
  },
): string[] {
  const scaled = cases.filter((c) => !o.offScale?.includes(c.id));
  const values = scaled.flatMap((c) => (c.median ? o.series.map((s) => s.value(c.median!) ?? 0) : [])).filter(Number.isFinite);
  const max = niceMax(Math.max(1e-9, ...values));
  const scale = (v: number) => (v / max) * o.width;
  const out: string[] = [];
  const height = cases.length * o.rowH;
  out.push(`<text x="${o.x0}" y="${o.y0 - 26}" class="h">${esc(o.title)}</text>`);
  for (let i = 0; i <= 4; i++) {
    const x = o.x0 + (o.width * i) / 4;
    out.push(`<line x1="${x}" y1="${o.y0 - 4}" x2="${x}" y2="${o.y0 + height}" class="grid"/>`);
    out.push(`<text x="${x}" y="${o.y0 - 8}" class="tick">${+((max * i) / 4).toPrecision(3)}</text>`);
  }
  out.push(`<text x="${o.x0 + o.width}" y="${o.y0 + height + 16}" class="tick">${esc(o.unit)}</text>`);
  cases.forEach((c, i) => {
    const y = o.y0 + i * o.rowH + 4;
    if (!c.median) {
      out.push(`<text x="${o.x0 + 4}" y="${y + o.barH * 1.5}" class="note">${esc(c.skipped ? "skipped" : "failed")}</text>`);
      return;
    }
    o.series.forEach((s, j) => {
      const v = s.value(c.median!);
      const by = y + j * o.barH;
      if (v === null || !Number.isFinite(v)) {
        out.push(`<text x="${o.x0 + 4}" y="${by + o.barH - 2}" class="val">-</text>`);
        return;
      }
      const cut = v > max;
      const w = cut ? o.width + 12 : Math.max(0.5, scale(v));
      out.push(`<rect x="${o.x0}" y="${by}" width="${w.toFixed(1)}" height="${o.barH - 1}" fill="${s.color}"><title>${esc(`${c.name}: ${s.label} ${v.toFixed(s.digits)} ${o.unit}`)}</title></rect>`);
      // A cut bar: a white gap across it, then its value.
      if (cut) out.push(`<path d="M${o.x0 + o.width - 8} ${by + o.barH + 1} l6 ${-o.barH - 3} h4 l-6 ${o.barH + 3} z" fill="#fff"/>`);
      out.push(`<text x="${(o.x0 + w + 3).toFixed(1)}" y="${by + o.barH - 2}" class="val">${v.toFixed(s.digits)}${cut ? " (off scale)" : ""}</text>`);
    });
  });
  // legend
  o.series.forEach((s, j) => {
    const x = o.x0 + j * 120;
    const y = o.y0 + height + 24;
    out.push(`<rect x="${x}" y="${y}" width="10" height="10" fill="${s.color}"/><text x="${x + 14}" y="${y + 9}" class="leg">${esc(s.label)}</text>`);
  });
  return out;
}

/** The smallest of 1, 2, 2.5, 5 x 10^n at or above `x`. */
function niceMax(x: number): number {
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= x) return m * p;
  return 10 * p;
}

export function renderSvg(cases: CaseSummary[], title: string, subtitle: string): string {
  const rowH = 44;
  const barH = 12;
  const y0 = 96;
  const labelW = 270;
  const width = 1100;
  const height = y0 + cases.length * rowH + 56;
  const body = [
    ...panel(cases, {
      x0: labelW, y0, width: 330, rowH, barH, title: "Throughput (median, higher is better)", unit: "Gbit/s", offScale: ["veth"],
      series: [
        { label: "TCP 1 stream", color: "#2b6cb0", value: (m) => m.tcp1Gbps, digits: 2 },
        { label: "TCP 4 streams", color: "#63b3ed", value: (m) => m.tcp4Gbps, digits: 2 },
        { label: "UDP goodput", color: "#dd6b20", value: (m) => m.udpGbps, digits: 2 },
      ],
    }),
    ...panel(cases, {
      x0: labelW + 450, y0, width: 280, rowH, barH, title: "CPU-s per GB, TCP 1 stream (lower is better)", unit: "CPU-s/GB",
      series: [
        { label: "whole machine", color: "#718096", value: (m) => m.tcp1CpuPerGB, digits: 1 },
        { label: "VPN processes", color: "#38a169", value: (m) => m.tcp1VpnCpuPerGB, digits: 1 },
      ],
    }),
  ];
  const labels = cases.map((c, i) => `<text x="${labelW - 10}" y="${y0 + i * rowH + 4 + barH * 1.5 + 4}" class="lab">${esc(c.name)}</text>`);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">`,
    "<style>",
    ".t{font-size:16px;font-weight:bold}.s{font-size:11px;fill:#4a5568}.h{font-size:13px;font-weight:bold}",
    ".tick{font-size:10px;fill:#718096;text-anchor:middle}.grid{stroke:#e2e8f0}.val{font-size:10px;fill:#2d3748}",
    ".lab{font-size:12px;text-anchor:end}.leg{font-size:11px}.note{font-size:11px;fill:#c53030}",
    "</style>",
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="16" y="24" class="t">${esc(title)}</text>`,
    `<text x="16" y="42" class="s">${esc(subtitle)}</text>`,
    ...labels,
    ...body,
    "</svg>",
    "",
  ].join("\n");
}
