/**
 * Names of the service's Prometheus metrics and their label values, in one
 * place: dashboards and alerts refer to these, so a rename is a visible change.
 */
export const METRIC = {
  /** counter, label `reason`: work refused to protect the service */
  refusals: 'im_refusals_total',
} as const;

/** The `reason` label of `im_refusals_total`: which limit refused the work. */
export const REFUSAL_REASONS = ['message_rate', 'slow_mode', 'ws_connect_rate', 'rest_rate', 'overload', 'max_connections'] as const;

export type RefusalReason = (typeof REFUSAL_REASONS)[number];
