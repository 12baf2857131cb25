// The exporters that take a new gRPC channel after a failed export (services/shared/src/fresh-channel.ts).
// That telemetry then resumes within seconds of a Collector restart is test/faults.test.ts's to show.
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { freshChannelSpanExporter } from '../services/shared/src/fresh-channel.ts';

/** Exporters that answer with the given results in turn, recording what happened to each. */
function fakeExporters(results: ExportResultCode[]) {
  const made: Array<{ exports: number; shutDown: boolean }> = [];
  const create = (): SpanExporter => {
    const record = { exports: 0, shutDown: false };
    made.push(record);
    return {
      export: (_spans: ReadableSpan[], done: (result: ExportResult) => void) => {
        record.exports++;
        done({ code: results.shift() ?? ExportResultCode.SUCCESS });
      },
      shutdown: async () => {
        record.shutDown = true;
      },
    };
  };
  return { made, create };
}

const exportOnce = (exporter: SpanExporter) => new Promise<ExportResultCode>((resolve) => exporter.export([], (result) => resolve(result.code)));

test('a failed export replaces the exporter (and its channel); a successful one keeps it', async () => {
  const { made, create } = fakeExporters([ExportResultCode.SUCCESS, ExportResultCode.FAILED, ExportResultCode.FAILED, ExportResultCode.SUCCESS]);
  const exporter = freshChannelSpanExporter(create);
  assert.equal(await exportOnce(exporter), ExportResultCode.SUCCESS);
  assert.equal(made.length, 1, 'kept after a success');
  assert.equal(await exportOnce(exporter), ExportResultCode.FAILED, 'the failure is reported as it is');
  assert.equal(made.length, 2, 'a new exporter after the failure');
  assert.equal(made[0]!.shutDown, true, 'the failed one is shut down');
  assert.equal(await exportOnce(exporter), ExportResultCode.FAILED);
  assert.equal(await exportOnce(exporter), ExportResultCode.SUCCESS);
  assert.deepEqual(
    made.map((m) => m.exports),
    [2, 1, 1],
  );
  await exporter.shutdown();
  assert.equal(made[2]!.shutDown, true, 'shutdown reaches the current exporter');
});
