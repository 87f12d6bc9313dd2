// Append times (docs/records.md "Append time", docs/lance-format.md §11) live in the manifest's
// table_metadata, one "persisting.time.<fragment id>" key per fragment: no column. LanceDB opens
// a bucket written by the persisting CLI, sees only the records' fields and the same rows, and
// keeps our keys across its own append; our reader still prints every record with a timestamp
// (0 for the fragment LanceDB wrote, whose times are unknown).
import * as lancedb from "@lancedb/lancedb";
import { spawnSync } from "node:child_process";
import { scratch, lanceRows, sameRows, assert, step } from "./lib.mjs";

const BIN = process.env.PERSISTING_BIN;
if (!BIN) throw new Error("PERSISTING_BIN is not set (path to the persisting binary)");
function cli(args, input = "") {
  const r = spawnSync(BIN, args, { input, maxBuffer: 1 << 30, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`persisting ${args.join(" ")} failed: ${r.error ?? r.stderr}`);
  return r.stdout;
}
const row = (i) => ({ id: i, s: `v${i}` });
const jsonl = (a, n) => Array.from({ length: n }, (_, k) => JSON.stringify(row(a + k))).join("\n") + "\n";

const dir = scratch("append_times");
const data = `${dir}/data`;
const before = Date.now();
for (let f = 0; f < 3; ++f) {  // three puts: three fragments with times
  cli(["put", "--data-dir", data, "--topic", "ev", "--num-buckets", "1", "--bucket-column", "id",
       "--backend", "lance", "--retention-ms", "86400000"], jsonl(f * 10, 10));
}
const db = await lancedb.connect(`${data}/ev/bucket_0`, { readConsistencyInterval: 0 });
const t = await db.openTable("data");
const fields = (await t.schema()).fields.map((f) => f.name);
assert.deepStrictEqual(fields, ["id", "s"], "no column for the times");
assert.equal(await t.countRows(), 30);
sameRows((await lanceRows(t)).sort((a, b) => a.id - b.id), Array.from({ length: 30 }, (_, i) => row(i)), "LanceDB");
step("LanceDB opens a bucket with per-fragment times: the records' fields only, 30 rows");

await t.add([row(30), row(31)]);
const printed = cli(["get", "--data-dir", data, "--topic", "ev", "--from-beginning", "--with-position"])
  .trim().split("\n").map((l) => JSON.parse(l));
assert.equal(printed.length, 32);
for (const m of printed.slice(0, 30)) {
  assert.ok(m.timestamp >= before - 1000 && m.timestamp <= Date.now() + 1000, `timestamp ${m.timestamp}`);
}
assert.deepStrictEqual(printed.slice(30).map((m) => m.timestamp), [0, 0], "LanceDB's fragment has no times");
const after = cli(["get", "--data-dir", data, "--topic", "ev", "--from-time", String(Date.now() + 3600_000)]);
// Unknown times count as recent: a lookup never skips rows it cannot date.
assert.deepStrictEqual(after.trim().split("\n").map((l) => JSON.parse(l).id), [30, 31]);
step("after LanceDB's append our reader prints timestamps (0 for LanceDB's fragment); --from-time works");
console.log("13_append_times: ok");
