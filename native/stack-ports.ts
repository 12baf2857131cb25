// The native stack's ports, checked twice: before anything starts (a taken port is refused with one
// line naming it and what holds it), and once each component answers (the answer must come from this
// stack's own process, not from another stack that happens to listen there).
import { createServer } from 'node:net';
import { listeningAddresses, portHolder } from './listeners.ts';
import { ports, portVariable, type Component } from './stack-components.ts';

/** Can this process listen on 127.0.0.1:port right now? (What the component will try.) */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Throws, with one line per taken port, unless every port the components listen on is free. */
export async function refuseTakenPorts(components: readonly Component[]): Promise<void> {
  const taken: string[] = [];
  for (const component of components) {
    for (const name of component.ports) {
      if (await portFree(ports[name])) continue;
      const holder = portHolder(ports[name]);
      taken.push(
        `port ${ports[name]} (${portVariable(name)}, for ${component.name}) is taken${holder ? ` by ${holder}` : ''}: stop it, or move the port with ${portVariable(name)}=<free port>`,
      );
    }
  }
  if (taken.length > 0) throw new Error(`the native stack cannot start:\n  ${taken.join('\n  ')}`);
}

/**
 * Is the process that answered the component's ready URL the component itself? On Linux the ready
 * port must be one of its own listening sockets; elsewhere (no /proc) its being alive is what can be
 * checked, and the ports were free just before it started.
 */
export function answersItself(component: Component, pid: number): boolean {
  const port = Number(new URL(component.readyUrl).port);
  try {
    return listeningAddresses(pid).some((address) => address.endsWith(`:${port}`));
  } catch {
    return true; // no /proc to read: refuseTakenPorts and the liveness check stand for it
  }
}
