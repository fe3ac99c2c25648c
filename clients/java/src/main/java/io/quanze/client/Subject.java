package io.quanze.client;

import java.util.Map;
import java.util.Objects;

/** The person who acts; {@code properties} holds the subject attributes of inventory §4.2. */
public record Subject(String type, String id, Map<String, ?> properties) {
  public Subject {
    Objects.requireNonNull(type, "subject.type");
    Objects.requireNonNull(id, "subject.id");
    properties = properties == null ? Map.of() : properties;
  }

  /** A person ({@code type} "user"). */
  public static Subject user(String id, Map<String, ?> properties) {
    return new Subject("user", id, properties);
  }
}
