// What Persisting does not implement, made by the real LanceDB, is refused with a clear error
// and never misread: a table in LanceDB's default 2.1 format. (Deleted rows are read since
// issue 17: 10_deletions.mjs.)
import * as lancedb from "@lancedb/lancedb";
import { scratch, tool, assert, step } from "./lib.mjs";

const dir = scratch("refusals");
const rows = Array.from({ length: 50 }, (_, i) => ({ id: BigInt(i), s: `r${i}` }));
const refused = (args, pattern, what) => {
  assert.throws(() => tool(args), (e) => {
    assert.match(String(e.message), /NotSupported/, `${what}: not a NotSupported error: ${e.message}`);
    assert.match(String(e.message), pattern, `${what}: message does not say why: ${e.message}`);
    return true;
  });
};

// LanceDB's default file format is 2.1.
const db = await lancedb.connect(dir);
await db.createTable("v21", rows);
refused(["count", `${dir}/v21.lance`], /2\.1/, "2.1 table");
refused(["append", `${dir}/v21.lance`], /2\.1/, "append to a 2.1 table");
step("a LanceDB default (2.1) table is refused for reading and appending");

console.log("07_refusals: ok");
