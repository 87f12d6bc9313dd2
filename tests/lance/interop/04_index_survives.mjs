// A vector index LanceDB builds on a dataset Persisting wrote survives Persisting's next
// append: the index section is carried over, new rows are "unindexed", and ANN search still
// finds both old and new rows.
import * as lancedb from "@lancedb/lancedb";
import { scratch, toolAppend, toolRead, assert, step } from "./lib.mjs";

const dir = scratch("index");
const path = `${dir}/idx.lance`;
const dim = 16;
const vec = (i) => Array.from({ length: dim }, (_, k) => Math.fround(Math.cos(i * 31 + k * 7) + (k === i % dim ? 3 : 0)));
const rows = (a, n) => Array.from({ length: n }, (_, k) => ({ id: a + k, v: vec(a + k) }));
toolAppend(path, rows(0, 2000), ["--batch", "500", "--vector", "v"]);

const db = await lancedb.connect(dir, { readConsistencyInterval: 0 });
const t = await db.openTable("idx");
await t.createIndex("v", { config: lancedb.Index.ivfPq({ numPartitions: 4, numSubVectors: 4 }) });
const name = (await t.listIndices())[0].name;
let stats = await t.indexStats(name);
assert.equal(stats.numIndexedRows, 2000);
step(`LanceDB built index '${name}' over 2000 rows`);

toolAppend(path, rows(2000, 10), ["--vector", "v"]);
const indices = await t.listIndices();
assert.equal(indices.length, 1, "the index is still listed after our append");
assert.equal(indices[0].name, name);
stats = await t.indexStats(name);
assert.equal(stats.numIndexedRows, 2000);
assert.equal(stats.numUnindexedRows, 10);
assert.equal(await t.countRows(), 2010);
// Unindexed rows are searched exactly; indexed ones through PQ, so probe every partition and
// re-rank the best 100 candidates exactly to make the indexed lookup deterministic.
for (const id of [5, 2005]) {
  const hit = await t.search(vec(id)).nprobes(4).refineFactor(100).limit(1).toArray();
  assert.equal(Number(hit[0].id), id, `nearest neighbour of row ${id}`);
}
assert.equal(toolRead(path).length, 2010);
step("after our append: index kept (2000 indexed, 10 unindexed), search finds old and new rows");
console.log("04_index_survives: ok");
