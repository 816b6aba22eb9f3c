/**
 * ListenSocket (api/listen.ts): ws refuses a message over `maxPayload` from its header and closes with 1009 before
 * any 'error' listener runs; the override lets the session speak first. Guards the shape of ws's call it relies
 * on (close(1009) with no reason while open), so a ws upgrade that changes it fails here, and checks that a client's
 * own close with 1009 is not taken for a refusal. A bare ws server on loopback, no stack.
 */
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { ListenSocket } from '../../api/listen';

const LIMIT = 1024;
let wss: WebSocketServer;
let url: string;
/** how many times the server's onTooLarge ran */
let answered = 0;

beforeAll(async () => {
  wss = new WebSocketServer({ port: 0, host: '127.0.0.1', maxPayload: LIMIT, WebSocket: ListenSocket });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
  wss.on('connection', (ws: ListenSocket) => {
    ws.on('error', () => undefined);
    ws.onTooLarge = () => {
      answered++;
      ws.send(JSON.stringify({ type: 'error', code: 'frame_too_large' }));
      ws.close(1009, 'frame_too_large');
    };
    ws.on('message', (data) => ws.send(`echo ${String(data).length}`));
  });
});

afterAll(async () => {
  await new Promise((r) => wss.close(r));
});

/** Opens a client; collects its text messages and its close. */
async function client() {
  const ws = new WebSocket(url);
  const messages: string[] = [];
  ws.on('message', (d) => messages.push(String(d)));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, messages, closed };
}

beforeEach(() => {
  answered = 0;
});

test('a message over maxPayload: the session’s error arrives before the close 1009, with its reason', async () => {
  const c = await client();
  c.ws.send(Buffer.alloc(LIMIT)); // at the limit: accepted
  c.ws.send(Buffer.alloc(8 * LIMIT * LIMIT)); // 8 MiB: refused from the header
  expect(await c.closed).toEqual({ code: 1009, reason: 'frame_too_large' });
  expect(c.messages).toEqual([`echo ${LIMIT}`, JSON.stringify({ type: 'error', code: 'frame_too_large' })]);
  expect(answered).toBe(1);
});

test('a client that closes with 1009 itself is not answered as a refusal', async () => {
  const c = await client();
  c.ws.close(1009, 'client says so');
  expect((await c.closed).code).toBe(1009);
  expect(c.messages).toEqual([]);
  expect(answered).toBe(0);
});
