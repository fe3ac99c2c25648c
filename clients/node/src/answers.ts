/**
 * Answers as the decision contract spells them (snake_case), and the fail-closed deny.
 *
 * `decision` is always a boolean, true only when the policy allowed: anything the sidecar sent
 * that is not exactly true reads as false.
 */

export const SIDECAR_UNAVAILABLE = "sidecar_unavailable";
const UNAVAILABLE_ZH = "授权服务不可用，按拒绝处理";
const UNAVAILABLE_EN = "The authorization sidecar could not be reached, so the request is denied";

/** Why a request was denied, or the provision that grants it; cites the Opinion. */
export interface Reason {
  code: string;
  /** The article as the Opinion writes it ("十七"); "" for reasons of the sidecar or client. */
  article: string;
  /** The numbered item inside the article; 0 when none. */
  item: number;
  message_zh: string;
  message_en: string;
}

/** Something the actor must do when acting (record dissent, sign minutes, ...). */
export type Obligation = Reason;

/** Who answers for the decision if it is taken (inventory §5). */
export interface Accountable {
  /** The person, or "" when only the capacity is known. */
  subject_id: string;
  /** The role id of the capacity in which they answer. */
  capacity: string;
  /** "judicial" or "supervisory". */
  responsibility: string;
  article: string;
}

/** The sidecar's answer to one request: the contract's answer JSON. */
export interface Answer {
  decision_id: string;
  /** True only when the policy allows. */
  decision: boolean;
  /** Never empty from the sidecar: why denied, or the provision that grants. */
  reasons: Reason[];
  obligations: Obligation[];
  /** "", "chief" or "committee". */
  escalate_to: string;
  accountable: Accountable[];
  policy_revision: string;
}

/** Why one batch item was not evaluated (data, not an exception): `field` names the path. */
export interface ItemError {
  field: string;
  message: string;
}

/** The answer to one batch item; `error` is set (and the answer a deny) when it was invalid. */
export interface BatchItem {
  answer: Answer;
  error?: ItemError;
}

/** The answer Check would give for one action of the catalog. */
export interface ActionDecision {
  action: string;
  answer: Answer;
}

/** A locally made deny with one reason and no decision id or policy revision. */
export function denyAnswer(code: string, messageZh: string, messageEn: string): Answer {
  return {
    decision_id: "",
    decision: false,
    reasons: [{ code, article: "", item: 0, message_zh: messageZh, message_en: messageEn }],
    obligations: [],
    escalate_to: "",
    accountable: [],
    policy_revision: "",
  };
}

/** The deny `checkOrDeny` gives when the sidecar cannot answer. */
export function sidecarUnavailable(): Answer {
  return denyAnswer(SIDECAR_UNAVAILABLE, UNAVAILABLE_ZH, UNAVAILABLE_EN);
}
