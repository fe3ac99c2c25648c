// helm-render renders a Helm 3 chart as `helm template` does, where no helm binary can be had.
//
//	helm-render [-f values.yaml]... [--release-name NAME] [--namespace NS]
//	            [--kube-version 1.30.0] [-a API_VERSION]... [--values-out FILE]
//	            [--notes-out FILE] [--strict] CHART_DIR
//
// It prints the manifests as `helm template` does ("---" and "# Source: ..." before each, in
// Helm's install order by kind). --values-out writes the values the templates saw (user values
// coalesced with the charts'), as JSON, for a JSON-schema check of values.schema.json, which
// this program does not do itself. What it reproduces of Helm and what it does not is listed in
// helm/quanze/README.md.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/Masterminds/semver"
	"sigs.k8s.io/yaml"
)

// The API versions a Kubernetes 1.30 cluster serves (built-in groups), which Helm's
// `helm template` takes from client-go's scheme; -a adds more (e.g. cert-manager.io/v1).
var defaultAPIVersions = []string{
	"v1", "admissionregistration.k8s.io/v1", "apiextensions.k8s.io/v1", "apps/v1",
	"authentication.k8s.io/v1", "authorization.k8s.io/v1", "autoscaling/v1", "autoscaling/v2",
	"batch/v1", "certificates.k8s.io/v1", "coordination.k8s.io/v1", "discovery.k8s.io/v1",
	"events.k8s.io/v1", "flowcontrol.apiserver.k8s.io/v1", "networking.k8s.io/v1", "node.k8s.io/v1",
	"policy/v1", "rbac.authorization.k8s.io/v1", "scheduling.k8s.io/v1", "storage.k8s.io/v1",
}

// The kinds in the order Helm installs them (pkg/releaseutil InstallOrder); others go last.
var installOrder = []string{
	"PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange",
	"PodSecurityPolicy", "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList",
	"ConfigMap", "StorageClass", "PersistentVolume", "PersistentVolumeClaim",
	"CustomResourceDefinition", "ClusterRole", "ClusterRoleList", "ClusterRoleBinding",
	"ClusterRoleBindingList", "Role", "RoleList", "RoleBinding", "RoleBindingList", "Service",
	"DaemonSet", "Pod", "ReplicationController", "ReplicaSet", "Deployment",
	"HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress",
	"APIService",
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	var valueFiles, apiVersions multi
	releaseName := flag.String("release-name", "release-name", "the release's name (.Release.Name)")
	namespace := flag.String("namespace", "default", "the release's namespace (.Release.Namespace)")
	kubeVersion := flag.String("kube-version", "1.30.0", "the Kubernetes version (.Capabilities.KubeVersion)")
	valuesOut := flag.String("values-out", "", "write the coalesced values as JSON to this file")
	notesOut := flag.String("notes-out", "", "write the rendered NOTES.txt to this file")
	strict := flag.Bool("strict", false, "fail on a reference to a missing value (helm lint --strict)")
	flag.Var(&valueFiles, "f", "a values file (repeatable; later files win)")
	flag.Var(&valueFiles, "values", "same as -f")
	flag.Var(&apiVersions, "a", "an API version the cluster serves, beside Kubernetes' own (repeatable)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: helm-render [flags] CHART_DIR")
		os.Exit(2)
	}
	out, notes, values, err := run(flag.Arg(0), valueFiles, *releaseName, *namespace, *kubeVersion, apiVersions, *strict)
	if err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		os.Exit(1)
	}
	if *valuesOut != "" {
		data, err := json.MarshalIndent(values, "", "  ")
		if err == nil {
			err = os.WriteFile(*valuesOut, data, 0o644)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "Error: %v\n", err)
			os.Exit(1)
		}
	}
	if *notesOut != "" {
		if err := os.WriteFile(*notesOut, []byte(notes), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "Error: %v\n", err)
			os.Exit(1)
		}
	}
	fmt.Print(out)
}

func run(dir string, valueFiles []string, releaseName, namespace, kubeVersion string, apiVersions []string, strict bool) (string, string, map[string]interface{}, error) {
	chart, err := loadDir(dir)
	if err != nil {
		return "", "", nil, err
	}
	user, err := readValueFiles(valueFiles)
	if err != nil {
		return "", "", nil, err
	}
	kube, err := semver.NewVersion(kubeVersion)
	if err != nil {
		return "", "", nil, fmt.Errorf("--kube-version %q: %v", kubeVersion, err)
	}
	if constraint := chart.Metadata.KubeVersion; constraint != "" {
		c, err := semver.NewConstraint(constraint)
		if err != nil || !c.Check(kube) {
			return "", "", nil, fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes v%s", constraint, kube)
		}
	}
	// Helm processes dependencies on the user's values merged over the chart's (conditions).
	if err := processDependencies(chart, mergeMaps(deepCopy(chart.Values), user)); err != nil {
		return "", "", nil, err
	}
	values, err := coalesceValues(chart, user)
	if err != nil {
		return "", "", nil, err
	}
	top := map[string]interface{}{
		"Values": values,
		"Release": map[string]interface{}{
			"Name": releaseName, "Namespace": namespace, "IsUpgrade": false, "IsInstall": true,
			"Revision": 1, "Service": "Helm",
		},
		"Capabilities": map[string]interface{}{
			"KubeVersion": map[string]interface{}{
				"Version": "v" + kube.String(), "GitVersion": "v" + kube.String(),
				"Major": fmt.Sprint(kube.Major()), "Minor": fmt.Sprint(kube.Minor()),
			},
			"APIVersions": versionSet(append(append([]string{}, defaultAPIVersions...), apiVersions...)),
			"HelmVersion": map[string]interface{}{"Version": "v3.21.4", "GoVersion": "helm-render"},
		},
	}
	tpls := map[string]renderable{}
	allTemplates(chart, top, tpls)
	rendered, err := render(tpls, strict)
	if err != nil {
		return "", "", nil, err
	}
	notes := ""
	for name, text := range rendered {
		if strings.HasSuffix(name, notesFileName) {
			if name == path.Join(chart.Name(), "templates", notesFileName) {
				notes = text
			}
			delete(rendered, name)
		}
	}
	manifests, hooks, err := sortManifests(rendered)
	if err != nil {
		return "", "", nil, err
	}
	var b strings.Builder
	for _, m := range append(manifests, hooks...) {
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", m.source, m.content)
	}
	return b.String(), notes, values, nil
}

// versionSet is .Capabilities.APIVersions, with Helm's Has method.
type versionSet []string

func (v versionSet) Has(apiVersion string) bool {
	for _, x := range v {
		if x == apiVersion {
			return true
		}
	}
	return false
}

type manifest struct {
	source, content, kind string
}

var separator = regexp.MustCompile(`(?:^|\s*\n)---\s*`)

// sortManifests splits each rendered file into its YAML documents and orders them as Helm
// does: files by name, documents in file order, then stably by kind in install order. Hooks
// (helm.sh/hook) are set apart and printed after, as `helm template` prints them.
func sortManifests(rendered map[string]string) ([]manifest, []manifest, error) {
	names := make([]string, 0, len(rendered))
	for name := range rendered {
		names = append(names, name)
	}
	sort.Strings(names)
	var generic, hooks []manifest
	for _, name := range names {
		content := rendered[name]
		if strings.HasPrefix(path.Base(name), "_") || strings.TrimSpace(content) == "" {
			continue
		}
		for _, doc := range separator.Split(strings.TrimSpace(content), -1) {
			doc = strings.TrimSpace(doc)
			if doc == "" {
				continue
			}
			var head struct {
				Kind     string `json:"kind"`
				Metadata *struct {
					Annotations map[string]string `json:"annotations"`
				} `json:"metadata"`
			}
			if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
				return nil, nil, fmt.Errorf("YAML parse error on %s: %v", name, err)
			}
			m := manifest{source: name, content: doc, kind: head.Kind}
			if head.Metadata != nil && head.Metadata.Annotations["helm.sh/hook"] != "" {
				hooks = append(hooks, m)
			} else {
				generic = append(generic, m)
			}
		}
	}
	byKind(generic)
	byKind(hooks)
	return generic, hooks, nil
}

func byKind(ms []manifest) {
	rank := map[string]int{}
	for i, k := range installOrder {
		rank[k] = i
	}
	sort.SliceStable(ms, func(i, j int) bool {
		a, aok := rank[ms[i].kind]
		b, bok := rank[ms[j].kind]
		switch {
		case !aok && !bok:
			return ms[i].kind < ms[j].kind
		case !aok:
			return false
		case !bok:
			return true
		}
		return a < b
	})
}
