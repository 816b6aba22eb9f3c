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

/** A logger for `Runtime.install({ logger })` that writes our JSON lines. */
export function temporalLogger(): DefaultLogger {
  const sdkMin = SEVERITY[sdkThreshold()];
  return new DefaultLogger('DEBUG', (entry: LogEntry) => {
    const meta = (entry.meta ?? {}) as Record<string, unknown>;
    const level = LEVELS[entry.level];
    const aboutJob = typeof meta.jobId === 'string';
    if (aboutJob ? !logEnabled(level) : SEVERITY[entry.level] < sdkMin) return;
    const time = new Date(Number(entry.timestampNanos / 1_000_000n));
    writeLogLine(level, entry.message, { component: 'temporal', ...meta }, time);
  });
}
