// Retention (docs/retention.md) removes whole fragments from the front in one Lance Delete
// commit and records the first available offset in table_metadata. LanceDB opens the result
// and sees exactly the rows left; its appends keep our first offset; time travel to the version
// before retention still shows every row (the data files stay until version cleanup).
import * as lancedb from "@lancedb/lancedb";
import { scratch, tool, toolAppend, toolRead, lanceRows, sameRows, assert, step } from "./lib.mjs";

const dir = scratch("retention");
const path = `${dir}/ret.lance`;
const row = (i) => ({ id: i, s: `v${i}`, f: i * 0.5 });
const range = (a, n) => Array.from({ length: n }, (_, k) => row(a + k));
toolAppend(path, range(0, 100), ["--batch", "10"]);  // ten fragments of ten rows
const before = Number(tool(["versions", path]).trim().split("\n").length);

const out = JSON.parse(tool(["retain", path, "--rows", "7"]));
assert.deepStrictEqual([out.removed_rows, out.first_offset], [70, 70]);
sameRows(toolRead(path), range(70, 30), "Persisting after retention");

const db = await lancedb.connect(dir, { readConsistencyInterval: 0 });
const t = await db.openTable("ret");
assert.equal(await t.countRows(), 30);
sameRows(await lanceRows(t), range(70, 30), "LanceDB after retention");
step("retention removed 7 whole fragments in one commit; LanceDB sees the 30 rows left");

await t.checkout(before);
assert.equal(await t.countRows(), 100, "the version before retention still reads every row");
await t.checkoutLatest();
step(`time travel to version ${before} (before retention) still reads 100 rows`);

await t.add(range(100, 5));
assert.equal(tool(["first", path]).trim(), "70", "LanceDB's append keeps the first offset");
sameRows(toolRead(path), range(70, 35), "Persisting after LanceDB's append");
toolAppend(path, range(105, 5));
sameRows(await lanceRows(t), range(70, 40), "LanceDB after our append");
step("LanceDB's append keeps table_metadata; both sides read 40 rows after appends");
console.log("10_retention: ok");
