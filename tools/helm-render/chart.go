package main

// Loading a chart directory the way Helm 3's pkg/chart/loader does: .helmignore (and the default
// rule that hides dotfiles in templates/), Chart.yaml, values.yaml, values.schema.json,
// templates/, other files as .Files, and unpacked subcharts in charts/.

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// Metadata is Chart.yaml, with Helm's field names (what templates see as .Chart).
type Metadata struct {
	Name         string            `json:"name,omitempty"`
	Home         string            `json:"home,omitempty"`
	Sources      []string          `json:"sources,omitempty"`
	Version      string            `json:"version,omitempty"`
	Description  string            `json:"description,omitempty"`
	Keywords     []string          `json:"keywords,omitempty"`
	Maintainers  []*Maintainer     `json:"maintainers,omitempty"`
	Icon         string            `json:"icon,omitempty"`
	APIVersion   string            `json:"apiVersion,omitempty"`
	Condition    string            `json:"condition,omitempty"`
	Tags         string            `json:"tags,omitempty"`
	AppVersion   string            `json:"appVersion,omitempty"`
	Deprecated   bool              `json:"deprecated,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	KubeVersion  string            `json:"kubeVersion,omitempty"`
	Dependencies []*Dependency     `json:"dependencies,omitempty"`
	Type         string            `json:"type,omitempty"`
}

type Maintainer struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	URL   string `json:"url,omitempty"`
}

type Dependency struct {
	Name         string        `json:"name"`
	Version      string        `json:"version,omitempty"`
	Repository   string        `json:"repository"`
	Condition    string        `json:"condition,omitempty"`
	Tags         []string      `json:"tags,omitempty"`
	Enabled      bool          `json:"enabled,omitempty"`
	ImportValues []interface{} `json:"import-values,omitempty"`
	Alias        string        `json:"alias,omitempty"`
}

type File struct {
	Name string
	Data []byte
}

type Chart struct {
	Metadata  *Metadata
	Values    map[string]interface{}
	Schema    []byte
	Templates []*File
	Files     []*File
	Deps      []*Chart
	parent    *Chart
}

func (c *Chart) Name() string { return c.Metadata.Name }
func (c *Chart) IsRoot() bool { return c.parent == nil }

// FullPath is Helm's ChartFullPath: "parent/charts/child" for a subchart.
func (c *Chart) FullPath() string {
	if c.parent == nil {
		return c.Name()
	}
	return c.parent.FullPath() + "/charts/" + c.Name()
}

// loadDir reads a chart directory as Helm's LoadDir does, then its subcharts in charts/.
func loadDir(dir string) (*Chart, error) {
	top, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	rules := &ignoreRules{}
	if data, err := os.ReadFile(filepath.Join(top, ".helmignore")); err == nil {
		if err := rules.parse(data); err != nil {
			return nil, fmt.Errorf("%s/.helmignore: %v", dir, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	rules.add("templates/.?*") // Helm's default: dotfiles in templates/ are never templates
	var files []*File
	err = filepath.WalkDir(top, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := filepath.ToSlash(strings.TrimPrefix(name, top+string(filepath.Separator)))
		if name == top {
			return nil
		}
		info, err := os.Stat(name) // Helm's walker follows symbolic links
		if err != nil {
			return err
		}
		if info.IsDir() {
			if rules.ignore(rel, true) {
				return filepath.SkipDir
			}
			if d.Type()&fs.ModeSymlink != 0 {
				return fmt.Errorf("%s: a symbolic link to a directory; this renderer does not follow those (Helm does)", rel)
			}
			return nil
		}
		if rules.ignore(rel, false) {
			return nil
		}
		if !info.Mode().IsRegular() {
			return fmt.Errorf("cannot load irregular file %s as it has file mode type bits set", name)
		}
		data, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		files = append(files, &File{Name: rel, Data: bytes.TrimPrefix(data, []byte{0xEF, 0xBB, 0xBF})})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return loadFiles(files)
}

// loadFiles sorts a chart's files into their parts, as Helm's LoadFiles does.
func loadFiles(files []*File) (*Chart, error) {
	c := &Chart{Values: map[string]interface{}{}}
	subcharts := map[string][]*File{}
	for _, f := range files {
		if f.Name == "Chart.yaml" {
			c.Metadata = &Metadata{}
			if err := yaml.Unmarshal(f.Data, c.Metadata); err != nil {
				return nil, fmt.Errorf("cannot load Chart.yaml: %v", err)
			}
		}
	}
	if c.Metadata == nil {
		return nil, errors.New("Chart.yaml file is missing")
	}
	if c.Metadata.APIVersion != "v2" {
		return nil, fmt.Errorf("chart %q: apiVersion %q; this renderer reads Helm 3 charts (apiVersion: v2) only", c.Metadata.Name, c.Metadata.APIVersion)
	}
	if c.Metadata.Name == "" || c.Metadata.Version == "" {
		return nil, errors.New("Chart.yaml: name and version are required")
	}
	for _, f := range files {
		switch {
		case f.Name == "Chart.yaml", f.Name == "Chart.lock":
		case f.Name == "values.yaml":
			if err := yaml.Unmarshal(f.Data, &c.Values); err != nil {
				return nil, fmt.Errorf("cannot load values.yaml: %v", err)
			}
			if c.Values == nil {
				c.Values = map[string]interface{}{}
			}
		case f.Name == "values.schema.json":
			c.Schema = f.Data
		case f.Name == "requirements.yaml", f.Name == "requirements.lock":
			return nil, fmt.Errorf("%s: Helm 2 dependency files are not read; list dependencies in Chart.yaml", f.Name)
		case strings.HasPrefix(f.Name, "templates/"):
			c.Templates = append(c.Templates, f)
		case strings.HasPrefix(f.Name, "charts/"):
			rest := strings.TrimPrefix(f.Name, "charts/")
			name := strings.SplitN(rest, "/", 2)[0]
			if strings.HasSuffix(name, ".tgz") || strings.HasSuffix(name, ".prov") {
				return nil, fmt.Errorf("%s: packed subcharts are not read by this renderer; unpack it into charts/%s/", f.Name, strings.TrimSuffix(name, ".tgz"))
			}
			if strings.IndexAny(name, "_.") == 0 || !strings.Contains(rest, "/") {
				continue
			}
			subcharts[name] = append(subcharts[name], &File{Name: strings.SplitN(rest, "/", 2)[1], Data: f.Data})
		default:
			c.Files = append(c.Files, f)
		}
	}
	names := make([]string, 0, len(subcharts))
	for name := range subcharts {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		sub, err := loadFiles(subcharts[name])
		if err != nil {
			return nil, fmt.Errorf("error unpacking subchart %s in %s: %v", name, c.Name(), err)
		}
		sub.parent = c
		c.Deps = append(c.Deps, sub)
	}
	return c, nil
}

// processDependencies keeps the subcharts Chart.yaml lists, checks none is missing, and drops
// those whose `condition` is false in the values (Helm's ProcessDependencies, without aliases,
// tags and import-values, which this renderer refuses rather than misrender).
func processDependencies(c *Chart, values map[string]interface{}) error {
	byName := map[string]*Chart{}
	for _, d := range c.Deps {
		byName[d.Name()] = d
	}
	var kept []*Chart
	for _, dep := range c.Metadata.Dependencies {
		if dep.Alias != "" || len(dep.Tags) > 0 || len(dep.ImportValues) > 0 {
			return fmt.Errorf("chart %s: dependency %s uses alias, tags or import-values, which this renderer does not reproduce", c.Name(), dep.Name)
		}
		sub, ok := byName[dep.Name]
		if !ok {
			return fmt.Errorf("found in Chart.yaml, but missing in charts/ directory: %s", dep.Name)
		}
		if dep.Condition != "" && !conditionHolds(values, dep.Condition) {
			continue
		}
		var subValues map[string]interface{}
		if v, ok := values[dep.Name].(map[string]interface{}); ok {
			subValues = v
		}
		if err := processDependencies(sub, subValues); err != nil {
			return err
		}
		kept = append(kept, sub)
	}
	c.Deps = kept
	return nil
}

// conditionHolds reads the first path of a comma-separated condition that names a boolean;
// a condition naming nothing keeps the subchart, as in Helm.
func conditionHolds(values map[string]interface{}, condition string) bool {
	for _, p := range strings.Split(condition, ",") {
		var cur interface{} = values
		for _, key := range strings.Split(strings.TrimSpace(p), ".") {
			m, ok := cur.(map[string]interface{})
			if !ok {
				cur = nil
				break
			}
			cur = m[key]
		}
		if b, ok := cur.(bool); ok {
			return b
		}
	}
	return true
}

// ignoreRules is .helmignore: Helm's subset of .gitignore (no "**"; "!" negates; a trailing
// "/" matches directories only; a leading "/" or an inner "/" matches the whole path, else
// the base name).
type ignoreRules struct{ patterns []ignorePattern }

type ignorePattern struct {
	rule            string
	negate, mustDir bool
	whole           bool
}

func (r *ignoreRules) parse(data []byte) error {
	for _, line := range strings.Split(string(data), "\n") {
		if err := r.add(line); err != nil {
			return err
		}
	}
	return nil
}

func (r *ignoreRules) add(rule string) error {
	rule = strings.TrimSpace(rule)
	if rule == "" || strings.HasPrefix(rule, "#") {
		return nil
	}
	if strings.Contains(rule, "**") {
		return errors.New("double-star (**) syntax is not supported")
	}
	if _, err := path.Match(rule, "abc"); err != nil {
		return err
	}
	p := ignorePattern{}
	if strings.HasPrefix(rule, "!") {
		p.negate, rule = true, rule[1:]
	}
	if strings.HasSuffix(rule, "/") {
		p.mustDir, rule = true, strings.TrimSuffix(rule, "/")
	}
	p.whole = strings.Contains(rule, "/")
	p.rule = strings.TrimPrefix(rule, "/")
	r.patterns = append(r.patterns, p)
	return nil
}

func (r *ignoreRules) ignore(name string, isDir bool) bool {
	for _, p := range r.patterns {
		subject := name
		if !p.whole {
			subject = path.Base(name)
		}
		matched, _ := path.Match(p.rule, subject)
		if p.negate {
			if (p.mustDir && !isDir) || !matched {
				return true
			}
			continue
		}
		if p.mustDir && !isDir {
			continue
		}
		if matched {
			return true
		}
	}
	return false
}
