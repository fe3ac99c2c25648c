package io.quanze.client;

/** The answer to one batch item; {@code error} is set (and the answer a deny) when it was invalid. */
public record BatchItem(Answer answer, ItemError error) {
  /** True only for a valid item the sidecar allowed. */
  public boolean allowed() {
    return error == null && answer.allowed();
  }
}
