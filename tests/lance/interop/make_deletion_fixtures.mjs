// Makes the deletion files in tests/lance/data/ with the real LanceDB (run once by hand:
// `cd tests/lance/interop && npm ci && node make_deletion_fixtures.mjs ../data`). Each is copied
// from a table in which LanceDB deleted rows; deletion_test.cc checks their exact contents.
//   deleted_small.arrow : ARROW_ARRAY, rows n % 10 = 7 or n = 0 of 100 (buffers stored raw)
//   deleted_zstd.arrow  : ARROW_ARRAY, rows n % 3 = 0 of 10,000 (3,334 rows; ZSTD buffers)
//   deleted_bitmap.bin  : BITMAP, rows n < 6000 or (n >= 65536 and n % 3 = 0) of 70,000
//                         (a bitmap container and an array container)
import * as lancedb from "@lancedb/lancedb";
import { copyFileSync, readdirSync } from "node:fs";
import { scratch } from "./lib.mjs";

const out = process.argv[2];
if (!out) throw new Error("usage: node make_deletion_fixtures.mjs OUT_DIR");
const dir = scratch("fixtures");
const db = await lancedb.connect(dir, { storageOptions: { new_table_data_storage_version: "2.0" } });
const rows = (n) => Array.from({ length: n }, (_, i) => ({ n: BigInt(i) }));
async function make(name, n, predicate, file) {
  const t = await db.createTable(name, rows(n));
  await t.delete(predicate);
  const dels = readdirSync(`${dir}/${name}.lance/_deletions`);
  if (dels.length !== 1) throw new Error(`${name}: expected one deletion file, found ${dels}`);
  copyFileSync(`${dir}/${name}.lance/_deletions/${dels[0]}`, `${out}/${file}`);
  console.log(`${file} <- ${dels[0]} (${await t.countRows()} of ${n} rows left)`);
}
await make("small", 100, "n % 10 = 7 OR n = 0", "deleted_small.arrow");
await make("zstd", 10000, "n % 3 = 0", "deleted_zstd.arrow");
await make("bitmap", 70000, "n < 6000 OR (n >= 65536 AND n % 3 = 0)", "deleted_bitmap.bin");
