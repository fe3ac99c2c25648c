package io.quanze.client;

import java.util.List;
import java.util.Map;

/** The contract's worked example (spec contract.md): assistant asst-A1 and case C-1001. */
final class Cases {
  private Cases() {}

  static final Subject ASSISTANT =
      Subject.user(
          "asst-A1",
          Map.of(
              "role", "procurator_assistant",
              "roles", List.of("procurator_assistant"),
              "procuratorate", "PROC-CITY-A",
              "department", "DEPT-CRIM-1",
              "senior_stage", false));

  static final Resource CASE =
      new Resource(
          "case",
          "C-1001",
          Map.of(
              "procuratorate", "PROC-CITY-A",
              "department", "DEPT-CRIM-1",
              "domain", "criminal",
              "handling_mode", "sole",
              "sole_procurator", "p-A1",
              "within_power_list", true));

  static final Map<String, ?> GUIDANCE = Map.of("supervising_procurator", "p-A1");

  /** The assistant interrogating the suspect under guidance: allowed by 十七. */
  static Request guided() {
    return new Request(ASSISTANT, Action.named("case.interrogate_suspect"), CASE, GUIDANCE);
  }

  /** The same without guidance: denied with assistant_requires_guidance. */
  static Request unguided() {
    return new Request(ASSISTANT, Action.named("case.interrogate_suspect"), CASE, Map.of());
  }
}
