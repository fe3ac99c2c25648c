#!/usr/bin/env sh
# The AuthZEN 1.0 evaluation API with curl: may assistant asst-A1 interrogate the suspect of case
# C-1001 without naming the procurator who guides them? A plain AuthZEN client reads "decision";
# Quanze's reasons (with the article, in Chinese and English) are in "context".
#
#   quanze serve --set http.address=127.0.0.1:8700 &
#   sh examples/authzen/evaluation.sh [http://127.0.0.1:8700]
set -eu
PDP="${1:-http://127.0.0.1:8700}"
curl -sS --fail-with-body "$PDP/access/v1/evaluation" \
  -H 'Content-Type: application/json' -H 'X-Request-ID: example-1' \
  -d @- <<'JSON'
{"subject":  {"type": "user", "id": "asst-A1",
              "properties": {"role": "procurator_assistant", "roles": ["procurator_assistant"],
                             "procuratorate": "PROC-CITY-A", "department": "DEPT-CRIM-1",
                             "senior_stage": false}},
 "action":   {"name": "case.interrogate_suspect"},
 "resource": {"type": "case", "id": "C-1001",
              "properties": {"procuratorate": "PROC-CITY-A", "department": "DEPT-CRIM-1",
                             "domain": "criminal", "handling_mode": "sole",
                             "sole_procurator": "p-A1", "within_power_list": true}},
 "context":  {}}
JSON
echo
