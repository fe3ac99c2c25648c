/** The sidecar's GetStatus answer, with the proto's snake_case names (docs/api.md, GetStatus). */

export interface DecisionLogStatus {
  enabled: boolean;
  mode: string;
  stream: string;
  decisions_logged: number;
  bytes_written: number;
  records_lost: number;
  records_refused: number;
  write_failures: number;
  last_checkpoint_at: string;
}

export interface Status {
  policy_source: string;
  active_revision: string;
  activated_at: string;
  last_failed_revision: string;
  last_failed_at: string;
  last_error: string;
  last_checked_at: string;
  serving: boolean;
  version: string;
  decision_log: DecisionLogStatus | null;
  source_error: string;
  calls_shed: number;
  calls_expired: number;
  max_concurrent_calls: number;
  active_gate: string;
  active_gate_cached_at: string;
}
