// Cost of one measurement: the stock SDK `histogram.record` against the exemplar histogram
// (SDK record + exemplar offer), inside an active sampled span, in the same process and run.
// Not a test: it prints figures.
//
//   npm run bench
//   ITERATIONS=500000 ROUNDS=41 npm run bench
//
// Targets: ours <= 1.5x stock, and under 1 µs added per measurement.
import { context, trace, type Attributes } from "@opentelemetry/api";
import { getRPCMetadata } from "@opentelemetry/core";
import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import { StackContextManager, TracerProvider } from "@opentelemetry/sdk-trace";
import { ExemplarStore, createExemplarHistogram } from "../../services/shared/src/exemplars/index.ts";
import { HTTP_REQUEST_DURATION_BUCKETS } from "../../services/shared/src/request-metrics.ts";

const ITERATIONS = Number(process.env.ITERATIONS ?? 200_000);
const ROUNDS = Number(process.env.ROUNDS ?? 25);
const WARMUP = 500_000;

class ManualReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

context.setGlobalContextManager(new StackContextManager().enable());
const tracer = new TracerProvider().getTracer("bench");
const meterProvider = new MeterProvider({ readers: [new ManualReader()] });
const meter = meterProvider.getMeter("bench");
const store = new ExemplarStore({ filter: "always_on" });
const options = { unit: "s", advice: { explicitBucketBoundaries: [...HTTP_REQUEST_DURATION_BUCKETS] } };

const stock = meter.createHistogram("bench.stock.duration", options);
const ours = createExemplarHistogram(meter, "bench.exemplar.duration", options, store);

// Request-like measurements: 3 methods x 4 routes x 3 status codes, values over all buckets.
const METHODS = ["GET", "POST", "PUT"];
const ROUTES = ["/orders/:id", "/stock/:id", "/price/:id", "unmatched"];
const STATUSES = [200, 404, 500];
const VALUES = Float64Array.from({ length: 4096 }, (_, i) => ((i * 7919) % 4096) / 4096 * 4); // 0..4 s
const attributesAt = (i: number): Attributes => ({
  "http.request.method": METHODS[i % 3]!,
  "http.route": ROUTES[i % 4]!,
  "http.response.status_code": STATUSES[i % 3 === 0 ? 0 : i % 5 === 0 ? 2 : 1]!,
});

type Loop = (n: number) => void;

const variants: Record<string, Loop> = {
  // What the SDK costs on its own.
  "stock histogram.record": (n) => {
    for (let i = 0; i < n; i++) stock.record(VALUES[i & 4095]!, attributesAt(i));
  },
  // The plain call: record() looks the active span up and reads the clock itself.
  "exemplar record": (n) => {
    for (let i = 0; i < n; i++) ours.record(VALUES[i & 4095]!, attributesAt(i));
  },
  // As the middleware calls it: span context looked up as at request entry (server span from the
  // RPC metadata, else the active span); the timestamp is the clock reading the middleware takes
  // for the duration anyway (so not counted here).
  "exemplar record (middleware)": (n) => {
    const end = store.clock.now();
    for (let i = 0; i < n; i++) {
      const active = context.active();
      const server = getRPCMetadata(active)?.span;
      const spanContext = (server !== undefined ? server.spanContext() : trace.getSpanContext(active)) ?? null;
      ours.record(VALUES[i & 4095]!, attributesAt(i), spanContext, end);
    }
  },
};

function timeOnce(loop: Loop, n: number): number {
  const start = process.hrtime.bigint();
  loop(n);
  return Number(process.hrtime.bigint() - start) / n;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const names = Object.keys(variants);
const samples: Record<string, number[]> = Object.fromEntries(names.map((k) => [k, []]));

tracer.startActiveSpan("bench request", (span) => {
  if (!(span.spanContext().traceFlags & 1)) throw new Error("the bench span is not sampled");
  for (const loop of Object.values(variants)) loop(WARMUP);
  // Many short rounds, the variants in a rotating order within each round, compared round by
  // round: drifts (GC, CPU frequency, other processes) hit all variants alike.
  for (let round = 0; round < ROUNDS; round++) {
    for (let j = 0; j < names.length; j++) {
      const name = names[(round + j) % names.length]!;
      samples[name]!.push(timeOnce(variants[name]!, ITERATIONS));
    }
  }
  span.end();
});

const stockName = names[0]!;
const base = samples[stockName]!;
console.log(`node ${process.version}, ${ROUNDS} rounds x ${ITERATIONS} measurements per variant, inside an active sampled span (medians)`);
for (const name of names) {
  const ns = median(samples[name]!);
  const line = `${name.padEnd(30)} ${ns.toFixed(0).padStart(6)} ns/op`;
  if (name === stockName) {
    console.log(line);
    continue;
  }
  const ratio = median(samples[name]!.map((v, i) => v / base[i]!));
  const added = median(samples[name]!.map((v, i) => v - base[i]!));
  console.log(`${line}   ratio ${ratio.toFixed(2)}x   added ${added.toFixed(0)} ns`);
}
console.log(`exemplar store: ${store.size} attribute sets, ${store.droppedMeasurements} measurements dropped`);
await meterProvider.shutdown();
