// Persisting reads what LanceDB writes in 2.0 mode: appends alternate both ways on a dataset
// Persisting created, and on a table LanceDB created as 2.0. LanceDB's writes come from a stale
// table handle, so they succeed only by rebasing over our commits (our transaction files). Low-cardinality strings make
// LanceDB write dictionary pages, which Persisting must decode.
import * as lancedb from "@lancedb/lancedb";
import * as arrow from "apache-arrow";
import { scratch, tool, toolAppend, toolSchema, toolRead, lanceRows, normPlain, sameRows, assert, step } from "./lib.mjs";

const dir = scratch("we-read");
const db = await lancedb.connect(dir, { storageOptions: { new_table_data_storage_version: "2.0" } });
// Reads go through a connection that always checks for the latest version; writes go through
// `db`, whose table handle stays at the version it last saw, so each LanceDB add after one of
// ours must rebase over our commit (using the transaction we wrote).
const fresh = await lancedb.connect(dir, { readConsistencyInterval: 0 });
const kinds = ["alpha", "beta", "gamma", "delta"];
const row = (i) => ({
  id: i,
  s: i % 9 === 0 ? null : kinds[i % 4],
  f: i % 6 === 0 ? null : i / 8,
  b: i % 4 === 0 ? null : i % 3 === 0,
  v: i % 10 === 0 ? null : [i, -i, i / 2, Math.fround(1 / (i + 1))].map(Math.fround),
  bin: i % 7 === 0 ? null : { $binary: Buffer.from(`b${i}`).toString("base64") },
});
const range = (a, n) => Array.from({ length: n }, (_, k) => row(a + k));
// LanceDB takes bigint ids and Uint8Array binaries.
const forLance = (rows) => rows.map((r) => ({ ...r, id: BigInt(r.id), bin: r.bin ? Buffer.from(r.bin.$binary, "base64") : null }));

async function alternate(name, first) {
  const path = `${dir}/${name}.lance`;
  let expected = [...first];
  const t = await db.openTable(name);
  const reader = await fresh.openTable(name);
  let next = expected.length;
  for (let round = 0; round < 2; ++round) {
    const theirs = range(next, 300); next += 300;
    await t.add(forLance(theirs));
    expected = expected.concat(theirs);
    sameRows(toolRead(path), expected.map((r) => normPlain(r, new Set(["v"]))), `${name}: after LanceDB append ${round}`);
    const ours = range(next, 50); next += 50;
    toolAppend(path, ours, ["--vector", "v"]);
    expected = expected.concat(ours);
    sameRows(await lanceRows(reader), expected.map((r) => normPlain(r, new Set(["v"]))), `${name}: LanceDB after our append ${round}`);
  }
  assert.equal(Number(tool(["count", path])), expected.length);
  assert.equal(await reader.countRows(), expected.length);
  const encodings = tool(["encodings", path]).split("\n");
  assert.ok(encodings.includes("dictionary"), `${name}: expected LanceDB to write dictionary pages, saw ${encodings}`);
  step(`${name}: ${expected.length} rows after 4 alternating appends; identical both ways; encodings read: ${encodings.filter((e) => e).join(", ")}`);
}

// 1. A dataset Persisting created.
toolAppend(`${dir}/ours.lance`, range(0, 20), ["--vector", "v"]);
await alternate("ours", range(0, 20));

// 2. A table LanceDB created in 2.0 mode with an explicit Arrow schema.
const schema = new arrow.Schema([
  new arrow.Field("id", new arrow.Int64(), true),
  new arrow.Field("s", new arrow.Utf8(), true),
  new arrow.Field("f", new arrow.Float64(), true),
  new arrow.Field("b", new arrow.Bool(), true),
  new arrow.Field("v", new arrow.FixedSizeList(4, new arrow.Field("item", new arrow.Float32(), true)), true),
  new arrow.Field("bin", new arrow.Binary(), true),
]);
await db.createTable("theirs", forLance(range(0, 200)), { schema });
assert.deepStrictEqual(toolSchema(`${dir}/theirs.lance`).map((f) => `${f.field}:${f.type}`),
  ["id:int64", "s:string", "f:double", "b:bool", "v:vector[4]", "bin:binary"]);
await alternate("theirs", range(0, 200));
// 3. Narrower types LanceDB can create (int32, float32, large_string): read as int64 / double /
//    string; our appends are range-checked and keep LanceDB's types.
const narrow = new arrow.Schema([
  new arrow.Field("id", new arrow.Int32(), true),
  new arrow.Field("x", new arrow.Float32(), true),
  new arrow.Field("u", new arrow.Uint8(), true),
]);
await db.createTable("narrow", [{ id: 1, x: 0.5, u: 200 }, { id: -2, x: null, u: null }], { schema: narrow });
toolAppend(`${dir}/narrow.lance`, [{ id: 3, x: 1.25, u: 7 }]);
assert.throws(() => toolAppend(`${dir}/narrow.lance`, [{ id: 4, u: 300 }]), /record 0 has 300, which does not fit the uint8 column/);
const narrowRows = [{ id: 1, x: 0.5, u: 200 }, { id: -2, x: null, u: null }, { id: 3, x: 1.25, u: 7 }];
sameRows(toolRead(`${dir}/narrow.lance`), narrowRows, "narrow types, Persisting");
sameRows(await lanceRows(await fresh.openTable("narrow")), narrowRows, "narrow types, LanceDB");
assert.deepStrictEqual(toolSchema(`${dir}/narrow.lance`).map((f) => f.lance_type), ["int32", "float", "uint8"]);
step("int32/float/uint8 columns LanceDB created: read, appended with range checks, types kept");
console.log("02_we_read_lancedb: ok");
