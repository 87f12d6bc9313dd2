// Schema evolution shows the same on both sides: a new field (metadata-only add), int64 ->
// double widening by Persisting, and a LanceDB addColumns that Persisting then fills.
import * as lancedb from "@lancedb/lancedb";
import { scratch, tool, toolAppend, toolRead, lanceRows, sameRows, assert, step } from "./lib.mjs";

const dir = scratch("schema");
const path = `${dir}/evo.lance`;
const db = await lancedb.connect(dir, { readConsistencyInterval: 0 });

toolAppend(path, [{ id: 0, a: 10 }, { id: 1, a: null }]);
toolAppend(path, [{ id: 2, a: 12 }]);
// A new field "c" and a double in the int64 column "a".
toolAppend(path, [{ id: 3, a: 1.5, c: "new" }]);
let expected = [
  { id: 0, a: 10, c: null }, { id: 1, a: null, c: null }, { id: 2, a: 12, c: null }, { id: 3, a: 1.5, c: "new" },
];
const t = await db.openTable("evo");
const fields = async () => (await t.schema()).fields.map((f) => `${f.name}:${f.type}`);
assert.deepStrictEqual(await fields(), ["id:Int64", "a:Float64", "c:Utf8"]);
sameRows(await lanceRows(t), expected, "LanceDB after widening + new field");
sameRows(toolRead(path), expected, "Persisting after widening + new field");
step("new field + int64->double widening: same schema and rows on both sides");

// An old version still has the int column, on both sides.
await t.checkout(2);
assert.deepStrictEqual(await fields(), ["id:Int64", "a:Int64"]);
await t.checkoutLatest();
assert.deepStrictEqual(toolRead(path, ["--version", "2"]), [{ id: 0, a: 10 }, { id: 1, a: null }, { id: 2, a: 12 }]);

// LanceDB adds a column (metadata-only), Persisting reads it as null and then fills it.
await t.addColumns([{ name: "x", valueSql: "cast(NULL as double)" }]);
expected = expected.map((r) => ({ ...r, x: null }));
sameRows(toolRead(path), expected, "Persisting after LanceDB addColumns");
toolAppend(path, [{ id: 4, x: 2.25, a: 7 }]);
expected.push({ id: 4, a: 7, c: null, x: 2.25 });
sameRows(await lanceRows(t), expected, "LanceDB after we filled its column");
assert.deepStrictEqual(await fields(), ["id:Int64", "a:Float64", "c:Utf8", "x:Float64"]);
step("LanceDB addColumns -> Persisting reads nulls, appends values, LanceDB sees them");

// An incompatible type is refused and writes nothing.
const before = tool(["versions", path]);
assert.throws(() => toolAppend(path, [{ id: 5, c: 42 }]), /field 'c'.*string.*int64/s);
assert.equal(tool(["versions", path]), before);
assert.equal(await t.countRows(), expected.length);
step("incompatible type refused; no version written");
console.log("03_schema_evolution: ok");
