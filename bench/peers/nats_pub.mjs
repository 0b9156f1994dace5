// NATS JetStream publisher for bench/compare: keeps WINDOW publishes in flight (each awaits its
// JetStream ack, i.e. the server has stored the message in the stream) for SECONDS, spread over
// TOPICS streams (stream "S<i>" holds subject "bench.<i>": one stream per topic, NATS's per-topic
// structure; each file-storage stream has its own message blocks on disk).
//
//   node nats_pub.mjs URL SECONDS WINDOW SIZE TOPICS
//
// Prints "RESULT key=value ..." with acknowledged messages per second and ack latency percentiles.
import { connect } from "nats";

const [url, secondsArg, windowArg, sizeArg, topicsArg] = process.argv.slice(2);
const seconds = Number(secondsArg), window = Number(windowArg), size = Number(sizeArg);
const topics = Number(topicsArg ?? 1);
if (!url || !(seconds > 0) || !(window >= 1) || !(size >= 1) || !(topics >= 1)) {
  console.error("usage: node nats_pub.mjs URL SECONDS WINDOW SIZE TOPICS");
  process.exit(2);
}

const nc = await connect({ servers: url });
const jsm = await nc.jetstreamManager();
const setupStart = process.hrtime.bigint();
for (let i = 0; i < topics; i++) {
  await jsm.streams.add({ name: `S${i}`, subjects: [`bench.${i}`], storage: "file" });
}
const setupMs = Number(process.hrtime.bigint() - setupStart) / 1e6;
const js = nc.jetstream();
const body = new Uint8Array(size);
for (let i = 0; i < size; i++) body[i] = (i * 131 + 7) & 0xff;

const lat = [];
let ok = 0, fails = 0, next = 0;
const t0 = process.hrtime.bigint();
const end = t0 + BigInt(Math.round(seconds * 1e9));
async function lane() {
  while (process.hrtime.bigint() < end) {
    const subject = `bench.${next++ % topics}`;
    const s = process.hrtime.bigint();
    try {
      await js.publish(subject, body);
      ok++;
      lat.push(Number(process.hrtime.bigint() - s) / 1e3);
    } catch (e) {
      fails++;
    }
  }
}
await Promise.all(Array.from({ length: window }, lane));
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
lat.sort((a, b) => a - b);
const pct = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.ceil((p / 100) * lat.length) - 1)] : 0);
console.log(
  `RESULT msgs=${ok} tps=${(ok / secs).toFixed(0)} mbps=${((ok * size) / secs / 1e6).toFixed(1)} ` +
    `p50_us=${pct(50).toFixed(0)} p99_us=${pct(99).toFixed(0)} p999_us=${pct(99.9).toFixed(0)} ` +
    `max_us=${pct(100).toFixed(0)} fails=${fails} topics=${topics} setup_ms=${setupMs.toFixed(0)}`,
);
for (let i = 0; i < topics; i++) await jsm.streams.delete(`S${i}`);
await nc.close();
