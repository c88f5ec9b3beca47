/**
 * Checks of the example Grafana dashboard (docs/grafana/taltun.json) that can run here
 * without a Grafana: the structure its import reads, and the metrics its queries name.
 */
import { readFileSync } from "node:fs";

/** The dashboard file beside the docs. */
export const DASHBOARD = new URL("../../docs/grafana/taltun.json", import.meta.url).pathname;

interface Target {
  refId?: unknown;
  expr?: unknown;
}
interface Panel {
  id?: unknown;
  type?: unknown;
  title?: unknown;
  gridPos?: Record<string, unknown>;
  datasource?: unknown;
  targets?: Target[];
}
interface Dashboard {
  title?: unknown;
  uid?: unknown;
  schemaVersion?: unknown;
  panels?: Panel[];
  templating?: { list?: Array<{ name?: unknown; query?: unknown; definition?: unknown }> };
}

/** Grafana's own variables a query may use. */
const BUILT_IN = new Set(["__rate_interval", "__interval", "__range", "__interval_ms", "__range_s"]);

/** The dashboard, parsed. */
export function readDashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD, "utf8")) as Dashboard;
}

/**
 * What is wrong with the dashboard's structure for Grafana's import (empty: nothing): a
 * title, a uid, a numeric schemaVersion, panels with unique ids, titles and positions on
 * the 24-column grid, and every panel but a row with a data source and targets that each
 * have a refId and a query whose brackets balance and whose variables are defined.
 */
export function structureProblems(d: Dashboard): string[] {
  const problems: string[] = [];
  if (typeof d.title !== "string" || d.title === "") problems.push("no title");
  if (typeof d.uid !== "string" || d.uid === "") problems.push("no uid");
  if (!Number.isInteger(d.schemaVersion) || (d.schemaVersion as number) < 36) problems.push("schemaVersion is not an integer >= 36 (Grafana 9+)");
  if (!Array.isArray(d.panels) || d.panels.length === 0) return [...problems, "no panels"];
  const vars = new Set((d.templating?.list ?? []).map((v) => v.name));
  const ids = new Set<unknown>();
  for (const p of d.panels) {
    const name = `panel ${String(p.id)} (${String(p.title)})`;
    if (typeof p.id !== "number" || ids.has(p.id)) problems.push(`${name}: id missing or not unique`);
    ids.add(p.id);
    if (typeof p.type !== "string" || typeof p.title !== "string" || p.title === "") problems.push(`${name}: type or title missing`);
    const g = p.gridPos ?? {};
    if (![g.h, g.w, g.x, g.y].every((n) => Number.isInteger(n) && (n as number) >= 0) || (g.x as number) + (g.w as number) > 24) {
      problems.push(`${name}: gridPos is not on the 24-column grid`);
    }
    if (p.type === "row") continue;
    if (p.datasource === undefined) problems.push(`${name}: no datasource`);
    if (!Array.isArray(p.targets) || p.targets.length === 0) {
      problems.push(`${name}: no targets`);
      continue;
    }
    const refs = new Set<unknown>();
    for (const t of p.targets) {
      if (typeof t.refId !== "string" || refs.has(t.refId)) problems.push(`${name}: a target's refId is missing or repeated`);
      refs.add(t.refId);
      if (typeof t.expr !== "string" || t.expr.trim() === "") {
        problems.push(`${name}: a target has no query`);
        continue;
      }
      for (const [open, close] of ["()", "{}", "[]"]) {
        if (t.expr.split(open).length !== t.expr.split(close).length) problems.push(`${name}: unbalanced ${open}${close} in ${t.expr}`);
      }
      for (const m of t.expr.matchAll(/\$\{?(\w+)\}?/g)) if (!vars.has(m[1]) && !BUILT_IN.has(m[1])) problems.push(`${name}: undefined variable $${m[1]}`);
    }
  }
  return problems;
}

/** Every metric name the dashboard's queries and variables use. */
export function dashboardMetrics(d: Dashboard): Set<string> {
  const text = [
    ...(d.panels ?? []).flatMap((p) => (p.targets ?? []).map((t) => String(t.expr ?? ""))),
    ...(d.templating?.list ?? []).map((v) => JSON.stringify(v.query ?? "") + String(v.definition ?? "")),
  ].join("\n");
  return new Set([...text.matchAll(/\b(?:taltun|process|nodejs)_[a-z0-9_]+/g)].map((m) => m[0]));
}

/** The metric names of a scrape in the Prometheus text format (its `# TYPE` lines). */
export function scrapedMetrics(text: string): Set<string> {
  return new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
}
