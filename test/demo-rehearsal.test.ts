// The conference demo, rehearsed for real against the native stack with Tempo: the beats of
// demo/beats.ts, one test each and in order, over one shared Demo, just as
// `npm run demo -- --rehearse` plays them. No --allow-missing-tempo: every beat must pass, none may
// be skipped (the trace beat is the point of the talk). A beat after a failed one fails at once.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BEATS, Demo } from '../demo/beats.ts';
import { configFromArgs } from '../demo/config.ts';
import { stackDown, stackUp } from '../native/stack.ts';
import { tempoSkipReason } from '../native/tools.ts';

describe('the demo rehearsal on the native stack, beat by beat', { skip: tempoSkipReason(), timeout: 15 * 60_000 }, () => {
  let demo: Demo | undefined;
  let failed: string | undefined;

  before(async () => {
    await stackUp({ fresh: true, log: (line) => console.log(`  ${line}`) });
    // After stackUp, so that the demo sees the native stack running (native hints, Grafana optional).
    demo = new Demo(configFromArgs(['--rehearse']), (line) => console.log(line));
    assert.equal(demo.config.stack.kind, 'native', demo.config.stack.why);
    assert.equal(demo.config.allowMissingTempo, false);
  });

  after(async () => {
    try {
      if (demo) {
        // The demo's own clean stop: the load stopped, the slow path OFF; then check the slow path.
        await demo.cleanup();
        demo.summary();
        if (demo.slowPathTouched) {
          const response = await fetch(`${demo.config.urls.inventory}/admin/slow-path`, { signal: AbortSignal.timeout(5000) });
          assert.equal(((await response.json()) as { rate: number }).rate, 0, 'the slow path is still on after the clean stop');
        }
      }
    } finally {
      await stackDown({ log: () => undefined });
    }
  });

  for (const beat of BEATS) {
    test(beat.title, async () => {
      assert.ok(demo, 'the native stack did not start (see before)');
      assert.equal(failed, undefined, `not played: the beat "${failed}" failed before it`);
      try {
        const record = await demo.step(beat);
        assert.equal(record.status, 'ok', `the beat was ${record.status}, not passed: ${record.note}`);
      } catch (error) {
        failed = beat.title;
        throw error;
      }
    });
  }
});
