// Does LanceDB 0.31 read 2.0 pages whose value buffers are compressed with zstd or lz4?
// Persisting writes them (lance_tool --compression), LanceDB must read identical values.
import * as lancedb from "@lancedb/lancedb";
import { scratch, tool, toolAppend, toolRead, lanceRows, normPlain, sameRows, assert, step } from "./lib.mjs";

const dir = scratch("compression");
const rows = Array.from({ length: 3000 }, (_, i) => ({
  id: i,
  s: i % 9 === 0 ? null : `payload ${i % 17} `.repeat(1 + (i % 5)),
  f: i % 7 === 0 ? null : i * 0.125,
  v: i % 11 === 0 ? null : [i, 0, -i, 1].map(Math.fround),
  j: i % 13 === 0 ? null : { n: i, tags: ["a", "b"] },
}));
const expected = rows.map((r) => normPlain(r, new Set(["v"])));
const db = await lancedb.connect(dir);
for (const scheme of ["zstd", "lz4"]) {
  const path = `${dir}/${scheme}.lance`;
  toolAppend(path, rows, ["--batch", "1000", "--vector", "v", "--compression", scheme, "--page-bytes", "8192"]);
  const t = await db.openTable(scheme);
  assert.equal(await t.countRows(), rows.length);
  sameRows(await lanceRows(t, new Set(["j"])), expected, `LanceDB reading ${scheme} pages`);
  assert.equal(await t.countRows("f > 100"), rows.filter((r) => r.f !== null && r.f > 100).length);
  sameRows(toolRead(path), expected, `Persisting reading ${scheme} pages`);
  // LanceDB appends (uncompressed) and both still agree.
  await t.add([{ id: 3000n, s: "x", f: 1.5, v: [1, 2, 3, 4], j: null }]);
  assert.equal(Number(tool(["count", path])), rows.length + 1);
  step(`${scheme}: LanceDB reads our compressed pages; values identical`);
}
console.log("06_compression: ok");
