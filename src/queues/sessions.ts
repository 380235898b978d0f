/**
 * The session-timer queue: a delayed job per open session that checks for
 * inactivity when due (it lives in Redis, so it survives restarts). The
 * processor reschedules itself while the session is active, so there is
 * never more than one pending job per session and nothing to cancel.
 */
import { Queue, Worker, type ConnectionOptions } from 'bullmq';
import type { Scheduler } from '../domain/ports.js';
import { JOBS, QUEUES, inactivityJobId } from './names.js';

export interface SessionQueueOptions {
  connection: ConnectionOptions;
  prefix: string;
}

export function createSessionScheduler(opts: SessionQueueOptions): Scheduler & { queue: Queue; close(): Promise<void> } {
  const queue = new Queue(QUEUES.sessions, {
    connection: opts.connection,
    prefix: opts.prefix,
    defaultJobOptions: { removeOnComplete: true, removeOnFail: 1000, attempts: 5, backoff: { type: 'exponential', delay: 1000 } },
  });
  return {
    queue,
    async inactivityCheck(sessionId, at) {
      const delay = Math.max(0, at.getTime() - Date.now());
      await queue.add(JOBS.inactivity, { sessionId }, { jobId: inactivityJobId(sessionId, at), delay });
    },
    close: () => queue.close(),
  };
}

export function startSessionWorker(
  opts: SessionQueueOptions & { checkInactivity(sessionId: string): Promise<unknown>; onError(err: unknown): void },
): Worker {
  const worker = new Worker(
    QUEUES.sessions,
    async (job) => {
      if (job.name === JOBS.inactivity) return opts.checkInactivity((job.data as { sessionId: string }).sessionId);
      throw new Error(`unknown job ${job.name}`);
    },
    { connection: opts.connection, prefix: opts.prefix, concurrency: 10 },
  );
  worker.on('failed', (_job, err) => opts.onError(err));
  worker.on('error', (err) => opts.onError(err));
  return worker;
}
