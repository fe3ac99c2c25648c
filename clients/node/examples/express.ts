/**
 * An Express application that asks Quanze before each action.
 *
 *   npm run build && QUANZE_TARGET=127.0.0.1:8600 node dist/examples/express.js
 *   curl -X POST -H 'X-User: asst-A1' localhost:3000/cases/C-1001/interrogations
 *
 * `authorize(action)` is the middleware: it builds the contract request from the caller and the
 * case, asks with `checkOrDeny` (so a sidecar that is down reads as a deny, never an allow) and
 * answers 403 with the reasons in Chinese, or lets the route run with the answer in
 * `res.locals.quanze` (its obligations are the route's to honour).
 */

import express, { type NextFunction, type Request, type Response } from "express";

import { type Answer, Client, type CheckRequest, InvalidRequestError } from "../src";

// Stand-ins for the application's own user directory and case store.
const USERS: Record<string, CheckRequest["subject"]> = {
  "asst-A1": {
    id: "asst-A1",
    properties: { role: "procurator_assistant", procuratorate: "PROC-CITY-A", department: "DEPT-CRIM-1" },
  },
};
const CASES: Record<string, CheckRequest["resource"]> = {
  "C-1001": {
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
  },
};

/** Middleware: may the caller take `action` on the case in the URL? */
export function authorize(quanze: Client, action: string) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const subject = USERS[req.get("X-User") ?? ""];
    const resource = CASES[String(req.params.caseId)];
    if (!subject || !resource) {
      res.status(404).json({ error: "unknown user or case" });
      return;
    }
    const guidedBy = req.get("X-Supervising-Procurator");
    const request: CheckRequest = {
      subject,
      action: { name: action },
      resource,
      context: guidedBy ? { supervising_procurator: guidedBy } : {},
    };
    let answer: Answer;
    try {
      answer = await quanze.checkOrDeny(request);
    } catch (error) {
      // Only a malformed request gets here: the application's bug, reported, never allowed.
      const field = error instanceof InvalidRequestError ? error.field : "";
      res.status(500).json({ error: String(error), field });
      return;
    }
    if (!answer.decision) {
      res.status(403).json({
        decision_id: answer.decision_id,
        reasons: answer.reasons.map((reason) => reason.message_zh),
      });
      return;
    }
    res.locals.quanze = answer;
    next();
  };
}

export function application(quanze: Client): express.Express {
  const app = express();
  app.post(
    "/cases/:caseId/interrogations",
    authorize(quanze, "case.interrogate_suspect"),
    (_req: Request, res: Response) => {
      const answer = res.locals.quanze as Answer;
      res.status(201).json({
        interrogation: "scheduled",
        obligations: answer.obligations.map((obligation) => obligation.message_zh),
      });
    },
  );
  return app;
}

if (require.main === module) {
  const quanze = new Client(process.env.QUANZE_TARGET ?? "127.0.0.1:8600", { timeoutMs: 500 });
  const server = application(quanze).listen(Number(process.env.PORT ?? 3000), () =>
    console.log(`listening on ${JSON.stringify(server.address())}`),
  );
  process.on("SIGTERM", () => server.close(() => quanze.close()));
}
