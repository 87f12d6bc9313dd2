// Compaction and version cleanup (docs/compaction.md): our compaction merges small fragments
// in one Rewrite commit, LanceDB opens the result and sees the same rows, in the same order, as
// our reader; an index LanceDB built stays valid (the fragments it covers are left alone) and
// search still finds old and new rows; after our cleanup LanceDB lists only the versions kept,
// reads, appends and compacts on top (its optimize() after ours), and we read its result; a
// version LanceDB tagged survives our cleanup.
import * as lancedb from "@lancedb/lancedb";
import { scratch, tool, toolAppend, toolRead, lanceRows, sameRows, assert, step } from "./lib.mjs";

const dir = scratch("compaction");
const path = `${dir}/cmp.lance`;
const row = (i) => ({ id: i, s: i % 7 === 0 ? null : `v${i}`, f: i * 0.5, ok: i % 2 === 0 });
const range = (a, n) => Array.from({ length: n }, (_, k) => row(a + k));
toolAppend(path, range(0, 200), ["--batch", "10"]);  // twenty fragments of ten rows
const before = toolRead(path);
sameRows(before, range(0, 200), "Persisting before compaction");

const out = JSON.parse(tool(["compact", path, "--rows", "60"]));
assert.deepStrictEqual([out.fragments_removed, out.fragments_written, out.rows_rewritten], [20, 4, 200]);
sameRows(toolRead(path), before, "Persisting after compaction");
const db = await lancedb.connect(dir, { readConsistencyInterval: 0 });
const t = await db.openTable("cmp");
assert.equal(await t.countRows(), 200);
// LanceDB's scan order is fragment order: the rows come back in the same order, not only as a set.
const ours = toolRead(path);
const theirs = await lanceRows(t);
assert.deepStrictEqual(theirs.map((r) => Number(r.id)), ours.map((r) => Number(r.id)), "row order");
sameRows(theirs, before, "LanceDB after compaction");
assert.equal(await t.countRows("id >= 150"), 50);
step("20 fragments of 10 -> 3 of 60 + 1 of 20 in one commit; LanceDB reads the same rows in the same order");

// An index LanceDB builds covers every fragment now: our compaction leaves them all alone.
const vpath = `${dir}/vec.lance`;
const dim = 16;
const vec = (i) => Array.from({ length: dim }, (_, k) => Math.fround(Math.cos(i * 31 + k * 7) + (k === i % dim ? 3 : 0)));
const vrows = (a, n) => Array.from({ length: n }, (_, k) => ({ id: a + k, v: vec(a + k) }));
toolAppend(vpath, vrows(0, 1000), ["--batch", "250", "--vector", "v"]);
const vt = await db.openTable("vec");
await vt.createIndex("v", { config: lancedb.Index.ivfPq({ numPartitions: 4, numSubVectors: 4 }) });
const name = (await vt.listIndices())[0].name;
for (let k = 0; k < 4; ++k) toolAppend(vpath, vrows(1000 + k * 5, 5), ["--vector", "v"]);
const vout = JSON.parse(tool(["compact", vpath, "--rows", "1000"]));
assert.deepStrictEqual([vout.fragments_removed, vout.fragments_written], [4, 1], "only the unindexed fragments merge");
const stats = await vt.indexStats(name);
assert.equal(stats.numIndexedRows, 1000);
assert.equal(stats.numUnindexedRows, 20);
for (const id of [5, 1012]) {
  const hit = await vt.search(vec(id)).nprobes(4).refineFactor(100).limit(1).toArray();
  assert.equal(Number(hit[0].id), id, `nearest neighbour of row ${id}`);
}
step("indexed fragments are left alone; the index stays valid and search finds old and new rows");

// Cleanup: only the latest version is left; LanceDB lists it, reads, appends and compacts.
// A version LanceDB tagged stays (as LanceDB's own cleanup keeps it).
const versionsBefore = (await t.listVersions()).length;
await (await t.tags()).create("first-ten", 1);
const cleaned = JSON.parse(tool(["cleanup", path, "--older-than", "0"]));
assert.equal(cleaned.versions_removed, versionsBefore - 2);
const t2 = await db.openTable("cmp");
assert.deepStrictEqual((await t2.listVersions()).map((v) => v.version), [1, versionsBefore]);
await t2.checkout("first-ten");
assert.equal(await t2.countRows(), 10, "the tagged version still reads");
await t2.checkoutLatest();
await (await t2.tags()).delete("first-ten");  // LanceDB's optimize() below refuses to clean a tagged version
sameRows(await lanceRows(t2), before, "LanceDB after cleanup");
await t2.add(range(200, 5));
sameRows(toolRead(path), range(0, 205), "Persisting after LanceDB's append");
await t2.optimize({ cleanupOlderThan: new Date(Date.now() + 1000) });
sameRows(toolRead(path), range(0, 205), "Persisting after LanceDB's optimize");
step(`cleanup removed ${cleaned.versions_removed} versions and ${cleaned.files_removed} files, kept the tagged version 1; LanceDB appends and optimizes after it`);
console.log("11_compaction: ok");
