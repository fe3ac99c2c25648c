package io.quanze.client;

/** The answer Check would give for one action of the catalog. */
public record ActionDecision(String action, Answer answer) {
  public boolean allowed() {
    return answer.allowed();
  }
}
