// The services' compile cache (services/shared/src/prime-compile-cache.ts): filled by the native
// stack's own primeCompileCache, a service started with the stack's environment runs without Node's
// type stripper (amaro) loaded; started without the cache, the stripper is loaded, so the check can
// tell. This fills .stack/compile-cache, as `npm run stack:up` does.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { components, type Component } from '../native/stack-components.ts';
import { primeCompileCache } from '../native/stack.ts';
import { repoRoot } from '../native/tools.ts';

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

/**
 * The type stripper's modules the service loaded, started as the native stack starts it (on a free
 * port, with the SDK on: it exits before its first export), with or without its compile cache.
 */
async function typeStripperModules(service: Component, withCache: boolean): Promise<string[]> {
  const main = service.args.at(-1)!;
  const env: NodeJS.ProcessEnv = { ...process.env, ...service.env, PORT: '0' };
  if (!withCache) delete env.NODE_COMPILE_CACHE;
  const { stdout } = await promisify(execFile)(service.command, [...service.args.slice(0, -1), '--import', REPORT_TYPE_STRIPPER, main], {
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

  test('a service started from the cache the stack fills does not load the type stripper; without it, it does', async () => {
    assert.deepEqual(
      services.map((service) => service.name),
      ['pricing', 'inventory', 'order'],
    );
    // Emptied first, so that only what primeCompileCache writes now can pass.
    rmSync(services[0]!.env!.NODE_COMPILE_CACHE!, { recursive: true, force: true });
    for (const service of services) {
      await primeCompileCache(service);
      assert.deepEqual(await typeStripperModules(service, true), [], `${service.name} with the cache`);
      assert.notDeepEqual(await typeStripperModules(service, false), [], `${service.name} without a cache`);
    }
  });
});
