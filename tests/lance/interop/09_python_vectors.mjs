// Vectors written from Python (the persisting package, numpy float32 arrays, lance backend) are a
// FixedSizeList<float32> column LanceDB indexes and searches. 09_python_vectors.py writes them.
import * as lancedb from "@lancedb/lancedb";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { scratch, assert, step } from "./lib.mjs";

const PY_PATH = process.env.PERSISTING_PYTHONPATH;
if (!PY_PATH) throw new Error("PERSISTING_PYTHONPATH is not set (<build>/python)");
const dir = scratch("python");
const rows = 1000, dim = 16;
const writer = fileURLToPath(new URL("./09_python_vectors.py", import.meta.url));
const r = spawnSync("/usr/bin/python3", [writer, dir, "vecs", String(rows), String(dim)],
                    { env: { ...process.env, PYTHONPATH: PY_PATH }, encoding: "utf8" });
if (r.status !== 0) throw new Error(`09_python_vectors.py failed: ${r.error ?? r.stderr}`);
step(`Python wrote ${rows} rows with ${dim}-d float32 vectors`);

const vec = (i) => Array.from({ length: dim }, (_, k) => Math.fround(Math.cos(i * 31 + k * 7) + (k === i % dim ? 3 : 0)));
const db = await lancedb.connect(`${dir}/vecs/bucket_0`, { readConsistencyInterval: 0 });
const t = await db.openTable("data");
assert.equal(await t.countRows(), rows);
const field = (await t.schema()).fields.find((f) => f.name === "v");
assert.equal(String(field.type), `FixedSizeList[${dim}]<Float32>`, "v is a vector column");

// exact search first, then through an IVF-PQ index LanceDB builds on the data
for (const id of [3, 500, 999]) {
  const hit = await t.search(vec(id)).limit(1).toArray();
  assert.equal(Number(hit[0].id), id, `exact nearest neighbour of row ${id}`);
  assert.equal(hit[0].label, `row ${id}`);
}
await t.createIndex("v", { config: lancedb.Index.ivfPq({ numPartitions: 4, numSubVectors: 4 }) });
for (const id of [7, 640]) {
  const hit = await t.search(vec(id)).nprobes(4).refineFactor(100).limit(1).toArray();
  assert.equal(Number(hit[0].id), id, `indexed nearest neighbour of row ${id}`);
}
step("LanceDB finds each row's vector as its own nearest neighbour, exactly and through IVF-PQ");
console.log("09_python_vectors: ok");
