package io.quanze.client;

/** AuthZEN evaluation semantics of a batch. */
public enum Semantic {
  /** Answer every item (the default). */
  EXECUTE_ALL("execute_all"),
  /** Stop after the first deny. */
  DENY_ON_FIRST_DENY("deny_on_first_deny"),
  /** Stop after the first allow. */
  PERMIT_ON_FIRST_PERMIT("permit_on_first_permit");

  final String wire;

  Semantic(String wire) {
    this.wire = wire;
  }
}
