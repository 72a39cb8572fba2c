// helmrender: renders a Helm chart the way `helm template` does, for machines without a helm
// binary. It is built from Debian's packaged Go libraries that Helm itself renders with:
// Go's text/template, github.com/Masterminds/sprig/v3 (3.2.3, the version Helm 3.11+ pins) and
// sigs.k8s.io/yaml. The glue around them (chart loading, values coalescing, the extra
// functions include/tpl/required/toYaml/fromYaml/toJson/fromJson/lookup, .Files, .Capabilities,
// manifest splitting and ordering) is a re-implementation of Helm 3's pkg/engine and
// pkg/chartutil for a single chart without dependencies. deploy/README.md ("How the chart is
// checked") lists what it does not do.
//
// Usage:
//
//	helmrender [flags] CHART_DIR
//	  -f FILE           values file (repeatable; later files win, as with helm)
//	  --name NAME       release name (default "release-name", as helm template)
//	  --namespace NS    release namespace (default "default")
//	  --include-crds    print crds/ first, as helm template --include-crds
//	  --kube-version V  .Capabilities.KubeVersion (default v1.30.0)
//	  --api-versions GV extra .Capabilities.APIVersions (repeatable)
//	  --only-api-versions  use only the --api-versions given (what `helm install` discovers)
//	  --notes           print the rendered NOTES.txt instead of the manifests
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/semver/v3"
	"github.com/Masterminds/sprig/v3"
	"sigs.k8s.io/yaml"
)

// ---------------------------------------------------------------- chart model (pkg/chart)

// Maintainer mirrors helm's chart.Maintainer.
type Maintainer struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	URL   string `json:"url,omitempty"`
}

// Dependency mirrors the fields of helm's chart.Dependency this tool can report on.
type Dependency struct {
	Name       string `json:"name"`
	Version    string `json:"version,omitempty"`
	Repository string `json:"repository"`
}

// Metadata mirrors helm's chart.Metadata: templates see it as .Chart (.Chart.Name, ...).
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

type file struct {
	name string // slash-separated, relative to the chart root
	data []byte
}

type chart struct {
	meta      *Metadata
	values    map[string]interface{}
	templates []file
	files     []file // everything else, crds/ included (as helm's loader does)
}

// ---------------------------------------------------------------- .Capabilities (pkg/chartutil)

// KubeVersion mirrors chartutil.KubeVersion.
type KubeVersion struct {
	Version string
	Major   string
	Minor   string
}

func (kv *KubeVersion) String() string     { return kv.Version }
func (kv *KubeVersion) GitVersion() string { return kv.Version }

// VersionSet mirrors chartutil.VersionSet.
type VersionSet []string

// Has reports whether the set holds the group/version (or group/version/Kind) string.
func (v VersionSet) Has(apiVersion string) bool {
	for _, x := range v {
		if x == apiVersion {
			return true
		}
	}
	return false
}

// BuildInfo mirrors helm's version.BuildInfo.
type BuildInfo struct {
	Version      string `json:"version,omitempty"`
	GitCommit    string `json:"git_commit,omitempty"`
	GitTreeState string `json:"git_tree_state,omitempty"`
	GoVersion    string `json:"go_version,omitempty"`
}

// Capabilities mirrors chartutil.Capabilities.
type Capabilities struct {
	KubeVersion KubeVersion
	APIVersions VersionSet
	HelmVersion BuildInfo
}

// defaultAPIVersions is what `helm template` assumes without a cluster: the group/versions of
// client-go's scheme (Kubernetes 1.30). Like helm's default set, it has no group/version/Kind
// entries and no CRD groups.
var defaultAPIVersions = []string{
	"v1",
	"admissionregistration.k8s.io/v1",
	"apps/v1",
	"authentication.k8s.io/v1",
	"authorization.k8s.io/v1",
	"autoscaling/v1",
	"autoscaling/v2",
	"batch/v1",
	"certificates.k8s.io/v1",
	"coordination.k8s.io/v1",
	"discovery.k8s.io/v1",
	"events.k8s.io/v1",
	"flowcontrol.apiserver.k8s.io/v1",
	"networking.k8s.io/v1",
	"node.k8s.io/v1",
	"policy/v1",
	"rbac.authorization.k8s.io/v1",
	"scheduling.k8s.io/v1",
	"storage.k8s.io/v1",
}

// ---------------------------------------------------------------- .Files (pkg/engine/files.go)

// Files mirrors helm's engine.files: the chart's non-template files by path.
type Files map[string][]byte

// GetBytes returns a file's bytes, or nil.
func (f Files) GetBytes(name string) []byte { return f[name] }

// Get returns a file's content as a string, or "".
func (f Files) Get(name string) string { return string(f.GetBytes(name)) }

// Glob returns the files whose path matches the pattern.
func (f Files) Glob(pattern string) Files {
	out := Files{}
	for name, data := range f {
		if ok, _ := path.Match(pattern, name); ok {
			out[name] = data
		}
	}
	return out
}

// AsConfig renders the files as the body of a ConfigMap's data, keyed by base name.
func (f Files) AsConfig() string {
	if len(f) == 0 {
		return ""
	}
	m := map[string]string{}
	for k, v := range f {
		m[path.Base(k)] = string(v)
	}
	return toYAML(m)
}

// AsSecrets renders the files base64-encoded, as the body of a Secret's data.
func (f Files) AsSecrets() string {
	if len(f) == 0 {
		return ""
	}
	m := map[string]string{}
	for k, v := range f {
		m[path.Base(k)] = encodeBase64(v)
	}
	return toYAML(m)
}

// Lines splits a file into lines.
func (f Files) Lines(name string) []string {
	if f[name] == nil {
		return []string{}
	}
	return strings.Split(string(f[name]), "\n")
}

func encodeBase64(b []byte) string {
	return sprig.TxtFuncMap()["b64enc"].(func(string) string)(string(b))
}

// ---------------------------------------------------------------- functions (pkg/engine/funcs.go)

func toYAML(v interface{}) string {
	data, err := yaml.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(data), "\n")
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

// lookup without a cluster connection answers an empty map, as `helm template` does.
func lookup(string, string, string, string) (map[string]interface{}, error) {
	return map[string]interface{}{}, nil
}

const warnStart, warnEnd = "HELM_ERR_START", "HELM_ERR_END"

var warnRegex = regexp.MustCompile(`(?s)` + warnStart + `(.*)` + warnEnd)

func funcMap() template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	extra := template.FuncMap{
		"toYaml":        toYAML,
		"fromYaml":      fromYAML,
		"fromYamlArray": fromYAMLArray,
		"toJson":        toJSON,
		"fromJson":      fromJSON,
		"fromJsonArray": fromJSONArray,
		"lookup":        lookup,
		// Late-bound in render(); placeholders keep parsing possible.
		"include": func(string, interface{}) string { return "not implemented" },
		"tpl":     func(string, interface{}) interface{} { return "not implemented" },
		"required": func(warn string, val interface{}) (interface{}, error) {
			if val == nil {
				return val, errors.New(warnStart + warn + warnEnd)
			}
			if s, ok := val.(string); ok && s == "" {
				return val, errors.New(warnStart + warn + warnEnd)
			}
			return val, nil
		},
	}
	for k, v := range extra {
		f[k] = v
	}
	return f
}

// ---------------------------------------------------------------- rendering (pkg/engine/engine.go)

type renderable struct {
	tpl      string
	vals     map[string]interface{}
	basePath string
}

// sortTemplates orders names as helm does: deeper paths first, then lexically.
func sortTemplates(m map[string]renderable) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		ca, cb := strings.Count(a, "/"), strings.Count(b, "/")
		if ca == cb {
			return a > b
		}
		return ca > cb
	})
	return keys
}

// cleanupParseError and cleanupExecError shorten Go's template errors the way helm does:
// "parse error at (chart/templates/x.yaml:3): function "foo" not defined" and
// "execution error at (chart/templates/x.yaml:1:2): foo is required".
func cleanupParseError(filename string, err error) error {
	tokens := strings.Split(err.Error(), ": ")
	if len(tokens) == 1 {
		return fmt.Errorf("parse error in (%s): %s", filename, err)
	}
	return fmt.Errorf("parse error at (%s): %s", tokens[1], tokens[len(tokens)-1])
}

var errorCalling = regexp.MustCompile(`(?s)error calling [A-Za-z0-9_]+: (.*)$`)

func cleanupExecError(filename string, err error) error {
	var execErr template.ExecError
	if !errors.As(err, &execErr) {
		return err
	}
	tokens := strings.SplitN(err.Error(), ": ", 3)
	if len(tokens) != 3 {
		return fmt.Errorf("execution error in (%s): %s", filename, err)
	}
	if parts := warnRegex.FindStringSubmatch(tokens[2]); len(parts) >= 2 {
		return fmt.Errorf("execution error at (%s): %s", tokens[1], parts[1])
	}
	if parts := errorCalling.FindStringSubmatch(tokens[2]); len(parts) >= 2 {
		return fmt.Errorf("execution error at (%s): %s", tokens[1], parts[1])
	}
	return err
}

func render(tpls map[string]renderable) (rendered map[string]string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("rendering template failed: %v", r)
		}
	}()
	t := template.New("gotpl")
	t.Option("missingkey=zero")

	fm := funcMap()
	includedNames := map[string]int{}
	fm["include"] = func(name string, data interface{}) (string, error) {
		if includedNames[name] > 1000 {
			return "", fmt.Errorf("rendering template has a nested reference name: %s", name)
		}
		includedNames[name]++
		var buf strings.Builder
		err := t.ExecuteTemplate(&buf, name, data)
		includedNames[name]--
		return buf.String(), err
	}
	fm["tpl"] = func(text string, vals map[string]interface{}) (string, error) {
		tmpl, ok := vals["Template"].(map[string]interface{})
		if !ok {
			return "", errors.New("cannot retrieve Template from values inside tpl function")
		}
		name, _ := tmpl["Name"].(string)
		clone, err := t.Clone()
		if err != nil {
			return "", err
		}
		if _, err := clone.New(name).Parse(text); err != nil {
			return "", fmt.Errorf("error during tpl function execution for %q: %w", text, err)
		}
		var buf strings.Builder
		if err := clone.ExecuteTemplate(&buf, name, vals); err != nil {
			return "", fmt.Errorf("error during tpl function execution for %q: %w", text, err)
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	t.Funcs(fm)

	keys := sortTemplates(tpls)
	for _, name := range keys {
		if _, err := t.New(name).Parse(tpls[name].tpl); err != nil {
			return nil, cleanupParseError(name, err)
		}
	}
	rendered = map[string]string{}
	for _, name := range keys {
		if strings.HasPrefix(path.Base(name), "_") {
			continue // partials are only included
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

// ---------------------------------------------------------------- values (pkg/chartutil/coalesce.go)

// useNumber: numbers in values become json.Number, as in current Helm 3 (chartutil.ReadValues,
// loader.LoadValues); --float-numbers gives float64, as older Helm 3 releases did.
var useNumber = true

func readValues(data []byte) (map[string]interface{}, error) {
	vals := map[string]interface{}{}
	var opts []yaml.JSONOpt
	if useNumber {
		opts = append(opts, func(d *json.Decoder) *json.Decoder { d.UseNumber(); return d })
	}
	err := yaml.Unmarshal(data, &vals, opts...)
	if vals == nil {
		vals = map[string]interface{}{}
	}
	return vals, err
}

// mergeMaps is helm's cli/values mergeMaps: b over a, recursing into maps.
func mergeMaps(a, b map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if vm, ok := v.(map[string]interface{}); ok {
			if bv, ok := out[k]; ok {
				if bm, ok := bv.(map[string]interface{}); ok {
					out[k] = mergeMaps(bm, vm)
					continue
				}
			}
		}
		out[k] = v
	}
	return out
}

func deepCopy(v interface{}) interface{} {
	switch x := v.(type) {
	case map[string]interface{}:
		m := make(map[string]interface{}, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []interface{}:
		a := make([]interface{}, len(x))
		for i, e := range x {
			a[i] = deepCopy(e)
		}
		return a
	default:
		return v
	}
}

// coalesceTables is chartutil.coalesceTablesFullKey for one chart: user values (dst) win over
// the chart's defaults (src); a null user value deletes the key.
func coalesceTables(dst, src map[string]interface{}, prefix string) map[string]interface{} {
	if dst == nil {
		return src
	}
	for key, val := range src {
		fullkey := prefix + key
		dv, ok := dst[key]
		switch {
		case ok && dv == nil:
			delete(dst, key)
		case !ok:
			dst[key] = deepCopy(val)
		case isTable(val):
			if isTable(dv) {
				coalesceTables(dv.(map[string]interface{}), val.(map[string]interface{}), fullkey+".")
			} else {
				fmt.Fprintf(os.Stderr, "coalesce.go:286: warning: cannot overwrite table with non table for %s (%v)\n", fullkey, val)
			}
		case isTable(dv) && val != nil:
			fmt.Fprintf(os.Stderr, "coalesce.go:286: warning: destination for %s is a table. Ignoring non-table value (%v)\n", fullkey, val)
		}
	}
	return dst
}

func isTable(v interface{}) bool {
	_, ok := v.(map[string]interface{})
	return ok
}

// ---------------------------------------------------------------- loading (pkg/chart/loader)

func loadIgnore(dir string) []string {
	data, err := os.ReadFile(filepath.Join(dir, ".helmignore"))
	if err != nil {
		return nil
	}
	var rules []string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "!") {
			continue // negation is not supported; such a file stays in
		}
		rules = append(rules, line)
	}
	return rules
}

func ignored(rules []string, rel string, isDir bool) bool {
	base := path.Base(rel)
	for _, r := range rules {
		dirOnly := strings.HasSuffix(r, "/")
		r = strings.TrimSuffix(r, "/")
		if dirOnly && !isDir {
			continue
		}
		target := base
		if strings.Contains(r, "/") {
			target = rel
			r = strings.TrimPrefix(r, "/")
		}
		if ok, _ := path.Match(r, target); ok {
			return true
		}
	}
	return false
}

func loadChart(dir string) (*chart, error) {
	c := &chart{values: map[string]interface{}{}}
	rules := loadIgnore(dir)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if ignored(rules, rel, d.IsDir()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		switch {
		case rel == "Chart.yaml":
			c.meta = &Metadata{}
			if err := yaml.Unmarshal(data, c.meta); err != nil {
				return fmt.Errorf("cannot load Chart.yaml: %w", err)
			}
		case rel == "values.yaml":
			v, err := readValues(data)
			if err != nil {
				return fmt.Errorf("cannot load values.yaml: %w", err)
			}
			c.values = v
		case rel == "values.schema.json":
			return errors.New("values.schema.json is present but this renderer does not validate schemas")
		case rel == "Chart.lock" || rel == "requirements.yaml" || rel == "requirements.lock":
		case strings.HasPrefix(rel, "charts/"):
			return errors.New("subcharts (charts/) are not supported by this renderer")
		case strings.HasPrefix(rel, "templates/"):
			c.templates = append(c.templates, file{rel, data})
		default:
			c.files = append(c.files, file{rel, data})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if c.meta == nil {
		return nil, errors.New("Chart.yaml file is missing")
	}
	// The checks helm's loader (Metadata.Validate) makes.
	if c.meta.APIVersion != "v2" {
		return nil, fmt.Errorf("chart apiVersion must be v2 (helm 3), got %q", c.meta.APIVersion)
	}
	if c.meta.Name == "" || c.meta.Version == "" {
		return nil, errors.New("Chart.yaml: name and version are required")
	}
	if _, err := semver.StrictNewVersion(c.meta.Version); err != nil {
		return nil, fmt.Errorf("Chart.yaml: version %q is not strict SemVer 2", c.meta.Version)
	}
	if c.meta.Type != "" && c.meta.Type != "application" {
		return nil, fmt.Errorf("Chart.yaml: type %q is not supported here", c.meta.Type)
	}
	if len(c.meta.Dependencies) > 0 {
		return nil, errors.New("chart dependencies are not supported by this renderer")
	}
	return c, nil
}

// ---------------------------------------------------------------- output (pkg/releaseutil)

// installOrder is helm's releaseutil.InstallOrder.
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

var sep = regexp.MustCompile(`(?:^|\s*\n)---\s*`)

type manifest struct {
	source  string
	content string
	kind    string
	name    string
}

type head struct {
	Version  string `json:"apiVersion"`
	Kind     string `json:"kind,omitempty"`
	Metadata *struct {
		Name        string            `json:"name"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata,omitempty"`
}

func splitManifests(source, body string) ([]manifest, error) {
	var out []manifest
	for _, doc := range sep.Split(body, -1) {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var h head
		if err := yaml.Unmarshal([]byte(doc), &h); err != nil {
			return nil, fmt.Errorf("YAML parse error on %s: %w", source, err)
		}
		m := manifest{source: source, content: strings.TrimSpace(doc), kind: h.Kind}
		if h.Metadata != nil {
			m.name = h.Metadata.Name
			if _, isHook := h.Metadata.Annotations["helm.sh/hook"]; isHook {
				return nil, fmt.Errorf("%s: hooks are not supported by this renderer", source)
			}
		}
		out = append(out, m)
	}
	return out, nil
}

func kindRank(kind string) int {
	for i, k := range installOrder {
		if k == kind {
			return i
		}
	}
	return len(installOrder)
}

// ---------------------------------------------------------------- main

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	var valueFiles, apiVersions multi
	name := flag.String("name", "release-name", "release name")
	namespace := flag.String("namespace", "default", "release namespace")
	includeCRDs := flag.Bool("include-crds", false, "print crds/ before the templates")
	kubeVersion := flag.String("kube-version", "v1.30.0", "Kubernetes version for .Capabilities")
	onlyAPIVersions := flag.Bool("only-api-versions", false, "use only --api-versions, not the defaults")
	notes := flag.Bool("notes", false, "print the rendered NOTES.txt instead of the manifests")
	floatNumbers := flag.Bool("float-numbers", false, "values numbers as float64 (older Helm 3) instead of json.Number")
	flag.Var(&valueFiles, "f", "values file (repeatable)")
	flag.Var(&valueFiles, "values", "values file (repeatable)")
	flag.Var(&apiVersions, "api-versions", "extra API version for .Capabilities (repeatable)")
	flag.Parse()
	useNumber = !*floatNumbers
	if flag.NArg() != 1 {
		return errors.New("usage: helmrender [flags] CHART_DIR")
	}
	c, err := loadChart(flag.Arg(0))
	if err != nil {
		return err
	}

	// Values: merge the files, then coalesce with the chart's defaults.
	user := map[string]interface{}{}
	for _, f := range valueFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		v, err := readValues(data)
		if err != nil {
			return fmt.Errorf("failed to parse %s: %w", f, err)
		}
		user = mergeMaps(user, v)
	}
	values := coalesceTables(user, c.values, "")

	// Capabilities.
	kv, err := semver.NewVersion(*kubeVersion)
	if err != nil {
		return fmt.Errorf("invalid --kube-version %q: %w", *kubeVersion, err)
	}
	caps := &Capabilities{
		KubeVersion: KubeVersion{
			Version: "v" + kv.String(),
			Major:   fmt.Sprint(kv.Major()),
			Minor:   fmt.Sprint(kv.Minor()),
		},
		HelmVersion: BuildInfo{Version: "v3.14.0+helmrender", GoVersion: "go"},
	}
	if !*onlyAPIVersions {
		caps.APIVersions = append(caps.APIVersions, defaultAPIVersions...)
	}
	caps.APIVersions = append(caps.APIVersions, apiVersions...)
	if c.meta.KubeVersion != "" {
		constraint, err := semver.NewConstraint(c.meta.KubeVersion)
		if err != nil {
			return fmt.Errorf("Chart.yaml kubeVersion %q: %w", c.meta.KubeVersion, err)
		}
		if !constraint.Check(kv) {
			return fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes %s", c.meta.KubeVersion, caps.KubeVersion.Version)
		}
	}

	files := Files{}
	for _, f := range c.files {
		files[f.name] = f.data
	}
	top := map[string]interface{}{
		"Chart":        c.meta,
		"Capabilities": caps,
		"Release": map[string]interface{}{
			"Name":      *name,
			"Namespace": *namespace,
			"IsUpgrade": false,
			"IsInstall": true,
			"Revision":  1,
			"Service":   "Helm",
		},
		"Files":  files,
		"Values": values,
	}
	tpls := map[string]renderable{}
	for _, t := range c.templates {
		tpls[path.Join(c.meta.Name, t.name)] = renderable{
			tpl: string(t.data), vals: top, basePath: path.Join(c.meta.Name, "templates"),
		}
	}
	rendered, err := render(tpls)
	if err != nil {
		return err
	}

	notesName := path.Join(c.meta.Name, "templates", "NOTES.txt")
	if *notes {
		fmt.Print(rendered[notesName])
		return nil
	}

	var out bytes.Buffer
	if *includeCRDs {
		crdNames := []string{}
		for _, f := range c.files {
			if strings.HasPrefix(f.name, "crds/") && (strings.HasSuffix(f.name, ".yaml") || strings.HasSuffix(f.name, ".yml") || strings.HasSuffix(f.name, ".json")) {
				crdNames = append(crdNames, f.name)
			}
		}
		sort.Strings(crdNames)
		for _, n := range crdNames {
			fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", path.Join(c.meta.Name, n), strings.TrimSpace(string(files[n])))
		}
	}
	var manifests []manifest
	names := make([]string, 0, len(rendered))
	for n := range rendered {
		if n == notesName || strings.HasSuffix(n, "NOTES.txt") {
			continue
		}
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ms, err := splitManifests(n, rendered[n])
		if err != nil {
			return err
		}
		manifests = append(manifests, ms...)
	}
	sort.SliceStable(manifests, func(i, j int) bool {
		ri, rj := kindRank(manifests[i].kind), kindRank(manifests[j].kind)
		if ri != rj {
			return ri < rj
		}
		if ri == len(installOrder) && manifests[i].kind != manifests[j].kind {
			return manifests[i].kind < manifests[j].kind
		}
		return false
	})
	for _, m := range manifests {
		fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", m.source, m.content)
	}
	_, err = os.Stdout.Write(out.Bytes())
	return err
}
