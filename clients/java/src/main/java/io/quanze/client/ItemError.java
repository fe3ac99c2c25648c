package io.quanze.client;

/** Why one batch item was not evaluated (data, not an exception): {@code field} names the path. */
public record ItemError(String field, String message) {}
