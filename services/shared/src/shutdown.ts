// Work to finish before the process exits on SIGTERM or SIGINT, once the server takes no more
// requests: serve() (http.ts) runs it, whoever registered it. telemetry.ts registers the final flush
// of spans and metrics when it is loaded; a service run without it (bare) has nothing to flush.
const hooks: Array<() => Promise<void>> = [];

export function onShutdown(hook: () => Promise<void>): void {
  hooks.push(hook);
}

/** Runs every hook; a failing one is reported and does not stop the others. */
export async function runShutdownHooks(): Promise<void> {
  for (const result of await Promise.allSettled(hooks.map((hook) => hook()))) {
    if (result.status === 'rejected') console.error('shutdown step failed', result.reason);
  }
}
