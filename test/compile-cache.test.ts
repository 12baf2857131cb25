// The services' compile cache (services/shared/src/prime-compile-cache.ts): filled the way the
// native stack and the Dockerfile fill it, a service started from it runs without Node's type
// stripper (amaro) loaded; started without it, the stripper is loaded, so the check can tell.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { COMPILE_CACHE_PRIMER_ENV, components, type Component } from '../native/stack-components.ts';
import { repoRoot } from '../native/tools.ts';

const run = promisify(execFile);
const cacheDir = mkdtempSync(join(tmpdir(), 'compile-cache-'));
after(() => rmSync(cacheDir, { recursive: true, force: true }));

// Preloaded after the service's own --import: once the service listens, print which of Node's
// internal amaro modules it loaded, and exit.
const REPORT_TYPE_STRIPPER = `data:text/javascript,${encodeURIComponent(`
  import net from 'node:net';
  const listen = net.Server.prototype.listen;
  net.Server.prototype.listen = function (...args) {
    this.once('listening', () => {
      console.log('type stripper modules: ' + JSON.stringify(process.moduleLoadList.filter((name) => name.includes('amaro'))));
      process.exit(0);
    });
    return listen.apply(this, args);
  };
`)}`;

/** The type stripper's modules the service loaded, started as the native stack starts it (on a free port). */
async function typeStripperModules(service: Component, cache: string | undefined): Promise<string[]> {
  const main = service.args.at(-1)!;
  // With the SDK on, as the service runs; it exits before its first export.
  const env: NodeJS.ProcessEnv = { ...process.env, ...service.env, PORT: '0', NODE_COMPILE_CACHE: cache };
  if (cache === undefined) delete env.NODE_COMPILE_CACHE;
  const { stdout } = await run(service.command, [...service.args.slice(0, -1), '--import', REPORT_TYPE_STRIPPER, main], {
    cwd: repoRoot,
    env,
    timeout: 30_000,
  });
  const line = /^type stripper modules: (.*)$/m.exec(stdout)?.[1];
  assert.ok(line, `no report from ${service.name}:\n${stdout}`);
  return JSON.parse(line) as string[];
}

describe('the compile cache', () => {
  const services = components().filter((component) => component.primerArgs !== undefined);

  test('the native stack fills it for each of the three services', async () => {
    assert.deepEqual(
      services.map((service) => service.name),
      ['pricing', 'inventory', 'order'],
    );
    for (const service of services) {
      await run(service.command, service.primerArgs!, {
        cwd: repoRoot,
        env: { ...process.env, ...service.env, ...COMPILE_CACHE_PRIMER_ENV, NODE_COMPILE_CACHE: cacheDir },
        timeout: 30_000,
      });
    }
    assert.ok(readdirSync(cacheDir, { recursive: true }).length > 0, 'the cache directory is empty');
  });

  test('a service started from it does not load the type stripper; without it, it does', async () => {
    for (const service of services) {
      assert.deepEqual(await typeStripperModules(service, cacheDir), [], `${service.name} with the cache`);
      assert.notDeepEqual(await typeStripperModules(service, undefined), [], `${service.name} without a cache`);
    }
  });
});
