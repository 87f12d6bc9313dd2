// LanceDB reads what Persisting writes: every type with nulls, 100,000 rows in 40 fragments
// with several pages per column, and 768-dim vectors; values identical, countRows and filtered
// queries agree.
import * as lancedb from "@lancedb/lancedb";
import { scratch, toolAppend, toolRead, lanceRows, normPlain, sameRows, assert, step } from "./lib.mjs";

const dir = scratch("reads-ours");
const N = 100_000;
const colors = ["red", "green", "blue"];
const expected = [];
for (let i = 0; i < N; ++i) {
  expected.push({
    id: i,
    f: i % 7 === 0 ? null : i * 0.25 - 1000,
    b: i % 5 === 0 ? null : i % 2 === 0,
    s: i % 11 === 0 ? null : i % 4 === 0 ? colors[i % 3] : `row ${i} \u00e9\u{1F600}`,
    bin: i % 13 === 0 ? null : { $binary: Buffer.from([i & 255, (i >> 8) & 255, 0, 7]).toString("base64") },
    v: i % 17 === 0 ? null : Array.from({ length: 8 }, (_, k) => Math.fround(i / (k + 1))),
    j: i % 19 === 0 ? null : i % 2 ? { k: i, list: [1, "two", null, { deep: true }] } : [i, [], {}],
  });
}
const res = toolAppend(`${dir}/types.lance`, expected, ["--batch", "2500", "--vector", "v", "--page-bytes", "16384"]);
assert.equal(res.version, 40);
step(`wrote ${N} rows in 40 fragments (version ${res.version})`);

const db = await lancedb.connect(dir);
const t = await db.openTable("types");
assert.equal(await t.countRows(), N);
const schema = await t.schema();
assert.deepStrictEqual(schema.fields.map((f) => `${f.name}:${f.type}`),
  ["id:Int64", "f:Float64", "b:Bool", "s:Utf8", "bin:Binary", "v:FixedSizeList[8]<Float32>", "j:Utf8"]);
step("countRows and schema match");

const expectRows = expected.map((r) => normPlain(r, new Set(["v"])));
const got = await lanceRows(t, new Set(["j"]));
sameRows(got, expectRows, "LanceDB full scan");
step("LanceDB full scan: all values identical");

// Filtered queries agree with the data.
const want = expected.filter((r) => r.b === true && r.f !== null && r.f > 5000).map((r) => r.id).sort((a, b) => a - b);
assert.equal(await t.countRows("b = true AND f > 5000"), want.length);
const ids = (await t.query().where("b = true AND f > 5000").select(["id"]).toArray()).map((r) => Number(r.id)).sort((a, b) => a - b);
assert.deepStrictEqual(ids, want);
assert.equal(await t.countRows("s IS NULL"), expected.filter((r) => r.s === null).length);
assert.equal(await t.countRows("s = 'red'"), expected.filter((r) => r.s === "red").length);
step(`filtered countRows/query agree (${want.length} rows)`);

// Persisting reads its own data back the same way.
sameRows(toolRead(`${dir}/types.lance`), expectRows, "lance_tool read");
sameRows(toolRead(`${dir}/types.lance`, ["--offset", "54321", "--limit", "3"]), expectRows.slice(54321, 54324), "offset read");

// 768-dimensional vectors.
const vecs = [];
for (let i = 0; i < 2000; ++i) vecs.push({ id: i, v: Array.from({ length: 768 }, (_, k) => Math.fround(Math.sin(i * 768 + k))) });
toolAppend(`${dir}/vec768.lance`, vecs, ["--batch", "500", "--vector", "v"]);
const tv = await db.openTable("vec768");
assert.equal(await tv.countRows(), 2000);
sameRows(await lanceRows(tv), vecs, "768-dim vectors");
const hit = await tv.search(vecs[1234].v).limit(1).toArray();
assert.equal(Number(hit[0].id), 1234);
step("768-dim vectors identical; nearest neighbour of row 1234 is row 1234");
console.log("01_lancedb_reads_ours: ok");
