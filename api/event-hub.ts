/**
 * One Postgres LISTEN connection per API replica, fanned out in-process to the Server-Sent Event streams
 * (api/routes/events.ts), so an open stream costs no database query until its job has a new event.
 *
 * The trigger of infra/migrations/1764800000000_job-events-notify.sql NOTIFYs channel `job_events` with
 * `<job uuid>:<event id>` for every inserted row, at commit. The hub wakes the streams of that job; each stream
 * then reads its new rows by id (`id > lastEventId`), exactly as a resumed stream does, so the notification
 * never has to carry (or be trusted for) the event itself, and a missed or duplicated notification costs at most
 * one extra query, never a lost or repeated event.
 *
 * Notifications sent while the listener is disconnected are lost (Postgres queues them only for connected
 * listeners). So when the listening connection drops (Postgres restarted, the backend terminated, the network
 * cut), the hub reconnects with backoff and, once LISTEN is in place again, wakes every stream: each catches up
 * from the table. While it is disconnected nothing wakes the streams, but nothing can be inserted then either
 * unless only our connection broke; the catch-up wake covers that case too.
 *
 * Source for the semantics relied on: PostgreSQL docs, NOTIFY ("if NOTIFY is executed inside a transaction, the
 * notify events are not delivered until and unless the transaction is committed"; payload < 8000 bytes) and
 * LISTEN.
 */
import { Client, type Notification } from 'pg';
import type { Logger } from '../common/log';
import { eventListenerReconnects } from '../common/metrics';

/** The channel the job_events trigger notifies. */
export const JOB_EVENTS_CHANNEL = 'job_events';

/** Reconnect backoff: first retry after 100 ms, doubling to at most 2 s (a restarted Postgres is back in ~1 s). */
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 2_000;
/**
 * How often the listener proves its connection alive with `SELECT 1`. A connection that died without a FIN (a
 * peer gone from the network) would otherwise look open forever and its streams would never wake. One query per
 * replica per interval, independent of the number of streams.
 */
const HEALTH_CHECK_MS = 10_000;
const CONNECT_TIMEOUT_MS = 5_000;

export type Wake = (eventId: number | undefined) => void;

export interface JobEventHubStats {
  /** Whether LISTEN is in place now. */
  listening: boolean;
  /** Times the listener has (re)connected, the first connect included. */
  connects: number;
  /** Notifications received since start. */
  notifications: number;
  /** Open subscriptions (SSE streams). */
  subscribers: number;
}

/**
 * The per-replica fan-out of job-event notifications.
 *
 * Lifecycle: `start()` once (resolves when LISTEN is in place, or keeps retrying in the background and resolves
 * anyway after the first failure, so the API starts while Postgres is briefly away); `close()` on shutdown.
 */
export class JobEventHub {
  private client: Client | undefined;
  private readonly subscribers = new Map<string, Set<Wake>>();
  private closed = false;
  private reconnectMs = RECONNECT_MIN_MS;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private healthTimer: NodeJS.Timeout | undefined;
  private readonly stats = { connects: 0, notifications: 0 };

  constructor(
    private readonly databaseUrl: string,
    private readonly log: Logger,
  ) {}

  /** Connects and LISTENs. Never rejects: on failure it logs and retries in the background. */
  async start(): Promise<void> {
    await this.connect();
    this.healthTimer = setInterval(() => void this.healthCheck(), HEALTH_CHECK_MS);
    this.healthTimer.unref();
  }

  /**
   * Calls `wake(eventId)` whenever job `jobId` gets an event (eventId from the notification), and
   * `wake(undefined)` after the listener reconnected (anything may have been missed: read from the table).
   * Returns the unsubscribe function; call it when the stream ends.
   */
  subscribe(jobId: string, wake: Wake): () => void {
    let set = this.subscribers.get(jobId);
    if (!set) this.subscribers.set(jobId, (set = new Set()));
    set.add(wake);
    return () => {
      const s = this.subscribers.get(jobId);
      if (!s) return;
      s.delete(wake);
      if (s.size === 0) this.subscribers.delete(jobId);
    };
  }

  getStats(): JobEventHubStats {
    let subscribers = 0;
    for (const s of this.subscribers.values()) subscribers += s.size;
    return { listening: this.client !== undefined, subscribers, ...this.stats };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.healthTimer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const client = new Client({
      connectionString: this.databaseUrl,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      keepAlive: true,
      application_name: 'fairscribe-event-hub',
    });
    let dropped = false;
    const onDrop = (err?: Error) => {
      if (dropped) return;
      dropped = true;
      if (this.client === client) this.client = undefined;
      client.removeAllListeners('notification');
      void client.end().catch(() => undefined);
      if (this.closed) return;
      this.log.warn('event listener lost its connection; reconnecting', { err: String(err?.message ?? 'connection ended') });
      this.scheduleReconnect();
    };
    client.on('error', onDrop);
    client.on('end', () => onDrop());
    client.on('notification', (n) => this.onNotification(n));
    try {
      await client.connect();
      await client.query(`LISTEN ${JOB_EVENTS_CHANNEL}`);
    } catch (err) {
      onDrop(err as Error);
      return;
    }
    if (dropped || this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.reconnectMs = RECONNECT_MIN_MS;
    this.stats.connects++;
    if (this.stats.connects > 1) {
      eventListenerReconnects.inc();
      this.log.info('event listener reconnected; streams catch up from the table', { subscribers: this.getStats().subscribers });
      // Notifications sent while we were away are gone: every stream reads what it missed.
      this.wakeAll();
    }
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    const delay = this.reconnectMs;
    this.reconnectMs = Math.min(this.reconnectMs * 2, RECONNECT_MAX_MS);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.connect();
    }, delay);
    this.reconnectTimer.unref();
  }

  private async healthCheck(): Promise<void> {
    const client = this.client;
    if (!client) return;
    try {
      await client.query('SELECT 1');
    } catch (err) {
      // The 'error' handler usually fires too; emitting here covers a query that failed without it.
      client.emit('error', err as Error);
    }
  }

  private onNotification(n: Notification): void {
    if (n.channel !== JOB_EVENTS_CHANNEL || !n.payload) return;
    this.stats.notifications++;
    const sep = n.payload.lastIndexOf(':');
    const jobId = n.payload.slice(0, sep);
    const eventId = Number(n.payload.slice(sep + 1));
    const set = this.subscribers.get(jobId);
    if (!set) return;
    for (const wake of [...set]) wake(Number.isSafeInteger(eventId) ? eventId : undefined);
  }

  private wakeAll(): void {
    for (const set of [...this.subscribers.values()]) for (const wake of [...set]) wake(undefined);
  }
}
