// A backup (docs/backup.md) is itself a set of Lance datasets: LanceDB opens each bucket of the
// backup directory where it lies (connect(<backup>/<topic>/bucket_<b>), openTable("data")) and
// reads exactly the rows of the pinned version, while the source topic moves on. A topic
// restored from it reads the same rows, and LanceDB opens the restored buckets too.
import * as lancedb from "@lancedb/lancedb";
import { spawnSync } from "node:child_process";
import { scratch, toolRead, lanceRows, sameRows, assert, step } from "./lib.mjs";

const BIN = process.env.PERSISTING_BIN;
if (!BIN) throw new Error("PERSISTING_BIN is not set (path to the persisting binary)");
function cli(args, input = "") {
  const r = spawnSync(BIN, args, { input, maxBuffer: 1 << 30, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`persisting ${args.join(" ")} failed: ${r.error ?? r.stderr}`);
  return r.stdout;
}
const row = (i) => ({ id: i, s: `v${i}`, f: i * 0.25 });
const jsonl = (a, n) => Array.from({ length: n }, (_, k) => JSON.stringify(row(a + k))).join("\n") + "\n";

const dir = scratch("backup");
const data = `${dir}/data`, bak = `${dir}/bak`, restored = `${dir}/restored`;
cli(["put", "--data-dir", data, "--topic", "ev", "--num-buckets", "2", "--bucket-column", "id"], jsonl(0, 300));
const b = JSON.parse(cli(["backup", "--data-dir", data, "--topic", "ev", "--to", bak]));
cli(["put", "--data-dir", data, "--topic", "ev"], jsonl(300, 100));  // the source moves on
step(`backed up ${b.files} files; the source took 100 more records afterwards`);

let total = 0;
for (const { bucket, first_offset, end_offset } of b.buckets) {
  const rows = end_offset - first_offset;
  total += rows;
  const db = await lancedb.connect(`${bak}/ev/bucket_${bucket}`);
  const t = await db.openTable("data");
  assert.equal(await t.countRows(), rows, `bucket ${bucket}: LanceDB's row count of the backup`);
  const ours = toolRead(`${bak}/ev/bucket_${bucket}/data.lance`);
  sameRows(await lanceRows(t), ours, `bucket ${bucket}: LanceDB vs Persisting on the backup`);
  // The backup holds the first rows of the source bucket, which has grown since.
  const source = toolRead(`${data}/ev/bucket_${bucket}/data.lance`);
  sameRows(ours, source.slice(0, rows), `bucket ${bucket}: backup vs the source's first ${rows} rows`);
}
assert.equal(total, 300);
step("LanceDB opens every bucket of the backup and reads the 300 rows of the pinned versions");

cli(["backup", "verify", bak]);
cli(["restore", "--from", bak, "--data-dir", restored]);
let again = 0;
for (const { bucket } of b.buckets) {
  const db = await lancedb.connect(`${restored}/ev/bucket_${bucket}`);
  const t = await db.openTable("data");
  sameRows(await lanceRows(t), toolRead(`${bak}/ev/bucket_${bucket}/data.lance`), `bucket ${bucket}: restored`);
  again += await t.countRows();
}
assert.equal(again, 300);
step("the restored topic's buckets read the same rows in LanceDB");
console.log("12_backup: ok");
