package main

// Values as Helm 3 builds them: -f files merged left to right (pkg/cli/values mergeMaps), then
// coalesced with the chart's values.yaml and its subcharts' (pkg/chartutil coalesce.go): user
// values win, maps merge, a null removes a default, globals flow down to subcharts.

import (
	"fmt"
	"os"

	"github.com/mitchellh/copystructure"
	"sigs.k8s.io/yaml"
)

// readValueFiles merges -f files as `helm template -f a -f b` does: later files win, maps merge.
func readValueFiles(paths []string) (map[string]interface{}, error) {
	base := map[string]interface{}{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		current := map[string]interface{}{}
		if err := yaml.Unmarshal(data, &current); err != nil {
			return nil, fmt.Errorf("failed to parse %s: %v", p, err)
		}
		base = mergeMaps(base, current)
	}
	return base, nil
}

func mergeMaps(a, b map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if vm, ok := v.(map[string]interface{}); ok {
			if bm, ok := out[k].(map[string]interface{}); ok {
				out[k] = mergeMaps(bm, vm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

func deepCopy(v map[string]interface{}) map[string]interface{} {
	c, err := copystructure.Copy(v)
	if err != nil {
		panic(err)
	}
	m, _ := c.(map[string]interface{})
	if m == nil {
		m = map[string]interface{}{}
	}
	return m
}

func isTable(v interface{}) bool {
	_, ok := v.(map[string]interface{})
	return ok
}

// coalesceValues is Helm's CoalesceValues: user values over the chart's, then each subchart's.
func coalesceValues(c *Chart, user map[string]interface{}) (map[string]interface{}, error) {
	return coalesce(c, deepCopy(user))
}

func coalesce(c *Chart, dest map[string]interface{}) (map[string]interface{}, error) {
	coalesceChartValues(c, dest)
	for _, sub := range c.Deps {
		if v, ok := dest[sub.Name()]; !ok {
			dest[sub.Name()] = map[string]interface{}{}
		} else if !isTable(v) {
			return dest, fmt.Errorf("type mismatch on %s: %t", sub.Name(), v)
		}
		subValues := dest[sub.Name()].(map[string]interface{})
		coalesceGlobals(subValues, dest)
		var err error
		if dest[sub.Name()], err = coalesce(sub, subValues); err != nil {
			return dest, err
		}
	}
	return dest, nil
}

// coalesceGlobals copies `global` from the parent's values into a subchart's; the parent wins.
func coalesceGlobals(dest, src map[string]interface{}) {
	dg, _ := dest["global"].(map[string]interface{})
	if dg == nil {
		dg = map[string]interface{}{}
	}
	sg, _ := src["global"].(map[string]interface{})
	for key, val := range sg {
		if vm, ok := val.(map[string]interface{}); ok {
			vv := make(map[string]interface{}, len(vm))
			for k, x := range vm {
				vv[k] = x
			}
			if dv, ok := dg[key].(map[string]interface{}); ok {
				coalesceTables(vv, dv, true)
			}
			dg[key] = vv
		} else if !isTable(dg[key]) {
			dg[key] = val
		}
	}
	dest["global"] = dg
}

// coalesceChartValues merges the chart's own values.yaml under the user's values in v.
func coalesceChartValues(c *Chart, v map[string]interface{}) {
	chartValues := deepCopy(c.Values)
	for key, val := range chartValues {
		value, ok := v[key]
		if !ok {
			v[key] = val
			continue
		}
		if value == nil {
			delete(v, key) // a null in the user's values removes the chart's default
			continue
		}
		if dest, ok := value.(map[string]interface{}); ok {
			if src, ok := val.(map[string]interface{}); ok {
				coalesceTables(dest, src, isDependency(c, key))
			}
		}
	}
}

func isDependency(c *Chart, key string) bool {
	for _, d := range c.Deps {
		if d.Name() == key {
			return true
		}
	}
	return false
}

// coalesceTables merges src under dst (dst wins); without `merge`, a null in dst removes the
// key that src gives a value.
func coalesceTables(dst, src map[string]interface{}, merge bool) {
	srcNonNil := map[string]bool{}
	for key, val := range src {
		if val != nil {
			srcNonNil[key] = true
		}
	}
	for key, val := range dst {
		if val == nil {
			src[key] = nil
		}
	}
	for key, val := range src {
		dv, ok := dst[key]
		switch {
		case ok && !merge && dv == nil && srcNonNil[key]:
			delete(dst, key)
		case !ok:
			dst[key] = val
		case isTable(val) && isTable(dv):
			coalesceTables(dv.(map[string]interface{}), val.(map[string]interface{}), merge)
		}
	}
}
