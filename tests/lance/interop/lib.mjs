// Shared helpers for the LanceDB interop scripts: run lance_tool, normalise rows, compare.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";

export const TOOL = process.env.LANCE_TOOL;
if (!TOOL) throw new Error("LANCE_TOOL is not set (path to the lance_tool binary)");

export function scratch(name) {
  const dir = mkdtempSync(join(tmpdir(), `lance-interop-${name}-`));
  process.on("exit", () => { if (!process.env.KEEP_SCRATCH) rmSync(dir, { recursive: true, force: true }); });
  return dir;
}

// Runs lance_tool; returns stdout. Throws with stderr on failure.
export function tool(args, input) {
  const r = spawnSync(TOOL, args, { input, maxBuffer: 1 << 30, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`lance_tool ${args.join(" ")} failed: ${r.error ?? r.stderr}`);
  return r.stdout;
}

export function toolAppend(dataset, rows, extra = []) {
  const input = rows.map((r) => JSON.stringify(r)).join("\n") + "\n";
  return JSON.parse(tool(["append", dataset, ...extra], input));
}

// Rows lance_tool reads; vectors (printed as shortest float32 text) are rounded back to float32.
export function toolRead(dataset, extra = [], vectorColumns = new Set(["v"])) {
  return tool(["read", dataset, ...extra]).split("\n").filter((l) => l).map((l) => normPlain(JSON.parse(l), vectorColumns));
}

// The schema lines of `lance_tool inspect`: {field, id, lance_type, type}.
export function toolSchema(dataset) {
  return tool(["inspect", dataset]).split("\n").filter((l) => l).map((l) => JSON.parse(l)).filter((o) => "field" in o);
}

// A LanceDB row as the plain JSON lance_tool prints: int64 -> number, binary -> {$binary},
// vectors -> arrays, json columns -> parsed values.
export function normLance(row, jsonColumns = new Set()) {
  const out = {};
  for (const [k, v] of Object.entries(row)) {
    if (v === null || v === undefined) out[k] = null;
    else if (typeof v === "bigint") out[k] = Number(v);
    else if (v instanceof Uint8Array) out[k] = { $binary: Buffer.from(v).toString("base64") };
    else if (typeof v === "object" && typeof v.toArray === "function") out[k] = Array.from(v.toArray());
    else if (jsonColumns.has(k) && typeof v === "string") out[k] = JSON.parse(v);
    else out[k] = v;
  }
  return out;
}

// Plain rows made comparable: vectors rounded to float32 (lance_tool prints the shortest float).
export function normPlain(row, vectorColumns = new Set()) {
  const out = {};
  for (const [k, v] of Object.entries(row)) {
    out[k] = v === undefined ? null : vectorColumns.has(k) && Array.isArray(v) ? v.map(Math.fround) : v;
  }
  return out;
}

export async function lanceRows(table, jsonColumns) {
  const rows = await table.query().toArray();
  return rows.map((r) => normLance(r.toJSON ? r.toJSON() : r, jsonColumns));
}

export const byId = (a, b) => a.id - b.id;

export function sameRows(actual, expected, what) {
  assert.equal(actual.length, expected.length, `${what}: row count`);
  const a = [...actual].sort(byId), e = [...expected].sort(byId);
  for (let i = 0; i < a.length; ++i) {
    assert.deepStrictEqual(a[i], e[i], `${what}: row id=${e[i].id} differs`);
  }
}

export function check(cond, msg) { assert.ok(cond, msg); }
export { assert };

export function step(msg) { console.log(`  - ${msg}`); }
