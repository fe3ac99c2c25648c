package io.quanze.client;

import java.util.Map;
import java.util.Objects;

/** What the subject wants to do; {@code name} is an action id of the catalog. */
public record Action(String name, Map<String, ?> properties) {
  public Action {
    Objects.requireNonNull(name, "action.name");
    properties = properties == null ? Map.of() : properties;
  }

  public static Action named(String name) {
    return new Action(name, Map.of());
  }
}
