// A stop that cuts nothing with a trace. k6 ends an arrival-rate scenario early only by interrupting
// it (Ctrl-C or its REST API, and such executors cannot be paused): the requests in flight are cut,
// though order goes on serving them, and the spans still waiting in each VU's buffer are never sent.
// Each becomes a trace without its root (client-spans.js). So a run that may be stopped mid-way (the
// demo's load, `npm run load`) is given STOP_URL by loadgen/run.ts, which serves it: once it answers
// "stop", a VU sends no more orders, sends the spans it holds, and reports that it did; when every
// initialised VU has, the runner ends k6, and nothing k6 sent is left without its span.
// No k6 import here: main.js passes k6's http in, the tests (Node) check the rules.

/** How often a VU asks STOP_URL, at most, ms: a stop is seen within this much of a VU's next iteration. */
export const STOP_CHECK_MS = 500;

/** @typedef {{ get: (url: string) => { status: number, body: unknown } }} Http */

export class GracefulStop {
  /**
   * @param {{ url: string | undefined, http: Http, vu: () => number, initialisedVus: () => number, now?: () => number }} options
   */
  constructor(options) {
    this.url = options.url;
    this.http = options.http;
    this.vu = options.vu;
    this.initialisedVus = options.initialisedVus;
    this.now = options.now ?? Date.now;
    this.lastCheck = -Infinity;
    this.stopped = false;
    this.reported = false;
  }

  /** Has the runner asked for a stop? Asks STOP_URL at most every STOP_CHECK_MS; false without one. */
  requested() {
    if (!this.url) return false;
    if (this.stopped) return true;
    if (this.now() - this.lastCheck < STOP_CHECK_MS) return false;
    this.lastCheck = this.now();
    const response = this.http.get(`${this.url}?vu=${this.vu()}`);
    this.stopped = response.status === 200 && response.body === 'stop';
    return this.stopped;
  }

  /** After the VU sent what it held: tells the runner, once, with how many VUs k6 has initialised. */
  reportFlushed() {
    if (!this.url || this.reported) return;
    this.reported = true;
    this.http.get(`${this.url}?vu=${this.vu()}&flushed=1&initialised=${this.initialisedVus()}`);
  }
}
