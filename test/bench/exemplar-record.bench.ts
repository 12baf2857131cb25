// Cost of one measurement: the stock SDK `histogram.record` against the exemplar histogram (SDK
// record + exemplar offer), inside an active sampled span, in the same process and run; and the two
// ways the reservoir can find an attribute set (its trie against a plain canonical key), and the
// cost of marking a kept measurement's span. Not a test: it prints figures.
//
//   npm run bench
//   ITERATIONS=500000 ROUNDS=41 npm run bench
//
// Target: ours <= 1.5x stock in every run.
import { context, type Attributes } from '@opentelemetry/api';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { StackContextManager, TracerProvider } from '@opentelemetry/sdk-trace';
import { canonicalAttributesKey } from '../../services/shared/src/exemplars/attributes.ts';
import { AttributeTrie } from '../../services/shared/src/exemplars/attribute-trie.ts';
import { ExemplarStore, createExemplarHistogram, exemplarMarkOf } from '../../services/shared/src/exemplars/index.ts';
import { HTTP_REQUEST_DURATION, HTTP_REQUEST_DURATION_OPTIONS } from '../../services/shared/src/request-metrics.ts';

const ITERATIONS = Number(process.env.ITERATIONS ?? 200_000);
const ROUNDS = Number(process.env.ROUNDS ?? 25);
const WARMUP = 500_000;

class ManualReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

context.setGlobalContextManager(new StackContextManager().enable());
const tracer = new TracerProvider().getTracer('bench');
const meterProvider = new MeterProvider({ readers: [new ManualReader()] });
const meter = meterProvider.getMeter('bench');
const store = new ExemplarStore({ filter: 'always_on' });

const stock = meter.createHistogram('bench.stock.duration', HTTP_REQUEST_DURATION_OPTIONS);
const ours = createExemplarHistogram(meter, HTTP_REQUEST_DURATION, HTTP_REQUEST_DURATION_OPTIONS, store);

// Request-like measurements: 3 methods x 4 routes x 3 status codes, values over all buckets. The
// attribute objects are built per measurement, as the middleware builds them.
const METHODS = ['GET', 'POST', 'PUT'];
const ROUTES = ['/orders/:id', '/stock/:id', '/price/:id', 'unmatched'];
const STATUSES = [200, 404, 500];
const VALUES = Float64Array.from({ length: 4096 }, (_, i) => (((i * 7919) % 4096) / 4096) * 4); // 0..4 s
const attributesAt = (i: number): Attributes => ({
  'http.request.method': METHODS[i % 3]!,
  'http.route': ROUTES[i % 4]!,
  'http.response.status_code': STATUSES[i % 3 === 0 ? 0 : i % 5 === 0 ? 2 : 1]!,
});

// The two lookups the reservoir could use, each to an entry that exists after the first round.
const trie = new AttributeTrie<object>();
const byCanonicalKey = new Map<string, object>();

type Loop = (n: number) => void;
let requestContext = context.active();

const variants: Record<string, Loop> = {
  // What the SDK costs on its own.
  'stock histogram.record': (n) => {
    for (let i = 0; i < n; i++) stock.record(VALUES[i & 4095]!, attributesAt(i));
  },
  // As the middleware calls it: with the context captured at request entry.
  'exemplar record': (n) => {
    for (let i = 0; i < n; i++) ours.record(VALUES[i & 4095]!, attributesAt(i), requestContext);
  },
  'lookup: trie': (n) => {
    for (let i = 0; i < n; i++) trie.lookup(attributesAt(i), () => ({}));
  },
  'lookup: canonical key': (n) => {
    for (let i = 0; i < n; i++) {
      const key = canonicalAttributesKey(attributesAt(i));
      if (byCanonicalKey.get(key) === undefined) byCanonicalKey.set(key, {});
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
let markNs = 0;

tracer.startActiveSpan('bench request', (span) => {
  if (!(span.spanContext().traceFlags & 1)) throw new Error('the bench span is not sampled');
  requestContext = context.active();
  for (const loop of Object.values(variants)) loop(WARMUP);
  // Many short rounds, the variants in a rotating order within each round, compared round by
  // round: drifts (GC, CPU frequency, other processes) hit all variants alike.
  for (let round = 0; round < ROUNDS; round++) {
    for (let j = 0; j < names.length; j++) {
      const name = names[(round + j) % names.length]!;
      samples[name]!.push(timeOnce(variants[name]!, ITERATIONS));
    }
  }
  // The mark: what a kept measurement adds, an attribute on the open span (at most one per bucket,
  // attribute set and export interval are kept, so it is rare on the record path).
  const mark = exemplarMarkOf(HTTP_REQUEST_DURATION);
  markNs = median(
    Array.from({ length: ROUNDS }, () =>
      timeOnce((n) => {
        for (let i = 0; i < n; i++) span.setAttribute(mark, true);
      }, ITERATIONS),
    ),
  );
  span.end();
});

const stockName = names[0]!;
const base = samples[stockName]!;
console.log(`node ${process.version}, ${ROUNDS} rounds x ${ITERATIONS} measurements per variant, inside an active sampled span (medians)`);
for (const name of names) {
  const ns = median(samples[name]!);
  const ratio = median(samples[name]!.map((v, i) => v / base[i]!));
  const worst = Math.max(...samples[name]!.map((v, i) => v / base[i]!));
  console.log(
    `${name.padEnd(26)} ${ns.toFixed(0).padStart(6)} ns/op${name === stockName ? '' : `   ${ratio.toFixed(2)}x stock (worst round ${worst.toFixed(2)}x)`}`,
  );
}
const kept = median(samples['exemplar record']!) + markNs;
console.log(
  `${'mark (setAttribute)'.padEnd(26)} ${markNs.toFixed(0).padStart(6)} ns/op   a kept measurement: ${kept.toFixed(0)} ns, ${(kept / median(base)).toFixed(2)}x stock`,
);
console.log(`exemplar store: ${store.size} attribute sets, ${store.droppedMeasurements} measurements dropped`);
await meterProvider.shutdown();
