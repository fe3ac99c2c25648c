package io.quanze.client;

import com.google.protobuf.ListValue;
import com.google.protobuf.NullValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import quanze.v1.DecisionServiceOuterClass;

/** Typed requests to protobuf messages and protobuf answers to typed answers; nothing else. */
final class Convert {
  private Convert() {}

  static DecisionServiceOuterClass.CheckRequest check(Request request) {
    if (request == null) {
      throw new QuanzeException.InvalidRequest("", "the request is null", null);
    }
    return item(request);
  }

  static DecisionServiceOuterClass.CheckBatchRequest batch(
      List<Request> items, Request defaults, Semantic semantic) {
    var message = DecisionServiceOuterClass.CheckBatchRequest.newBuilder();
    if (defaults != null) {
      if (defaults.subject() != null) message.setSubject(subject(defaults.subject()));
      if (defaults.action() != null) message.setAction(action(defaults.action()));
      if (defaults.resource() != null) message.setResource(resource(defaults.resource()));
      if (defaults.context() != null) message.setContext(struct(defaults.context(), "context"));
    }
    for (int i = 0; i < items.size(); i++) {
      if (items.get(i) == null) {
        throw new QuanzeException.InvalidRequest("evaluations[" + i + "]", "the item is null", null);
      }
      message.addEvaluations(item(items.get(i)));
    }
    message.getOptionsBuilder().setEvaluationsSemantic(semantic.wire);
    return message.build();
  }

  static DecisionServiceOuterClass.ListAllowedActionsRequest list(
      Subject subject, Resource resource, Map<String, ?> context) {
    var message = DecisionServiceOuterClass.ListAllowedActionsRequest.newBuilder();
    if (subject != null) message.setSubject(subject(subject));
    if (resource != null) message.setResource(resource(resource));
    if (context != null) message.setContext(struct(context, "context"));
    return message.build();
  }

  static Answer answer(DecisionServiceOuterClass.CheckResponse response) {
    List<Reason> reasons = new ArrayList<>();
    for (var r : response.getReasonsList()) {
      reasons.add(
          new Reason(r.getCode(), r.getArticle(), r.getItem(), r.getMessageZh(), r.getMessageEn()));
    }
    List<Obligation> obligations = new ArrayList<>();
    for (var o : response.getObligationsList()) {
      obligations.add(
          new Obligation(
              o.getCode(), o.getArticle(), o.getItem(), o.getMessageZh(), o.getMessageEn()));
    }
    List<Accountable> accountable = new ArrayList<>();
    for (var a : response.getAccountableList()) {
      accountable.add(
          new Accountable(a.getSubjectId(), a.getCapacity(), a.getResponsibility(), a.getArticle()));
    }
    return new Answer(
        response.getDecisionId(),
        // Explicit presence: an absent decision is a deny, never a default true.
        response.hasDecision() && response.getDecision(),
        reasons,
        obligations,
        response.getEscalateTo(),
        accountable,
        response.getPolicyRevision());
  }

  static List<BatchItem> batchItems(DecisionServiceOuterClass.CheckBatchResponse response) {
    List<BatchItem> items = new ArrayList<>();
    for (var result : response.getEvaluationsList()) {
      ItemError error =
          result.hasError()
              ? new ItemError(result.getError().getField(), result.getError().getMessage())
              : null;
      items.add(new BatchItem(answer(result.getAnswer()), error));
    }
    return items;
  }

  static List<ActionDecision> actionDecisions(
      DecisionServiceOuterClass.ListAllowedActionsResponse response) {
    List<ActionDecision> actions = new ArrayList<>();
    for (var entry : response.getActionsList()) {
      actions.add(new ActionDecision(entry.getAction(), answer(entry.getAnswer())));
    }
    return actions;
  }

  private static DecisionServiceOuterClass.CheckRequest item(Request request) {
    var message = DecisionServiceOuterClass.CheckRequest.newBuilder();
    if (request.subject() != null) message.setSubject(subject(request.subject()));
    if (request.action() != null) message.setAction(action(request.action()));
    if (request.resource() != null) message.setResource(resource(request.resource()));
    if (request.context() != null) message.setContext(struct(request.context(), "context"));
    return message.build();
  }

  private static DecisionServiceOuterClass.Subject subject(Subject subject) {
    return DecisionServiceOuterClass.Subject.newBuilder()
        .setType(subject.type())
        .setId(subject.id())
        .setProperties(struct(subject.properties(), "subject.properties"))
        .build();
  }

  private static DecisionServiceOuterClass.Action action(Action action) {
    return DecisionServiceOuterClass.Action.newBuilder()
        .setName(action.name())
        .setProperties(struct(action.properties(), "action.properties"))
        .build();
  }

  private static DecisionServiceOuterClass.Resource resource(Resource resource) {
    return DecisionServiceOuterClass.Resource.newBuilder()
        .setType(resource.type())
        .setId(resource.id())
        .setProperties(struct(resource.properties(), "resource.properties"))
        .build();
  }

  /** A JSON object as a Struct; a value JSON cannot hold is refused, naming its path. */
  private static Struct struct(Map<String, ?> map, String path) {
    return value(map, path).getStructValue();
  }

  private static Value value(Object value, String path) {
    if (value == null) return Value.newBuilder().setNullValue(NullValue.NULL_VALUE).build();
    if (value instanceof Boolean b) return Value.newBuilder().setBoolValue(b).build();
    if (value instanceof String s) return Value.newBuilder().setStringValue(s).build();
    if (value instanceof Number n) {
      double d = n.doubleValue();
      if (!Double.isFinite(d)) {
        throw new QuanzeException.InvalidRequest(path, "must be a finite number, got " + n, null);
      }
      return Value.newBuilder().setNumberValue(d).build();
    }
    if (value instanceof Map<?, ?> m) {
      Struct.Builder struct = Struct.newBuilder();
      for (Map.Entry<?, ?> entry : m.entrySet()) {
        if (!(entry.getKey() instanceof String key)) {
          throw new QuanzeException.InvalidRequest(
              path, "keys must be strings, got " + entry.getKey(), null);
        }
        struct.putFields(key, value(entry.getValue(), path + "." + key));
      }
      return Value.newBuilder().setStructValue(struct).build();
    }
    if (value instanceof Collection<?> c) {
      ListValue.Builder list = ListValue.newBuilder();
      int i = 0;
      for (Object element : c) {
        list.addValues(value(element, path + "[" + i++ + "]"));
      }
      return Value.newBuilder().setListValue(list).build();
    }
    throw new QuanzeException.InvalidRequest(
        path,
        "must be JSON (null, boolean, number, string, list or map), got "
            + value.getClass().getSimpleName(),
        null);
  }
}
