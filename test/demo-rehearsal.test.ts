// The conference demo, rehearsed for real: `npm run demo -- --rehearse` against the native stack with
// Tempo, and every beat must pass. No --allow-missing-tempo: the trace beat is the point of the talk.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { configFromArgs, runDemo } from '../demo/demo.ts';
import { stackDown, stackUp } from '../native/stack.ts';
import { tempoSkipReason } from '../native/tools.ts';

describe('the demo rehearsal on the native stack', { skip: tempoSkipReason(), timeout: 15 * 60_000 }, () => {
  before(async () => {
    await stackUp({ fresh: true, log: (line) => console.log(`  ${line}`) });
  });

  after(async () => {
    await stackDown({ log: () => undefined });
  });

  test('every beat passes, none skipped', async () => {
    const lines: string[] = [];
    const code = await runDemo(configFromArgs(['--rehearse']), (line) => {
      lines.push(line);
      console.log(line);
    });
    assert.equal(code, 0, 'the rehearsal failed (its log is above)');
    assert.ok(!lines.some((line) => line.includes('SKIPPED')), 'a beat was skipped');
    assert.ok(lines.some((line) => line.includes('All beats passed.')));
  });
});
