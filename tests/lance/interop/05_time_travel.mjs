// Time travel: for every version of a dataset written alternately by Persisting and LanceDB,
// Persisting's read at that version equals LanceDB's checkout(version).
import * as lancedb from "@lancedb/lancedb";
import { scratch, tool, toolAppend, toolRead, lanceRows, sameRows, assert, step } from "./lib.mjs";

const dir = scratch("travel");
const path = `${dir}/tt.lance`;
const row = (i) => ({ id: i, s: `s${i % 3}`, f: i % 4 ? i * 1.5 : null });
const range = (a, n) => Array.from({ length: n }, (_, k) => row(a + k));
const db = await lancedb.connect(dir, { readConsistencyInterval: 0 });

toolAppend(path, range(0, 5));
const t = await db.openTable("tt");
toolAppend(path, range(5, 5));
await t.add(range(10, 5).map((r) => ({ ...r, id: BigInt(r.id) })));
toolAppend(path, [{ id: 15, s: "new-field", f: 1, g: true }]);
await t.add([{ id: 16n, s: null, f: null, g: false }]);

const ours = tool(["versions", path]).split("\n").filter((l) => l).map((l) => JSON.parse(l));
const theirs = await t.listVersions();
assert.deepStrictEqual(ours.map((v) => v.version), theirs.map((v) => v.version));
for (const { version, rows } of ours) {
  await t.checkout(version);
  const lance = await lanceRows(t);
  assert.equal(lance.length, rows);
  sameRows(toolRead(path, ["--version", String(version)], new Set()), lance, `version ${version}`);
}
await t.checkoutLatest();
step(`${ours.length} versions: Persisting's read at each version equals LanceDB checkout(version)`);
console.log("05_time_travel: ok");
