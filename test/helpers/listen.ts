/**
 * An express app on an ephemeral loopback port, for unit tests that call routes without the stack.
 * @returns the server (close it in afterAll) and its origin, e.g. `http://127.0.0.1:40123`
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export async function listenOnLoopback(app: { listen(port: number, host: string): Server }): Promise<{ server: Server; base: string }> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}
