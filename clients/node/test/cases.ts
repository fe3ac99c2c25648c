/** The contract's worked example (contract.md) and its neighbours, as in the Python client's tests. */

import type { CheckRequest, Resource, Subject } from "../src";

export const assistant: Subject = {
  type: "user",
  id: "asst-A1",
  properties: {
    role: "procurator_assistant",
    roles: ["procurator_assistant"],
    procuratorate: "PROC-CITY-A",
    department: "DEPT-CRIM-1",
    senior_stage: false,
  },
};

export const clerk: Subject = {
  id: "clerk-A1",
  properties: {
    role: "clerk",
    roles: ["clerk"],
    procuratorate: "PROC-CITY-A",
    department: "DEPT-CRIM-1",
  },
};

export const criminalCase: Resource = {
  type: "case",
  id: "C-1001",
  properties: {
    procuratorate: "PROC-CITY-A",
    department: "DEPT-CRIM-1",
    domain: "criminal",
    handling_mode: "sole",
    sole_procurator: "p-A1",
    within_power_list: true,
  },
};

export const guidance = { supervising_procurator: "p-A1" };

/** The assistant interrogating the suspect under the handling procurator: allowed by 十七. */
export const guided: CheckRequest = {
  subject: assistant,
  action: { name: "case.interrogate_suspect" },
  resource: criminalCase,
  context: guidance,
};

/** The same without guidance: denied (assistant_requires_guidance, 十七). */
export const unguided: CheckRequest = { ...guided, context: {} };
