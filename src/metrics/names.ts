/**
 * Names of the service's Prometheus metrics and their label values, in one
 * place: dashboards and alerts refer to these, so a rename is a visible change.
 */
export const METRIC = {
  /** counter, label `reason`: work refused to protect the service */
  refusals: 'im_refusals_total',
  /** gauge: WebSocket connections this instance holds */
  connections: 'im_ws_connections',
  /** gauge: WebSocket connections waiting their turn to be set up (WS_SETUP_CONCURRENCY): the backlog of a reconnect storm */
  setupsWaiting: 'im_ws_setups_waiting',
  /** gauge: how long the messages waiting to be stored have waited (MAX_STORE_LAG_MS refuses new work past it) */
  storeLag: 'im_store_lag_seconds',
} as const;

/** The `reason` label of `im_refusals_total`: which limit refused the work. */
export const REFUSAL_REASONS = ['message_rate', 'slow_mode', 'ws_connect_rate', 'rest_rate', 'overload', 'max_connections'] as const;

export type RefusalReason = (typeof REFUSAL_REASONS)[number];
