{{/*
Named templates of the Quanze chart. Those an application's chart uses to add the sidecar to
its own pod are `quanze.sidecar.*`; they read only `.Values` and `.Release`, so the application
passes `(dict "Values" .Values.quanze "Release" .Release)` (see README.md).
*/}}

{{- define "quanze.name" -}}
{{- default "quanze" .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "quanze.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "quanze.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "quanze.selectorLabels" -}}
app.kubernetes.io/name: {{ include "quanze.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "quanze.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "quanze.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | quote }}
app.kubernetes.io/component: {{ .Values.mode }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Paths inside the container: the image's layout (docs/configuration.md, Containerfile). */}}
{{- define "quanze.paths" -}}
config: /etc/quanze/config.yaml
healthScript: /etc/quanze/health.py
socketDir: /run/quanze
cacheDir: /var/cache/quanze
policyCache: /var/cache/quanze/policies
logDir: /var/log/quanze
decisionLogDir: /var/log/quanze/decisions
tls: /etc/quanze/tls
clientCA: /etc/quanze/client-ca
probeTLS: /etc/quanze/probe-tls
git: /etc/quanze/git
policySigners: /etc/quanze/signers/policies
directorySigners: /etc/quanze/signers/directory
directory: /etc/quanze/directory
decisionLogKey: /etc/quanze/decision-log
{{- end -}}

{{/* The addresses each worker listens on: the one socket, or a socket per worker. */}}
{{- define "quanze.listenAddresses" -}}
{{- $p := include "quanze.paths" . | fromYaml -}}
{{- $workers := int .Values.server.workers -}}
{{- if eq .Values.mode "service" -}}
{{- list (printf "127.0.0.1:%d" (int .Values.port)) | toJson -}}
{{- else if eq $workers 1 -}}
{{- list (printf "unix:%s/quanze.sock" $p.socketDir) | toJson -}}
{{- else -}}
{{- $addresses := list -}}
{{- range $i := until $workers -}}
{{- $addresses = append $addresses (printf "unix:%s/quanze-w%d.sock" $p.socketDir $i) -}}
{{- end -}}
{{- $addresses | toJson -}}
{{- end -}}
{{- end -}}

{{/* Sidecar: the gRPC target the application dials (all workers' sockets, round robin). */}}
{{- define "quanze.sidecar.target" -}}
{{- $addresses := include "quanze.listenAddresses" . | fromJsonArray -}}
{{- printf "unix:%s" (join "," $addresses | replace "unix:" "") -}}
{{- end -}}

{{/* Refuse combinations of values that would deploy a sidecar that cannot serve. */}}
{{- define "quanze.validate" -}}
{{- $v := .Values -}}
{{- if and (eq $v.mode "sidecar") $v.server.restrictStatus -}}
{{- fail "server.restrictStatus: a sidecar on a Unix socket has no client certificates, so GetStatus would answer nobody; leave it false" -}}
{{- end -}}
{{- if eq $v.mode "service" -}}
{{- if $v.tls.enabled -}}
{{- if and (not $v.tls.secretName) (not $v.tls.certManager.enabled) -}}
{{- fail "tls: give tls.secretName (a Secret with tls.crt, tls.key and ca.crt) or set tls.certManager.enabled with tls.certManager.issuerRef" -}}
{{- end -}}
{{- if and $v.tls.secretName $v.tls.certManager.enabled -}}
{{- fail "tls: tls.secretName and tls.certManager.enabled are two sources of the same certificate; choose one" -}}
{{- end -}}
{{- if and $v.tls.certManager.enabled (not $v.tls.certManager.issuerRef.name) -}}
{{- fail "tls.certManager.issuerRef.name: name the cert-manager Issuer or ClusterIssuer that signs the certificate" -}}
{{- end -}}
{{- if and $v.tls.allowedCallers (not $v.tls.requireClientCert) -}}
{{- fail "tls.allowedCallers: needs tls.requireClientCert: true (without a client certificate no caller has an identity to allow)" -}}
{{- end -}}
{{- else if not $v.server.allowInsecureRemote -}}
{{- fail "tls.enabled: false serves plaintext on the pod's address, which Quanze refuses; set server.allowInsecureRemote: true only if a mesh in front encrypts and authenticates callers" -}}
{{- end -}}
{{- $needed := add (int $v.server.shutdownDelaySeconds) (int $v.server.shutdownGraceSeconds) 1 -}}
{{- if lt (int $v.terminationGracePeriodSeconds) $needed -}}
{{- fail (printf "terminationGracePeriodSeconds: %d is less than server.shutdownDelaySeconds + server.shutdownGraceSeconds + 1 = %d; Kubernetes would kill calls in flight" (int $v.terminationGracePeriodSeconds) $needed) -}}
{{- end -}}
{{- if $v.decisionLog.ship.databaseUrl -}}
{{- $neededToShip := add $needed (int $v.decisionLog.ship.drainSeconds) -}}
{{- if lt (int $v.terminationGracePeriodSeconds) $neededToShip -}}
{{- fail (printf "terminationGracePeriodSeconds: %d is less than server.shutdownDelaySeconds + server.shutdownGraceSeconds + decisionLog.ship.drainSeconds + 1 = %d; the last records would be lost with the pod" (int $v.terminationGracePeriodSeconds) $neededToShip) -}}
{{- end -}}
{{- end -}}
{{- if and (eq $v.decisionLog.volume.type "persistentVolumeClaim") (or $v.autoscaling.enabled (gt (int $v.replicaCount) 1)) -}}
{{- fail "decisionLog.volume: one persistentVolumeClaim cannot hold the logs of several replicas (their streams would collide); use replicaCount: 1 or an emptyDir and ship the files" -}}
{{- end -}}
{{- end -}}
{{- $ship := $v.decisionLog.ship -}}
{{- if $ship.databaseUrl -}}
{{- if not $v.decisionLog.enabled -}}
{{- fail "decisionLog.ship.databaseUrl: shipping needs a decision log; set decisionLog.enabled: true or empty the URL" -}}
{{- end -}}
{{- if regexMatch "^[a-z]+://[^/@]*:[^/@]*@" $ship.databaseUrl -}}
{{- fail "decisionLog.ship.databaseUrl: holds a password, which would sit readable in a ConfigMap; remove it and name a Secret in decisionLog.ship.password.secretName" -}}
{{- end -}}
{{- else if $ship.password.secretName -}}
{{- fail "decisionLog.ship.password.secretName: there is no decisionLog.ship.databaseUrl to use it for" -}}
{{- end -}}
{{- if and (eq $v.decisionLog.volume.type "persistentVolumeClaim") (not $v.decisionLog.volume.claimName) -}}
{{- fail "decisionLog.volume.claimName: name the PersistentVolumeClaim that holds the decision logs" -}}
{{- end -}}
{{- if and (eq $v.directory.source "git") (not $v.directory.git.url) -}}
{{- fail "directory.git.url: directory.source is git; give the directory's repository" -}}
{{- end -}}
{{- if and (eq $v.directory.source "configMap") (not $v.directory.configMap.name) (not $v.directory.configMap.json) -}}
{{- fail "directory.configMap: give the name of a ConfigMap holding the directory, or the directory itself in directory.configMap.json" -}}
{{- end -}}
{{- if and $v.policies.requireSignedCommits (not $v.policies.allowedSigners.secretName) -}}
{{- fail "policies.allowedSigners.secretName: policies.requireSignedCommits needs the allowed signers" -}}
{{- end -}}
{{- if and $v.directory.requireSignedCommits (not $v.directory.allowedSigners.secretName) -}}
{{- fail "directory.allowedSigners.secretName: directory.requireSignedCommits needs the allowed signers" -}}
{{- end -}}
{{- end -}}

{{/* config.yaml: the values as Quanze's settings, over `extraConfig`. */}}
{{- define "quanze.config" -}}
{{- $v := .Values -}}
{{- $p := include "quanze.paths" . | fromYaml -}}
{{- $server := dict "workers" $v.server.workers "max_concurrent_calls" $v.server.maxConcurrentCalls "max_request_bytes" $v.server.maxRequestBytes "max_batch_items" $v.server.maxBatchItems "shutdown_delay_seconds" $v.server.shutdownDelaySeconds "shutdown_grace_seconds" $v.server.shutdownGraceSeconds -}}
{{- if eq $v.mode "sidecar" -}}
{{- $_ := set $server "address" (printf "unix:%s/quanze.sock" $p.socketDir) -}}
{{- $_ := set $server "socket_mode" $v.server.socketMode -}}
{{- $_ := set $server "socket_group" $v.server.socketGroup -}}
{{- else -}}
{{- $_ := set $server "address" (printf "0.0.0.0:%d" (int $v.port)) -}}
{{- $_ := set $server "restrict_status" $v.server.restrictStatus -}}
{{- if $v.tls.enabled -}}
{{- $tls := dict "cert" (printf "%s/tls.crt" $p.tls) "key" (printf "%s/tls.key" $p.tls) -}}
{{- if $v.tls.requireClientCert -}}
{{- $_ := set $tls "require_client_cert" true -}}
{{- $_ := set $tls "client_ca" (ternary (printf "%s/%s" $p.clientCA $v.tls.clientCA.key) (printf "%s/ca.crt" $p.tls) (ne $v.tls.clientCA.secretName "")) -}}
{{- if $v.tls.allowedCallers -}}
{{- $_ := set $tls "allowed_callers" $v.tls.allowedCallers -}}
{{- end -}}
{{- end -}}
{{- $_ := set $server "tls" $tls -}}
{{- else -}}
{{- $_ := set $server "allow_insecure_remote" true -}}
{{- end -}}
{{- end -}}
{{- $policies := dict "poll_interval_seconds" $v.policies.pollIntervalSeconds "git_timeout_seconds" $v.policies.gitTimeoutSeconds "require_tests_pass" $v.policies.requireTestsPass "cache_dir" $p.policyCache -}}
{{- if $v.policies.git.url -}}
{{- $_ := set $policies "path" $v.policies.git.url -}}
{{- $_ := set $policies "branch" $v.policies.git.branch -}}
{{- $_ := set $policies "subdir" $v.policies.git.subdir -}}
{{- if $v.policies.requireSignedCommits -}}
{{- $_ := set $policies "require_signed_commits" true -}}
{{- $_ := set $policies "allowed_signers_file" (printf "%s/%s" $p.policySigners $v.policies.allowedSigners.key) -}}
{{- end -}}
{{- end -}}
{{- $config := dict "server" $server "policies" $policies "log" (dict "level" $v.log.level) -}}
{{- if eq $v.directory.source "configMap" -}}
{{- $_ := set $config "directory" (dict "path" (printf "%s/%s" $p.directory $v.directory.configMap.key) "poll_interval_seconds" $v.directory.pollIntervalSeconds) -}}
{{- else if eq $v.directory.source "git" -}}
{{- $directory := dict "path" $v.directory.git.url "branch" $v.directory.git.branch "subdir" $v.directory.git.subdir "poll_interval_seconds" $v.directory.pollIntervalSeconds -}}
{{- if $v.directory.requireSignedCommits -}}
{{- $_ := set $directory "require_signed_commits" true -}}
{{- $_ := set $directory "allowed_signers_file" (printf "%s/%s" $p.directorySigners $v.directory.allowedSigners.key) -}}
{{- end -}}
{{- $_ := set $config "directory" $directory -}}
{{- end -}}
{{- if $v.decisionLog.enabled -}}
{{- $log := dict "directory" $p.decisionLogDir "mode" $v.decisionLog.mode "fsync" $v.decisionLog.fsync "file_mode" $v.decisionLog.fileMode -}}
{{- if $v.decisionLog.signingKey.secretName -}}
{{- $_ := set $log "signing_key_file" (printf "%s/%s" $p.decisionLogKey $v.decisionLog.signingKey.key) -}}
{{- end -}}
{{- if $v.decisionLog.ship.databaseUrl -}}
{{- $_ := set $log "ship" (dict "database_url" $v.decisionLog.ship.databaseUrl "drain_seconds" (int $v.decisionLog.ship.drainSeconds)) -}}
{{- end -}}
{{- $_ := set $config "decision_log" $log -}}
{{- end -}}
{{- if $v.metrics.enabled -}}
{{- $_ := set $config "metrics" (dict "address" (printf "0.0.0.0:%d" (int $v.metrics.port))) -}}
{{- end -}}
{{- if $v.tracing.endpoint -}}
{{- $_ := set $config "tracing" (dict "endpoint" $v.tracing.endpoint "sample_ratio" $v.tracing.sampleRatio "service_name" $v.tracing.serviceName) -}}
{{- end -}}
{{- mergeOverwrite (deepCopy $v.extraConfig) $config | toYaml -}}
{{- end -}}

{{/*
The health probe (health.py in the ConfigMap): the standard grpc.health.v1 Check, run by the
image's Python with the grpcio it already has (0.2 s of CPU a run; `quanze status` costs 0.9 s), against every worker's
socket, or over TLS against the service's port. Kubernetes' own grpc probes cannot reach a Unix
socket nor speak TLS.
*/}}
{{- define "quanze.healthScript" -}}
import sys, grpc
from grpc_health.v1 import health_pb2 as h, health_pb2_grpc as g
args = sys.argv[1:]
timeout = float(args.pop(0))
credentials, options = None, []
if args[0] == "--tls":
    read = lambda path: open(path, "rb").read()
    _, ca, cert, key, name, *args = args
    credentials = grpc.ssl_channel_credentials(read(ca), read(key), read(cert))
    options = [("grpc.ssl_target_name_override", name)]
for target in args:
    channel = grpc.secure_channel(target, credentials, options) if credentials else grpc.insecure_channel(target)
    try:
        status = g.HealthStub(channel).Check(h.HealthCheckRequest(), timeout=timeout).status
    except grpc.RpcError as exc:
        sys.exit(f"{target}: {exc.code().name}: {exc.details()}")
    finally:
        channel.close()
    if status != h.HealthCheckResponse.SERVING:
        sys.exit(f"{target}: {h.HealthCheckResponse.ServingStatus.Name(status)}")
{{- end -}}

{{/* The probe's action: exec of the health script, or Kubernetes' grpc probe (plaintext). */}}
{{- define "quanze.probeAction" -}}
{{- $v := .Values -}}
{{- $p := include "quanze.paths" . | fromYaml -}}
{{- if and (eq $v.mode "service") (not $v.tls.enabled) -}}
grpc:
  port: {{ int $v.port }}
{{- else -}}
{{- $command := list (printf "%s/python" $v.image.binDir) $p.healthScript (toString (max 1 (sub (int $v.probes.timeoutSeconds) 1))) -}}
{{- if eq $v.mode "service" -}}
{{- $client := ternary $p.probeTLS $p.tls (ne $v.probes.tlsSecretName "") -}}
{{- $command = concat $command (list "--tls" (printf "%s/ca.crt" $p.tls) (printf "%s/tls.crt" $client) (printf "%s/tls.key" $client) (printf "%s.%s.svc" (include "quanze.fullname" .) .Release.Namespace)) -}}
{{- end -}}
exec:
  command: {{ concat $command (include "quanze.listenAddresses" . | fromJsonArray) | toJson }}
{{- end -}}
{{- end -}}

{{- define "quanze.probes" -}}
{{- $v := .Values -}}
{{- $action := include "quanze.probeAction" . -}}
startupProbe:
  {{- $action | nindent 2 }}
  timeoutSeconds: {{ int $v.probes.timeoutSeconds }}
  periodSeconds: {{ int $v.probes.startupPeriodSeconds }}
  failureThreshold: {{ int $v.probes.startupFailureThreshold }}
livenessProbe:
  {{- $action | nindent 2 }}
  timeoutSeconds: {{ int $v.probes.timeoutSeconds }}
  periodSeconds: {{ int $v.probes.periodSeconds }}
  failureThreshold: {{ int $v.probes.livenessFailureThreshold }}
readinessProbe:
  {{- $action | nindent 2 }}
  timeoutSeconds: {{ int $v.probes.timeoutSeconds }}
  periodSeconds: {{ int $v.probes.periodSeconds }}
  failureThreshold: {{ int $v.probes.readinessFailureThreshold }}
{{- end -}}

{{/* Environment: git's home and credentials. The root filesystem is read-only: HOME is /tmp. */}}
{{- define "quanze.env" -}}
{{- $v := .Values -}}
{{- $p := include "quanze.paths" . | fromYaml -}}
- name: HOME
  value: /tmp
{{- if and $v.decisionLog.ship.databaseUrl $v.decisionLog.ship.password.secretName }}
- name: PGPASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $v.decisionLog.ship.password.secretName }}
      key: {{ $v.decisionLog.ship.password.key }}
{{- end }}
{{- if $v.git.credentials.secretName }}
{{- if eq $v.git.credentials.type "ssh" }}
- name: GIT_SSH_COMMAND
  value: {{ printf "ssh -i %s/ssh-privatekey -o IdentitiesOnly=yes -o UserKnownHostsFile=%s/known_hosts -o StrictHostKeyChecking=yes -o BatchMode=yes" $p.git $p.git | quote }}
{{- else }}
- name: GIT_CONFIG_COUNT
  value: "1"
- name: GIT_CONFIG_KEY_0
  value: credential.helper
- name: GIT_CONFIG_VALUE_0
  value: {{ printf "!f() { test \"$1\" = get || exit 0; echo username=%s; printf 'password=%%s\\n' \"$(cat %s/token)\"; }; f" $v.git.credentials.username $p.git | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "quanze.volumeMounts" -}}
{{- $v := .Values -}}
{{- $p := include "quanze.paths" . | fromYaml -}}
- name: quanze-config
  mountPath: {{ $p.config }}
  subPath: config.yaml
  readOnly: true
- name: quanze-config
  mountPath: {{ $p.healthScript }}
  subPath: health.py
  readOnly: true
- name: quanze-cache
  mountPath: {{ $p.cacheDir }}
- name: quanze-tmp
  mountPath: /tmp
{{- if eq $v.mode "sidecar" }}
- name: quanze-socket
  mountPath: {{ $p.socketDir }}
{{- end }}
{{- if $v.decisionLog.enabled }}
- name: quanze-logs
  mountPath: {{ $p.logDir }}
{{- if $v.decisionLog.signingKey.secretName }}
- name: quanze-decision-log-key
  mountPath: {{ $p.decisionLogKey }}
  readOnly: true
{{- end }}
{{- end }}
{{- if and (eq $v.mode "service") $v.tls.enabled }}
- name: quanze-tls
  mountPath: {{ $p.tls }}
  readOnly: true
{{- if $v.tls.clientCA.secretName }}
- name: quanze-client-ca
  mountPath: {{ $p.clientCA }}
  readOnly: true
{{- end }}
{{- if $v.probes.tlsSecretName }}
- name: quanze-probe-tls
  mountPath: {{ $p.probeTLS }}
  readOnly: true
{{- end }}
{{- end }}
{{- if $v.git.credentials.secretName }}
- name: quanze-git
  mountPath: {{ $p.git }}
  readOnly: true
{{- end }}
{{- if and $v.policies.git.url $v.policies.requireSignedCommits }}
- name: quanze-policy-signers
  mountPath: {{ $p.policySigners }}
  readOnly: true
{{- end }}
{{- if and (eq $v.directory.source "git") $v.directory.requireSignedCommits }}
- name: quanze-directory-signers
  mountPath: {{ $p.directorySigners }}
  readOnly: true
{{- end }}
{{- if eq $v.directory.source "configMap" }}
- name: quanze-directory
  mountPath: {{ $p.directory }}
  readOnly: true
{{- end }}
{{- end -}}

{{/*
The volumes. Secrets are mode 0440: readable by the pod's fsGroup (10001), which Quanze runs
in. The cache is an in-memory emptyDir: Quanze refuses a cache under a folder others can write
unless it is sticky, and a disk emptyDir is 0777 without the sticky bit, a tmpfs 1777 with it.
The directory is mounted as its one file (`items`): a ConfigMap volume is a farm of symbolic
links, which Quanze refuses in a folder of directory files but follows to a single file.
*/}}
{{- define "quanze.volumes" -}}
{{- $v := .Values -}}
{{- $fullname := include "quanze.fullname" . -}}
- name: quanze-config
  configMap:
    name: {{ $fullname }}
    items:
      - key: config.yaml
        path: config.yaml
      - key: health.py
        path: health.py
- name: quanze-cache
  emptyDir:
    medium: Memory
    sizeLimit: {{ $v.policies.cacheSizeLimit }}
- name: quanze-tmp
  emptyDir:
    sizeLimit: 64Mi
{{- if eq $v.mode "sidecar" }}
- name: quanze-socket
  emptyDir:
    sizeLimit: 1Mi
{{- end }}
{{- if $v.decisionLog.enabled }}
{{- if eq $v.decisionLog.volume.type "persistentVolumeClaim" }}
- name: quanze-logs
  persistentVolumeClaim:
    claimName: {{ $v.decisionLog.volume.claimName }}
{{- else }}
- name: quanze-logs
  emptyDir:
    sizeLimit: {{ $v.decisionLog.volume.sizeLimit }}
{{- end }}
{{- if $v.decisionLog.signingKey.secretName }}
- name: quanze-decision-log-key
  secret:
    secretName: {{ $v.decisionLog.signingKey.secretName }}
    defaultMode: 0440
    items:
      - key: {{ $v.decisionLog.signingKey.key }}
        path: {{ $v.decisionLog.signingKey.key }}
{{- end }}
{{- end }}
{{- if and (eq $v.mode "service") $v.tls.enabled }}
- name: quanze-tls
  secret:
    secretName: {{ default (printf "%s-tls" $fullname) $v.tls.secretName }}
    defaultMode: 0440
    items:
      - key: tls.crt
        path: tls.crt
      - key: tls.key
        path: tls.key
      - key: ca.crt
        path: ca.crt
{{- if $v.tls.clientCA.secretName }}
- name: quanze-client-ca
  secret:
    secretName: {{ $v.tls.clientCA.secretName }}
    defaultMode: 0440
    items:
      - key: {{ $v.tls.clientCA.key }}
        path: {{ $v.tls.clientCA.key }}
{{- end }}
{{- if $v.probes.tlsSecretName }}
- name: quanze-probe-tls
  secret:
    secretName: {{ $v.probes.tlsSecretName }}
    defaultMode: 0440
    items:
      - key: tls.crt
        path: tls.crt
      - key: tls.key
        path: tls.key
{{- end }}
{{- end }}
{{- if $v.git.credentials.secretName }}
- name: quanze-git
  secret:
    secretName: {{ $v.git.credentials.secretName }}
    defaultMode: 0440
    items:
{{- if eq $v.git.credentials.type "ssh" }}
      - key: ssh-privatekey
        path: ssh-privatekey
      - key: known_hosts
        path: known_hosts
{{- else }}
      - key: token
        path: token
{{- end }}
{{- end }}
{{- if and $v.policies.git.url $v.policies.requireSignedCommits }}
- name: quanze-policy-signers
  secret:
    secretName: {{ $v.policies.allowedSigners.secretName }}
    defaultMode: 0440
    items:
      - key: {{ $v.policies.allowedSigners.key }}
        path: {{ $v.policies.allowedSigners.key }}
{{- end }}
{{- if and (eq $v.directory.source "git") $v.directory.requireSignedCommits }}
- name: quanze-directory-signers
  secret:
    secretName: {{ $v.directory.allowedSigners.secretName }}
    defaultMode: 0440
    items:
      - key: {{ $v.directory.allowedSigners.key }}
        path: {{ $v.directory.allowedSigners.key }}
{{- end }}
{{- if eq $v.directory.source "configMap" }}
- name: quanze-directory
  configMap:
    name: {{ default (printf "%s-directory" $fullname) $v.directory.configMap.name }}
    items:
      - key: {{ $v.directory.configMap.key }}
        path: {{ $v.directory.configMap.key }}
{{- end }}
{{- end -}}

{{/* The Quanze container, for both shapes. */}}
{{- define "quanze.container" -}}
{{- $v := .Values -}}
{{- $p := include "quanze.paths" . | fromYaml -}}
name: quanze
image: {{ printf "%s:%s" $v.image.repository $v.image.tag | quote }}
imagePullPolicy: {{ $v.image.pullPolicy }}
command: {{ list (printf "%s/quanze" $v.image.binDir) "serve" "--config" $p.config | toJson }}
env:
  {{- include "quanze.env" . | nindent 2 }}
{{- if or (eq $v.mode "service") $v.metrics.enabled }}
ports:
{{- if eq $v.mode "service" }}
  - name: grpc
    containerPort: {{ int $v.port }}
    protocol: TCP
{{- end }}
{{- if $v.metrics.enabled }}
  - name: metrics
    containerPort: {{ int $v.metrics.port }}
    protocol: TCP
{{- end }}
{{- end }}
{{ include "quanze.probes" . }}
resources:
  {{- toYaml $v.resources | nindent 2 }}
securityContext:
  {{- toYaml $v.securityContext | nindent 2 }}
volumeMounts:
  {{- include "quanze.volumeMounts" . | nindent 2 }}
{{- end -}}

{{/* Sidecar: the container, one item of the application pod's `containers`. */}}
{{- define "quanze.sidecar.container" -}}
- {{ include "quanze.container" . | nindent 2 | trim }}
{{- end -}}

{{/* Sidecar: the volumes Quanze needs, items of the application pod's `volumes`. */}}
{{- define "quanze.sidecar.volumes" -}}
{{ include "quanze.volumes" . }}
{{- end -}}

{{/* Sidecar: the mount of the socket's folder, an item of the application container's `volumeMounts`. */}}
{{- define "quanze.sidecar.socketVolumeMount" -}}
- name: quanze-socket
  mountPath: {{ (include "quanze.paths" . | fromYaml).socketDir }}
{{- end -}}

{{/* The SHA-256 of config.yaml as the ConfigMap holds it, for a pod annotation that rolls the pods when it changes. */}}
{{- define "quanze.configChecksum" -}}
{{- printf "%s\n" (include "quanze.config" .) | sha256sum -}}
{{- end -}}

{{- define "quanze.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "quanze.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}
