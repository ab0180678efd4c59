// A small HTTP load generator for the benchmarks: N clients POST one JSON body in a loop
// (or GET the URL, with LOAD_METHOD=GET and an empty body).
//
//   node bench/load.mjs <url> <seconds> <clients> <expected-status> [header: value]... < body.json
//
// Prints one JSON line: {"requests", "seconds", "p50_ms", "p95_ms", "p99_ms", "failures"}. Written in
// Node, not Python, so the load costs the two cores little next to the server it measures
// (Python threads with httpx topped out near 1,200 requests/s against a do-nothing app).
import http from "node:http";
import { readFileSync } from "node:fs";

const [url, seconds, clients, expected, ...headerArgs] = process.argv.slice(2);
const target = new URL(url);
const body = readFileSync(0);
const method = process.env.LOAD_METHOD || "POST";
const headers = method === "GET" ? {} : { "Content-Type": "application/json", "Content-Length": body.length };
for (const header of headerArgs) {
  const at = header.indexOf(":");
  headers[header.slice(0, at).trim()] = header.slice(at + 1).trim();
}
const agent = new http.Agent({ keepAlive: true });
const latencies = [];
let failures = 0;

function post() {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const request = http.request(
      { host: target.hostname, port: target.port, path: target.pathname + target.search, method, headers, agent },
      (response) => {
        response.resume();
        response.on("end", () => {
          latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
          if (response.statusCode !== Number(expected)) failures += 1;
          resolve();
        });
      },
    );
    request.on("error", () => {
      failures += 1;
      resolve();
    });
    request.end(method === "GET" ? undefined : body);
  });
}

const stop = Date.now() + Number(seconds) * 1000;
async function client() {
  while (Date.now() < stop) await post();
}

const began = Date.now();
await Promise.all(Array.from({ length: Number(clients) }, client));
const elapsed = (Date.now() - began) / 1000;
latencies.sort((a, b) => a - b);
const at = (share) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * share))];
console.log(
  JSON.stringify({
    requests: latencies.length,
    seconds: elapsed,
    p50_ms: at(0.5),
    p95_ms: at(0.95),
    p99_ms: at(0.99),
    failures,
  }),
);
