package main

// Rendering as Helm 3's pkg/engine does: one text/template set holding every template of the
// chart and its subcharts (parsed in Helm's order), sprig's TxtFuncMap without env/expandenv,
// Helm's own functions (include, tpl, required, fail, toYaml, fromYaml, toJson, fromJson, ...),
// lookup answering an empty map (no cluster), getHostByName answering "" (no DNS), and
// "<no value>" removed from the output.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	yamlv3 "gopkg.in/yaml.v3"
	"sigs.k8s.io/yaml"
)

const (
	warnStart     = "HELM_ERR_START"
	warnEnd       = "HELM_ERR_END"
	recursionMax  = 1000
	notesFileName = "NOTES.txt"
)

var warnRegex = regexp.MustCompile(warnStart + `((?s).*)` + warnEnd)

type renderable struct {
	tpl      string
	vals     map[string]interface{}
	basePath string
}

func funcMap() template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	extra := template.FuncMap{
		"toYaml":        toYAML,
		"toYamlPretty":  toYAMLPretty,
		"fromYaml":      fromYAML,
		"fromYamlArray": fromYAMLArray,
		"toJson":        toJSON,
		"fromJson":      fromJSON,
		"fromJsonArray": fromJSONArray,
		"include":       func(string, interface{}) string { return "not implemented" },
		"tpl":           func(string, interface{}) interface{} { return "not implemented" },
		"required":      func(string, interface{}) (interface{}, error) { return "not implemented", nil },
		"lookup": func(string, string, string, string) (map[string]interface{}, error) {
			return map[string]interface{}{}, nil
		},
		"getHostByName": func(string) string { return "" },
	}
	for k, v := range extra {
		f[k] = v
	}
	return f
}

func toYAML(v interface{}) string {
	data, err := yaml.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(data), "\n")
}

func toYAMLPretty(v interface{}) string {
	var data bytes.Buffer
	encoder := yamlv3.NewEncoder(&data)
	encoder.SetIndent(2)
	if err := encoder.Encode(v); err != nil {
		return ""
	}
	return strings.TrimSuffix(data.String(), "\n")
}

func fromYAML(str string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := yaml.Unmarshal([]byte(str), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func fromYAMLArray(str string) []interface{} {
	a := []interface{}{}
	if err := yaml.Unmarshal([]byte(str), &a); err != nil {
		a = []interface{}{err.Error()}
	}
	return a
}

func toJSON(v interface{}) string {
	data, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(data)
}

func fromJSON(str string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := json.Unmarshal([]byte(str), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func fromJSONArray(str string) []interface{} {
	a := []interface{}{}
	if err := json.Unmarshal([]byte(str), &a); err != nil {
		a = []interface{}{err.Error()}
	}
	return a
}

func includeFun(t *template.Template, included map[string]int) func(string, interface{}) (string, error) {
	return func(name string, data interface{}) (string, error) {
		if included[name] > recursionMax {
			return "", fmt.Errorf("rendering template has a nested reference name: %s: unable to execute template", name)
		}
		included[name]++
		var buf strings.Builder
		err := t.ExecuteTemplate(&buf, name, data)
		included[name]--
		return buf.String(), err
	}
}

func tplFun(parent *template.Template, included map[string]int, strict bool) func(string, interface{}) (string, error) {
	return func(tpl string, vals interface{}) (string, error) {
		t, err := parent.Clone()
		if err != nil {
			return "", fmt.Errorf("cannot clone template: %v", err)
		}
		if strict {
			t.Option("missingkey=error")
		} else {
			t.Option("missingkey=zero")
		}
		t.Funcs(template.FuncMap{"include": includeFun(t, included), "tpl": tplFun(t, included, strict)})
		t, err = t.New(parent.Name()).Parse(tpl)
		if err != nil {
			return "", fmt.Errorf("cannot parse template %q: %v", tpl, err)
		}
		var buf strings.Builder
		if err := t.Execute(&buf, vals); err != nil {
			return "", fmt.Errorf("error during tpl function execution for %q: %v", tpl, err)
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
}

func initFuncMap(t *template.Template, strict bool) {
	f := funcMap()
	included := map[string]int{}
	f["include"] = includeFun(t, included)
	f["tpl"] = tplFun(t, included, strict)
	f["required"] = func(warn string, val interface{}) (interface{}, error) {
		if val == nil {
			return val, errors.New(warnStart + warn + warnEnd)
		}
		if s, ok := val.(string); ok && s == "" {
			return val, errors.New(warnStart + warn + warnEnd)
		}
		return val, nil
	}
	f["fail"] = func(msg string) (string, error) { return "", errors.New(warnStart + msg + warnEnd) }
	t.Funcs(f)
}

// allTemplates gathers the templates of a chart and its subcharts, each with its own scope of
// values (Helm's recAllTpls).
func allTemplates(c *Chart, top map[string]interface{}, out map[string]renderable) map[string]interface{} {
	subcharts := map[string]interface{}{}
	next := map[string]interface{}{
		"Chart":        chartData(c),
		"Files":        newFiles(c.Files),
		"Release":      top["Release"],
		"Capabilities": top["Capabilities"],
		"Values":       map[string]interface{}{},
		"Subcharts":    subcharts,
	}
	if c.IsRoot() {
		next["Values"] = top["Values"]
	} else if parentValues, ok := top["Values"].(map[string]interface{}); ok {
		if v, ok := parentValues[c.Name()].(map[string]interface{}); ok {
			next["Values"] = v
		}
	}
	for _, sub := range c.Deps {
		subcharts[sub.Name()] = allTemplates(sub, next, out)
	}
	for _, t := range c.Templates {
		if strings.EqualFold(c.Metadata.Type, "library") && !strings.HasPrefix(path.Base(t.Name), "_") {
			continue
		}
		out[path.Join(c.FullPath(), t.Name)] = renderable{
			tpl:      string(t.Data),
			vals:     next,
			basePath: path.Join(c.FullPath(), "templates"),
		}
	}
	return next
}

// chartData is .Chart: Chart.yaml's fields under Helm's Go names, and IsRoot.
func chartData(c *Chart) map[string]interface{} {
	m := c.Metadata
	return map[string]interface{}{
		"Name": m.Name, "Home": m.Home, "Sources": m.Sources, "Version": m.Version,
		"Description": m.Description, "Keywords": m.Keywords, "Maintainers": m.Maintainers,
		"Icon": m.Icon, "APIVersion": m.APIVersion, "Condition": m.Condition, "Tags": m.Tags,
		"AppVersion": m.AppVersion, "Deprecated": m.Deprecated, "Annotations": m.Annotations,
		"KubeVersion": m.KubeVersion, "Dependencies": m.Dependencies, "Type": m.Type,
		"IsRoot": c.IsRoot(),
	}
}

// render executes every non-partial template, in Helm's parse order (shallow paths first).
func render(tpls map[string]renderable, strict bool) (rendered map[string]string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("rendering template failed: %v", r)
		}
	}()
	t := template.New("gotpl")
	if strict {
		t.Option("missingkey=error")
	} else {
		t.Option("missingkey=zero")
	}
	initFuncMap(t, strict)
	keys := make([]string, 0, len(tpls))
	for k := range tpls {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { // Helm: sort.Reverse(byPathLen)
		a, b := keys[i], keys[j]
		ca, cb := strings.Count(a, "/"), strings.Count(b, "/")
		if ca == cb {
			return a > b
		}
		return ca > cb
	})
	for _, name := range keys {
		if _, err := t.New(name).Parse(tpls[name].tpl); err != nil {
			return nil, cleanupParseError(name, err)
		}
	}
	rendered = map[string]string{}
	for _, name := range keys {
		if strings.HasPrefix(path.Base(name), "_") {
			continue
		}
		vals := tpls[name].vals
		vals["Template"] = map[string]interface{}{"Name": name, "BasePath": tpls[name].basePath}
		var buf strings.Builder
		if err := t.ExecuteTemplate(&buf, name, vals); err != nil {
			return nil, cleanupExecError(name, err)
		}
		rendered[name] = strings.ReplaceAll(buf.String(), "<no value>", "")
	}
	return rendered, nil
}

func cleanupParseError(filename string, err error) error {
	tokens := strings.Split(err.Error(), ": ")
	if len(tokens) == 1 {
		return fmt.Errorf("parse error in (%s): %s", filename, err)
	}
	return fmt.Errorf("parse error at (%s): %s", tokens[1], tokens[len(tokens)-1])
}

func cleanupExecError(filename string, err error) error {
	if _, ok := err.(template.ExecError); !ok {
		return err
	}
	tokens := strings.SplitN(err.Error(), ": ", 3)
	if len(tokens) != 3 {
		return fmt.Errorf("execution error in (%s): %s", filename, err)
	}
	if parts := warnRegex.FindStringSubmatch(tokens[2]); len(parts) >= 2 {
		return fmt.Errorf("execution error at (%s): %s", tokens[1], parts[1])
	}
	return err
}

// files is .Files: the chart's files that are neither templates nor values nor Chart.yaml.
type files map[string][]byte

func newFiles(from []*File) files {
	f := files{}
	for _, file := range from {
		f[file.Name] = file.Data
	}
	return f
}

func (f files) GetBytes(name string) []byte {
	if v, ok := f[name]; ok {
		return v
	}
	return []byte{}
}

func (f files) Get(name string) string { return string(f.GetBytes(name)) }

// Glob matches with path.Match, so "*" never crosses "/" and "**" is not special (Helm uses
// gobwas/glob, where "**" does cross directories).
func (f files) Glob(pattern string) files {
	nf := files{}
	for name, data := range f {
		if ok, _ := path.Match(pattern, name); ok {
			nf[name] = data
		}
	}
	return nf
}

func (f files) AsConfig() string {
	m := map[string]string{}
	for k, v := range f {
		m[path.Base(k)] = string(v)
	}
	return toYAML(m)
}

func (f files) AsSecrets() string {
	m := map[string]string{}
	for k, v := range f {
		m[path.Base(k)] = base64.StdEncoding.EncodeToString(v)
	}
	return toYAML(m)
}

func (f files) Lines(name string) []string {
	if len(f[name]) == 0 {
		return []string{}
	}
	return strings.Split(strings.TrimSuffix(string(f[name]), "\n"), "\n")
}
