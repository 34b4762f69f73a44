// The plugins a program needs: the Pulumi packages its package.json depends on, each with the
// version its installed package.json gives.

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

type pulumiSection struct {
	Resource bool   `json:"resource"`
	Name     string `json:"name"`
	Version  string `json:"version"`
	Server   string `json:"server"`
}

type packageJSON struct {
	Name    string         `json:"name"`
	Version string         `json:"version"`
	Pulumi  *pulumiSection `json:"pulumi"`
}

// requiredPlugins scans the node_modules directories from dir upwards.
func requiredPlugins(dir string) ([]*pulumirpc.PluginDependency, error) {
	seen := map[string]*pulumirpc.PluginDependency{}
	for d := dir; ; d = filepath.Dir(d) {
		nm := filepath.Join(d, "node_modules")
		if entries, err := os.ReadDir(nm); err == nil {
			for _, e := range entries {
				pkgDirs := []string{filepath.Join(nm, e.Name())}
				if strings.HasPrefix(e.Name(), "@") {
					scoped, _ := os.ReadDir(filepath.Join(nm, e.Name()))
					pkgDirs = pkgDirs[:0]
					for _, s := range scoped {
						pkgDirs = append(pkgDirs, filepath.Join(nm, e.Name(), s.Name()))
					}
				}
				for _, p := range pkgDirs {
					data, err := os.ReadFile(filepath.Join(p, "package.json"))
					if err != nil {
						continue
					}
					var pkg packageJSON
					if json.Unmarshal(data, &pkg) != nil || pkg.Pulumi == nil || !pkg.Pulumi.Resource {
						continue
					}
					name := pkg.Pulumi.Name
					if name == "" {
						name = strings.TrimPrefix(pkg.Name, "@pulumi/")
					}
					v := strings.TrimPrefix(pkg.Pulumi.Version, "v")
					if v == "" {
						v = strings.TrimPrefix(pkg.Version, "v")
					}
					if _, ok := seen[name]; !ok {
						seen[name] = &pulumirpc.PluginDependency{Name: name, Kind: "resource", Version: "v" + v, Server: pkg.Pulumi.Server}
					}
				}
			}
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]*pulumirpc.PluginDependency, 0, len(names))
	for _, n := range names {
		out = append(out, seen[n])
	}
	return out, nil
}

// findModuleFile resolves a file inside an npm package the way Node does: from dir upwards.
func findModuleFile(dir, rel string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		p := filepath.Join(d, "node_modules", rel)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("could not find node_modules/%s from %s; run `scripts/lab.sh true` (npm ci) first", rel, dir)
		}
	}
}
