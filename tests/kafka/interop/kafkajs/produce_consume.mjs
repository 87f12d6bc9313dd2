// kafkajs: a producer and a consumer in a group against the broker at argv[2]. Exits 0 when the
// consumer got every record the producer sent, once each; bounded by a 60 s deadline.
import { Kafka, logLevel } from "kafkajs";

const broker = process.argv[2];
const topic = process.argv[3] ?? "kjs";
const n = 500;
const kafka = new Kafka({ clientId: "interop", brokers: [broker], logLevel: logLevel.WARN, retry: { retries: 5 } });
const deadline = setTimeout(() => {
  console.error("kafkajs: timed out");
  process.exit(1);
}, 60000);

const producer = kafka.producer();
await producer.connect();
const messages = [];
for (let i = 0; i < n; i++) messages.push({ key: `k${i}`, value: `v${i}`, headers: { h: `x${i}` } });
await producer.send({ topic, messages });
await producer.disconnect();

const consumer = kafka.consumer({ groupId: "g-kafkajs" });
await consumer.connect();
await consumer.subscribe({ topic, fromBeginning: true });
const seen = new Map();
await new Promise((resolve, reject) => {
  consumer
    .run({
      eachMessage: async ({ message }) => {
        const k = message.key.toString();
        if (seen.has(k)) return reject(new Error(`duplicate ${k}`));
        seen.set(k, [message.value.toString(), message.headers.h.toString()]);
        if (seen.size === n) resolve();
      },
    })
    .catch(reject);
});
await consumer.disconnect();
clearTimeout(deadline);
for (let i = 0; i < n; i++) {
  const got = seen.get(`k${i}`);
  if (!got || got[0] !== `v${i}` || got[1] !== `x${i}`) {
    console.error(`kafkajs: k${i} came back as ${JSON.stringify(got)}`);
    process.exit(1);
  }
}
console.log(`kafkajs: ${n} produced and consumed in a group`);
