package io.quanze.client;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.AfterClass;
import org.junit.BeforeClass;
import org.junit.Test;

/** The client against a real sidecar over TCP. */
public class QuanzeClientTest {
  private static Sidecar sidecar;
  private static QuanzeClient client;

  @BeforeClass
  public static void startSidecar() throws Exception {
    sidecar = Sidecar.start();
    client = QuanzeClient.builder(sidecar.address).timeout(Duration.ofSeconds(10)).build();
  }

  @AfterClass
  public static void stopSidecar() throws Exception {
    if (client != null) client.close();
    if (sidecar != null) sidecar.close();
  }

  private static List<String> codes(Answer answer) {
    return answer.reasons().stream().map(Reason::code).collect(Collectors.toList());
  }

  @Test
  public void guidedAssistantMayInterrogate() {
    Answer answer = client.check(Cases.guided());

    assertTrue(answer.allowed());
    assertEquals(List.of(new Reason("assistant_duty", "十七", 1,
        answer.reasons().get(0).messageZh(), answer.reasons().get(0).messageEn())), answer.reasons());
    assertFalse(answer.reasons().get(0).messageZh().isEmpty());
    assertFalse(answer.reasons().get(0).messageEn().isEmpty());
    assertEquals(List.of("record_supervising_procurator"),
        answer.obligations().stream().map(Obligation::code).collect(Collectors.toList()));
    assertEquals("asst-A1", answer.accountable().get(0).subjectId());
    assertEquals("judicial", answer.accountable().get(0).responsibility());
    assertFalse(answer.decisionId().isEmpty());
    assertFalse(answer.policyRevision().isEmpty());
    assertEquals("", answer.escalateTo());
  }

  @Test
  public void unguidedAssistantIsDeniedWithTheReason() {
    Answer answer = client.check(Cases.unguided());

    assertFalse(answer.allowed());
    assertEquals(List.of("assistant_requires_guidance"), codes(answer));
    assertEquals("十七", answer.reasons().get(0).article());
  }

  @Test
  public void eachDecisionHasItsOwnId() {
    assertNotEquals(client.check(Cases.guided()).decisionId(), client.check(Cases.guided()).decisionId());
  }

  @Test
  public void anUnknownActionNamesTheField() {
    Request request = new Request(Cases.ASSISTANT, Action.named("case.interogate_suspect"), Cases.CASE);

    var raised = assertThrows(QuanzeException.InvalidRequest.class, () -> client.check(request));

    assertEquals("action.name", raised.field());
    assertEquals("INVALID_ARGUMENT", raised.code());
    assertTrue(raised.getMessage(), raised.getMessage().contains("case.interrogate_suspect"));
  }

  @Test
  public void aWronglyTypedAttributeNamesTheField() {
    Subject subject = Subject.user("asst-A1", Map.of("role", "procurator_assistant", "senior_stage", "no"));
    Request request = new Request(subject, Action.named("case.interrogate_suspect"), Cases.CASE);

    var raised = assertThrows(QuanzeException.InvalidRequest.class, () -> client.check(request));

    assertEquals("subject.properties.senior_stage", raised.field());
  }

  @Test
  public void aValueJsonCannotHoldNamesTheFieldBeforeAnyCall() {
    Request request = new Request(Cases.ASSISTANT, Action.named("case.interrogate_suspect"),
        Cases.CASE, Map.of("supervising_procurator", new Object()));

    var raised = assertThrows(QuanzeException.InvalidRequest.class, () -> client.check(request));

    assertEquals("context.supervising_procurator", raised.field());
  }

  @Test
  public void checkOrDenyStillThrowsForAnInvalidRequest() {
    Request request = new Request(Cases.ASSISTANT, Action.named("no.such_action"), Cases.CASE);

    assertThrows(QuanzeException.InvalidRequest.class, () -> client.checkOrDeny(request));
  }

  @Test
  public void checkOrDenyPassesTheSidecarAnswerThrough() {
    Answer answer = client.checkOrDeny(Cases.unguided());

    assertEquals(List.of("assistant_requires_guidance"), codes(answer));
    assertFalse(answer.decisionId().isEmpty());
  }

  @Test
  public void batchItemsInheritTheDefaultsAndAnswerInOrder() {
    Request defaults = new Request(Cases.ASSISTANT, null, Cases.CASE, null);
    List<Request> items = List.of(
        new Request(null, Action.named("case.interrogate_suspect"), null, Cases.GUIDANCE),
        Request.action("case.interrogate_suspect"),
        new Request(null, Action.named("evidence.collect"), null, Cases.GUIDANCE));

    List<BatchItem> every = client.checkBatch(items, defaults);
    List<BatchItem> stopped = client.checkBatch(items, defaults, Semantic.DENY_ON_FIRST_DENY);
    List<BatchItem> permitted = client.checkBatch(items, defaults, Semantic.PERMIT_ON_FIRST_PERMIT);

    assertEquals(List.of(true, false, true), every.stream().map(BatchItem::allowed).collect(Collectors.toList()));
    assertEquals(List.of(true, false), stopped.stream().map(BatchItem::allowed).collect(Collectors.toList()));
    assertEquals(List.of("assistant_requires_guidance"), codes(stopped.get(1).answer()));
    assertEquals(1, permitted.size());
    assertEquals(codes(client.check(Cases.guided())), codes(every.get(0).answer()));
  }

  @Test
  public void anInvalidBatchItemGetsItsOwnError() {
    Request defaults = new Request(Cases.ASSISTANT, null, Cases.CASE, Cases.GUIDANCE);
    List<Request> items = List.of(
        Request.action("case.interrogate_suspect"), Request.action("case.no_such_action"));

    List<BatchItem> results = client.checkBatch(items, defaults);

    assertTrue(results.get(0).allowed());
    assertFalse(results.get(1).allowed());
    assertEquals("evaluations[1].action.name", results.get(1).error().field());
  }

  @Test
  public void allowedActionsAgreeWithCheck() {
    List<ActionDecision> actions = client.allowedActions(Cases.ASSISTANT, Cases.CASE, Cases.GUIDANCE);

    assertTrue(actions.size() > 5);
    ActionDecision interrogate = actions.stream()
        .filter(a -> a.action().equals("case.interrogate_suspect")).findFirst().orElseThrow();
    assertTrue(interrogate.allowed());
    assertTrue(actions.stream().anyMatch(a -> !a.allowed()));
    for (ActionDecision entry : actions) {
      Answer single = client.check(
          new Request(Cases.ASSISTANT, Action.named(entry.action()), Cases.CASE, Cases.GUIDANCE));
      assertEquals(entry.action(), single.allowed(), entry.allowed());
      assertEquals(entry.action(), codes(single), codes(entry.answer()));
    }
  }

  @Test
  public void allowedActionsWithoutSubjectIdNamesTheField() {
    Subject nobody = Subject.user("", Map.of("role", "procurator_assistant"));

    var raised = assertThrows(QuanzeException.InvalidRequest.class,
        () -> client.allowedActions(nobody, Cases.CASE, null));

    assertEquals("subject.id", raised.field());
  }

  @Test
  public void aUnixSocketTargetIsRefusedSayingWhy() {
    var raised = assertThrows(IllegalArgumentException.class,
        () -> QuanzeClient.builder("unix:/run/quanze/quanze.sock"));

    assertTrue(raised.getMessage(), raised.getMessage().contains("TCP only"));
  }
}
