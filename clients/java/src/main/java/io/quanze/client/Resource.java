package io.quanze.client;

import java.util.Map;
import java.util.Objects;

/** What the action is taken on; {@code properties} holds the resource attributes of inventory §4.1. */
public record Resource(String type, String id, Map<String, ?> properties) {
  public Resource {
    Objects.requireNonNull(type, "resource.type");
    id = id == null ? "" : id;
    properties = properties == null ? Map.of() : properties;
  }
}
