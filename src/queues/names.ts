/** BullMQ queue and job names, in one place. */
export const QUEUES = {
  /** session timers: inactivity close */
  sessions: 'sessions',
} as const;

export const JOBS = {
  inactivity: 'inactivity',
} as const;

/** One pending inactivity check per session and due time. */
export const inactivityJobId = (sessionId: string, at: Date) => `inactivity-${sessionId}-${at.getTime()}`;
