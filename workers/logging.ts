/**
 * The Temporal SDK's logger for our workers: the SDK's lines (workflow `log` calls through its logger
 * sink, activity `Context.log`, worker state) become our JSON lines (common/log.ts). Lines about a job
 * (they carry `jobId`, added by our interceptors) are written at LOG_LEVEL; the SDK's own chatter only
 * at TEMPORAL_LOG_LEVEL (default WARN), since worker state changes at INFO would drown the job lines.
 */
import { DefaultLogger, type LogEntry, type LogLevel } from '@temporalio/worker';
import { logEnabled, writeLogLine, type Level } from '../common/log';

const LEVELS: Record<LogLevel, Level> = { TRACE: 'debug', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' };
const SEVERITY: Record<LogLevel, number> = { TRACE: 0, DEBUG: 1, INFO: 2, WARN: 3, ERROR: 4 };

function sdkThreshold(): LogLevel {
  const v = process.env.TEMPORAL_LOG_LEVEL as LogLevel | undefined;
  return v && v in SEVERITY ? v : 'WARN';
}

/**
 * SDK warnings that describe our design, not a fault: the inference workers (workers/cpu.ts, gpu-*.ts) are
 * activity-only on their task queues, and @temporalio/worker (lib/worker.js `workflow$`) warns at every start
 * of such a worker that it polls no workflow tasks. Logged at INFO so a WARN line always means something.
 */
const EXPECTED_SDK_WARNINGS = new Set(['No workflows registered, not polling for workflow tasks']);

/** A logger for `Runtime.install({ logger })` that writes our JSON lines. */
export function temporalLogger(): DefaultLogger {
  const sdkMin = SEVERITY[sdkThreshold()];
  return new DefaultLogger('DEBUG', (entry: LogEntry) => {
    const meta = (entry.meta ?? {}) as Record<string, unknown>;
    const sdkLevel: LogLevel = entry.level === 'WARN' && EXPECTED_SDK_WARNINGS.has(entry.message) ? 'INFO' : entry.level;
    const level = LEVELS[sdkLevel];
    const aboutJob = typeof meta.jobId === 'string';
    if (aboutJob ? !logEnabled(level) : SEVERITY[sdkLevel] < sdkMin) return;
    const time = new Date(Number(entry.timestampNanos / 1_000_000n));
    writeLogLine(level, entry.message, { component: 'temporal', ...meta }, time);
  });
}
