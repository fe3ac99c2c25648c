// A minimal case application: it asks Quanze before each action and shows the answer in Chinese.
//
//   .venv/bin/quanze serve &                                         # the sidecar, bundled policies
//   java -cp CLIENT_CLASSPATH examples/java/CaseApp.java [HOST:PORT]   # default 127.0.0.1:8600
//
// CLIENT_CLASSPATH: clients/java's classes and their jars (clients/java/README.md). An assistant
// tries to interrogate a suspect, first without naming the procurator who guides them (denied,
// and told why), then under that procurator's guidance (allowed, with what they must do). If the
// sidecar cannot answer, the action is refused (checkOrDeny).

import io.quanze.client.Action;
import io.quanze.client.Answer;
import io.quanze.client.QuanzeClient;
import io.quanze.client.Request;
import io.quanze.client.Resource;
import io.quanze.client.Subject;
import java.time.Duration;
import java.util.List;
import java.util.Map;

public class CaseApp {
  static final Subject ASSISTANT = Subject.user("asst-A1", Map.of(
      "role", "procurator_assistant",
      "roles", List.of("procurator_assistant"),
      "procuratorate", "PROC-CITY-A",
      "department", "DEPT-CRIM-1",
      "senior_stage", false));
  static final Resource CASE = new Resource("case", "C-1001", Map.of(
      "procuratorate", "PROC-CITY-A",
      "department", "DEPT-CRIM-1",
      "domain", "criminal",
      "handling_mode", "sole",
      "sole_procurator", "p-A1",
      "within_power_list", true));

  public static void main(String[] args) throws Exception {
    String address = args.length > 0 ? args[0] : "127.0.0.1:8600";
    try (QuanzeClient quanze = QuanzeClient.builder(address).timeout(Duration.ofSeconds(2)).build()) {
      ask(quanze, "讯问犯罪嫌疑人（未指明指导检察官）", Map.of());
      ask(quanze, "讯问犯罪嫌疑人（在 p-A1 指导下）", Map.of("supervising_procurator", "p-A1"));
    }
  }

  static void ask(QuanzeClient quanze, String step, Map<String, ?> context) throws Exception {
    Answer answer = quanze.checkOrDeny(
        new Request(ASSISTANT, Action.named("case.interrogate_suspect"), CASE, context));
    System.out.println(step + "：" + (answer.allowed() ? "允许" : "拒绝"));
    answer.reasons().forEach(r -> System.out.println("  · " + r.messageZh() + "（《意见》" + r.article() + "）"));
    answer.obligations().forEach(o -> System.out.println("  ！须：" + o.messageZh()));
    System.out.println("  决定编号 " + answer.decisionId());
    // and, when allowed, the application takes the action
  }
}
