package io.quanze.client;

import java.util.Map;

/**
 * One decision request of the contract. For {@code check} every part but {@code context} is
 * needed (the sidecar names a missing one); a batch item or the batch defaults may leave any part
 * null, and an item's part replaces the default's.
 */
public record Request(Subject subject, Action action, Resource resource, Map<String, ?> context) {
  public Request(Subject subject, Action action, Resource resource) {
    this(subject, action, resource, null);
  }

  /** A batch item that sets only the action. */
  public static Request action(String name) {
    return new Request(null, Action.named(name), null, null);
  }
}
