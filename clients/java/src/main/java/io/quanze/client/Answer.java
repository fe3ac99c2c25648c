package io.quanze.client;

import java.util.List;

/**
 * The sidecar's answer to one request. {@link #allowed()} is true only when the sidecar said
 * {@code decision: true}; an absent decision is a deny.
 */
public record Answer(
    String decisionId,
    boolean allowed,
    List<Reason> reasons,
    List<Obligation> obligations,
    String escalateTo,
    List<Accountable> accountable,
    String policyRevision) {

  /** Reason code of the deny {@code checkOrDeny} gives when the sidecar cannot answer. */
  public static final String SIDECAR_UNAVAILABLE = "sidecar_unavailable";

  public Answer {
    reasons = List.copyOf(reasons);
    obligations = List.copyOf(obligations);
    accountable = List.copyOf(accountable);
  }

  /** The deny {@code checkOrDeny} gives when the sidecar cannot answer (the Python client's words). */
  public static Answer sidecarUnavailable() {
    Reason reason =
        new Reason(
            SIDECAR_UNAVAILABLE,
            "",
            0,
            "授权服务不可用，按拒绝处理",
            "The authorization sidecar could not be reached, so the request is denied");
    return new Answer("", false, List.of(reason), List.of(), "", List.of(), "");
  }
}
