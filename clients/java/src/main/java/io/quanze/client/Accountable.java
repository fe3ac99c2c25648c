package io.quanze.client;

/** Who answers for the decision if it is taken (inventory §5). */
public record Accountable(String subjectId, String capacity, String responsibility, String article) {}
