// LanceDB side of bench/lance.sh: the same rows as `lance_tool bench` ({id, idx, payload,
// vector}), appended with table.add() in batches of FLUSH rows. Arrow batches are built before
// the clock starts; only add() is timed. Prints one JSON object like lance_tool bench.
// Usage: node bench/lance/lancedb_add.mjs DIR ROWS FLUSH DIM PAYLOAD
// Needs tests/lance/interop/node_modules (npm ci there).
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, "../../tests/lance/interop/package.json"));
const lancedb = require("@lancedb/lancedb");
const arrow = require("apache-arrow");

const [dir, rowsArg, flushArg, dimArg, payloadArg] = process.argv.slice(2);
const ROWS = Number(rowsArg ?? 1000000), FLUSH = Number(flushArg ?? 1000);
const DIM = Number(dimArg ?? 128), PAYLOAD = Number(payloadArg ?? 256);
const schema = new arrow.Schema([
  new arrow.Field("id", new arrow.Int64(), true),
  new arrow.Field("idx", new arrow.Int64(), true),
  new arrow.Field("payload", new arrow.Utf8(), true),
  new arrow.Field("vector", new arrow.FixedSizeList(DIM, new arrow.Field("item", new arrow.Float32(), true)), true),
]);
function batch(f) {
  const rows = [];
  for (let i = 0; i < FLUSH; ++i) {
    const id = f * FLUSH + i;
    const v = new Array(DIM);
    for (let k = 0; k < DIM; ++k) v[k] = ((id * 31 + k) % 1000) / 1000;
    rows.push({ id: BigInt(id), idx: BigInt(id % 1000), payload: String.fromCharCode(97 + (id % 26)).repeat(PAYLOAD), vector: v });
  }
  return lancedb.makeArrowTable(rows, { schema });
}
const median = (v) => { const s = [...v].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

const db = await lancedb.connect(dir, { storageOptions: { new_table_data_storage_version: "2.0" } });
const flushes = Math.floor(ROWS / FLUSH);
const ms = [];
let table = null;
for (let f = 0; f < flushes; ++f) {
  const data = batch(f);
  const t0 = process.hrtime.bigint();
  if (table === null) table = await db.createTable("bench", data, { schema });
  else await table.add(data);
  ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
const total = ms.reduce((a, b) => a + b, 0);
const at = Math.min(Math.floor(10000 / FLUSH), flushes - 1);
const early = median(ms.slice(at, at + 10)), late = median(ms.slice(-10));
console.log(JSON.stringify({
  rows: flushes * FLUSH, flush_rows: FLUSH, flushes, seconds: total / 1000, rows_per_s: Math.round(flushes * FLUSH / (total / 1000)),
  flush_ms_at_10k: early, flush_ms_at_end: late, end_over_10k: late / early,
}));
