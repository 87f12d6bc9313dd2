// LanceDB opens a bucket of a topic produced over Kafka (tests/kafka/interop/kafka_interop.py
// drives it: `node kafka_topic.mjs <bucket dir> <expected.json>`). expected.json: [[key, value,
// [[header key, header value], ...]], ...] in offset order. Keys and values must come back as the
// same bytes, headers as JSON text ({"$binary": base64} values), timestamps as int64.
import * as lancedb from "@lancedb/lancedb";
import { readFileSync } from "node:fs";
import assert from "node:assert/strict";

const [bucketDir, expectedPath] = process.argv.slice(2);
const expected = JSON.parse(readFileSync(expectedPath, "utf8"));
const db = await lancedb.connect(bucketDir);
const t = await db.openTable("data");
assert.equal(await t.countRows(), expected.length);
const schema = await t.schema();
const types = Object.fromEntries(schema.fields.map((f) => [f.name, `${f.type}`]));
assert.equal(types.key, "Binary");
assert.equal(types.value, "Binary");
assert.equal(types.timestamp, "Int64");
assert.equal(types.headers, "Utf8");
const rows = await t.query().toArray();
assert.equal(rows.length, expected.length);
rows.forEach((r, i) => {
  const [key, value, headers] = expected[i];
  assert.equal(Buffer.from(r.key).toString(), key, `row ${i} key`);
  assert.equal(Buffer.from(r.value).toString(), value, `row ${i} value`);
  const hs = JSON.parse(r.headers).map((h) => [h.key, Buffer.from(h.value.$binary, "base64").toString()]);
  assert.deepStrictEqual(hs, headers, `row ${i} headers`);
  assert.ok(Number(r.timestamp) > 1.6e12, `row ${i} timestamp ${r.timestamp}`);
});
console.log(`lancedb: ${rows.length} Kafka records identical`);
