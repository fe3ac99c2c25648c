package io.quanze.client;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.time.Duration;
import org.junit.Test;

/** A sidecar that stops: check throws, checkOrDeny answers the sidecar_unavailable deny. */
public class SidecarStoppedTest {
  @Test
  public void checkOrDenyDeniesOnceTheSidecarIsGone() throws Exception {
    Sidecar sidecar = Sidecar.start();
    try (QuanzeClient client =
        QuanzeClient.builder(sidecar.address).timeout(Duration.ofSeconds(10)).build()) {
      assertTrue(client.checkOrDeny(Cases.guided()).allowed());

      sidecar.close();

      var raised = assertThrows(QuanzeException.Unavailable.class, () -> client.check(Cases.guided()));
      assertEquals("UNAVAILABLE", raised.code());
      Answer answer = client.checkOrDeny(Cases.guided());
      assertFalse(answer.allowed());
      assertEquals(Answer.sidecarUnavailable(), answer);
      assertEquals("sidecar_unavailable", answer.reasons().get(0).code());
      assertEquals("授权服务不可用，按拒绝处理", answer.reasons().get(0).messageZh());
    } finally {
      sidecar.close();
    }
  }

  @Test
  public void checkOrDenyDeniesWhenTheDeadlinePasses() throws Exception {
    Sidecar sidecar = Sidecar.start();
    try (QuanzeClient client = QuanzeClient.builder(sidecar.address).build()) {
      // A deadline that has passed before the call leaves: DEADLINE_EXCEEDED, never an allow.
      Answer answer = client.checkOrDeny(Cases.guided(), Duration.ofNanos(1));
      assertEquals(Answer.sidecarUnavailable(), answer);
      assertThrows(QuanzeException.DeadlineExceeded.class,
          () -> client.check(Cases.guided(), Duration.ofNanos(1)));
    } finally {
      sidecar.close();
    }
  }
}
