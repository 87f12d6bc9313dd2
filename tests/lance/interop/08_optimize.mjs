// LanceDB compacts a dataset Persisting wrote (optimize(): fragments rewritten, new fragment
// ids); Persisting still reads it identically and appends after it with a fresh fragment id.
import * as lancedb from "@lancedb/lancedb";
import { scratch, tool, toolAppend, toolRead, lanceRows, sameRows, assert, step } from "./lib.mjs";

const dir = scratch("optimize");
const path = `${dir}/opt.lance`;
const row = (i) => ({ id: i, s: i % 3 ? `v${i}` : null, f: i * 0.5 });
const range = (a, n) => Array.from({ length: n }, (_, k) => row(a + k));
toolAppend(path, range(0, 400), ["--batch", "20"]);  // 20 small fragments
const fragments = () => tool(["inspect", path]).split("\n").filter((l) => l).map((l) => JSON.parse(l)).filter((o) => "fragment" in o);
assert.equal(fragments().length, 20);

const db = await lancedb.connect(dir, { readConsistencyInterval: 0 });
const t = await db.openTable("opt");
await t.optimize();
const after = fragments();
assert.ok(after.length < 20, `optimize() should compact, still ${after.length} fragments`);
sameRows(toolRead(path), range(0, 400), "Persisting after LanceDB optimize()");
step(`LanceDB optimize(): 20 fragments -> ${after.length}; Persisting reads identical rows`);

toolAppend(path, range(400, 10));
const ids = fragments().map((f) => f.fragment);
assert.equal(new Set(ids).size, ids.length, "fragment ids stay unique");
assert.ok(ids[ids.length - 1] > Math.max(...after.map((f) => f.fragment)), "the new fragment id follows LanceDB's");
sameRows(await lanceRows(t), range(0, 410), "LanceDB after our append");
step("our append after compaction: new fragment id, LanceDB reads all 410 rows");
console.log("08_optimize: ok");
