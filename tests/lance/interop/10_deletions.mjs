// Rows LanceDB deletes from a dataset Persisting wrote are gaps in our offsets: we read the rows
// LanceDB keeps, each at its old offset, through both deletion-file forms (an Arrow row list
// for a few rows, a Roaring bitmap for 5,000 or more); then we append, and LanceDB still sees
// its deletions plus our rows. docs/lance-format.md §10.
import * as lancedb from "@lancedb/lancedb";
import { readdirSync } from "node:fs";
import { scratch, tool, toolAppend, toolRead, lanceRows, sameRows, assert, step } from "./lib.mjs";

const dir = scratch("deletions");
const path = `${dir}/del.lance`;
const row = (n) => ({ n, s: `r${n}` });
const range = (a, b) => Array.from({ length: b - a }, (_, k) => row(a + k));
// Three fragments: [0, 100), [100, 7100), [7100, 7200).
toolAppend(path, range(0, 100));
toolAppend(path, range(100, 7100));
toolAppend(path, range(7100, 7200));

const db = await lancedb.connect(dir);
const t = await db.openTable("del");
await t.delete("n < 100 AND n % 10 = 7");        // 10 rows of fragment 0: an Arrow row list
await t.delete("n >= 100 AND n < 6100");         // 6,000 rows of fragment 1: a Roaring bitmap
const files = readdirSync(`${path}/_deletions`).sort();
assert.deepStrictEqual(files.map((f) => f.split(".").pop()).sort(), ["arrow", "bin"], `deletion files: ${files}`);
step(`LanceDB deleted 6,010 rows: ${files.join(", ")}`);

const deleted = (n) => (n < 100 && n % 10 === 7) || (n >= 100 && n < 6100);
let expected = range(0, 7200).filter((r) => !deleted(r.n));
const fresh = await lancedb.connect(dir, { readConsistencyInterval: 0 });
const lance = async () => (await lanceRows(await fresh.openTable("del"))).map((r) => ({ ...r, id: r.n }));
const ours = (extra = []) => toolRead(path, extra, new Set()).map((r) => ({ ...r, id: r.n }));

// Our reader: the rows LanceDB keeps, each at its old offset (offset = n: nothing renumbered).
sameRows(ours(), await lance(), "Persisting vs LanceDB after the deletes");
const withOffsets = ours(["--offsets", "1"]);
assert.equal(withOffsets.length, expected.length);
for (const r of withOffsets) assert.equal(r._offset, r.n, `row n=${r.n} moved to offset ${r._offset}`);
assert.equal(Number(tool(["count", path])), 7200, "deleted rows keep their offsets");
assert.equal(Number(tool(["deleted", path])), 6010);
// A read from inside a gap starts at the next row LanceDB kept.
assert.deepStrictEqual(ours(["--offset", "100", "--limit", "6001"]).map((r) => r.n), [6100]);
step(`we read ${expected.length} rows with gaps at the deleted offsets; the count stays 7,200`);

// Our append keeps LanceDB's deletions.
toolAppend(path, range(7200, 7250));
expected = expected.concat(range(7200, 7250));
const lanceAfter = await lance();
sameRows(lanceAfter, expected.map((r) => ({ ...r, id: r.n })), "LanceDB after our append");
assert.equal(await (await fresh.openTable("del")).countRows(), expected.length);
assert.equal((await (await fresh.openTable("del")).query().where("n = 7 OR n = 150").toArray()).length, 0);
sameRows(ours(), lanceAfter, "Persisting vs LanceDB after our append");
for (const r of ours(["--offsets", "1", "--offset", "7190"])) assert.equal(r._offset, r.n);
step(`after our append of 50 rows LanceDB still hides its 6,010 deletions and reads ${expected.length} rows`);

// LanceDB deletes again, in our new fragment and in one it had deleted from (a new deletion
// file replaces the old); we read that too, then append once more.
await (await db.openTable("del")).delete("n = 7210 OR n = 6200");
expected = expected.filter((r) => r.n !== 7210 && r.n !== 6200);
sameRows(ours(), await lance(), "after LanceDB's second delete");
toolAppend(path, range(7250, 7260));
expected = expected.concat(range(7250, 7260));
sameRows(await lance(), expected.map((r) => ({ ...r, id: r.n })), "LanceDB after our second append");
assert.equal(Number(tool(["count", path])), 7260);
step("a second LanceDB delete (replacing a deletion file) and our second append agree too");
console.log("10_deletions: ok");
