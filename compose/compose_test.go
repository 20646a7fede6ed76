// Package compose holds the Docker Compose files of the price pipeline. This
// test checks them statically (make compose-test runs them, on podman): they
// parse, use only Compose keys, pin their images to the versions the rest of
// the repository uses, reference files that exist, and work one by one as
// well as together.
package compose

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/template"
	"go.yaml.in/yaml/v3"
	"golang.org/x/mod/modfile"
	"golang.org/x/mod/semver"
)

// files in the order the article starts them; each must also work alone.
var files = []string{"backend.yml", "producer.yml", "consumer.yml"}

// noHealthcheck lists the services that need no health check, and why.
var noHealthcheck = map[string]string{
	"scraper":  "Telegraf has no health endpoint in scraper.conf; the container stops when Telegraf does, and restart covers that",
	"consumer": "Telegraf has no health endpoint in consumer.conf; it restarts redis-output itself, and restart covers Telegraf",
}

type project struct {
	Name     string                   `yaml:"name"`
	Services map[string]service       `yaml:"services"`
	Volumes  map[string]any           `yaml:"volumes"`
	Networks map[string]*networkEntry `yaml:"networks"`
}

type networkEntry struct {
	Name     string `yaml:"name"`
	External bool   `yaml:"external"`
}

type service struct {
	Image       string            `yaml:"image"`
	Build       *build            `yaml:"build"`
	Environment map[string]string `yaml:"environment"` // map form only: easier to read and to check
	Volumes     []string          `yaml:"volumes"`     // short form only
	Ports       []string          `yaml:"ports"`
	Command     any               `yaml:"command"`
	Entrypoint  any               `yaml:"entrypoint"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
	Restart   string `yaml:"restart"`
	DependsOn any    `yaml:"depends_on"`
}

type build struct {
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
}

// Keys of the Compose specification (compose-spec.json), to catch typos such
// as "healtcheck" that YAML alone accepts.
var (
	topKeys     = words("configs include name networks secrets services version volumes")
	serviceKeys = words(`annotations attach blkio_config build cap_add cap_drop cgroup cgroup_parent
		command configs container_name cpu_count cpu_percent cpu_period cpu_quota cpu_rt_period
		cpu_rt_runtime cpu_shares cpus cpuset credential_spec depends_on deploy develop
		device_cgroup_rules devices dns dns_opt dns_search domainname entrypoint env_file
		environment expose extends external_links extra_hosts group_add healthcheck hostname image
		init ipc isolation labels links logging mac_address mem_limit mem_reservation mem_swappiness
		memswap_limit network_mode networks oom_kill_disable oom_score_adj pid pids_limit platform
		ports privileged profiles pull_policy read_only restart runtime scale secrets security_opt
		shm_size stdin_open stop_grace_period stop_signal storage_opt sysctls tmpfs tty ulimits user
		userns_mode uts volumes volumes_from working_dir`)
	healthcheckKeys = words("disable interval retries start_interval start_period test timeout")
)

func words(s string) []string { return strings.Fields(s) }

// loaded is one compose file: its generic tree (for key checks) and its typed
// form after Compose's variable interpolation with an empty environment, as
// `docker compose config` on a fresh machine would see it.
type loaded struct {
	name string
	tree map[string]any
	p    project
}

func load(t *testing.T, name string) loaded {
	t.Helper()
	root := parse(t, name)
	l := loaded{name: name}
	if err := root.Decode(&l.tree); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	// Compose interpolates values after parsing the YAML (never keys or comments).
	for _, n := range scalars(root) {
		v, err := template.SubstituteWithOptions(n.Value, func(string) (string, bool) { return "", false }, template.WithoutLogging)
		if err != nil {
			t.Fatalf("%s:%d: interpolating %q: %v", name, n.Line, n.Value, err)
		}
		n.Value = v
	}
	if err := root.Decode(&l.p); err != nil {
		t.Fatalf("%s: does not fit the shape this test checks (environment as a map, volumes and ports in short form): %v", name, err)
	}
	return l
}

func parse(t *testing.T, name string) *yaml.Node {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		t.Fatalf("%s: not YAML: %v", name, err)
	}
	return &root
}

// scalars returns the scalar values of the tree (mapping keys left out).
func scalars(n *yaml.Node) []*yaml.Node {
	switch n.Kind {
	case yaml.ScalarNode:
		return []*yaml.Node{n}
	case yaml.MappingNode:
		var out []*yaml.Node
		for i := 1; i < len(n.Content); i += 2 {
			out = append(out, scalars(n.Content[i])...)
		}
		return out
	default: // document, sequence, alias
		var out []*yaml.Node
		for _, c := range n.Content {
			out = append(out, scalars(c)...)
		}
		return out
	}
}

func loadAll(t *testing.T) []loaded {
	t.Helper()
	all := make([]loaded, 0, len(files))
	for _, f := range files {
		all = append(all, load(t, f))
	}
	return all
}

// repoRoot is the directory above compose/.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("no go.mod above compose/: %v", err)
	}
	return root
}

func TestKeysAreCompose(t *testing.T) {
	for _, l := range loadAll(t) {
		for k := range l.tree {
			if !slices.Contains(topKeys, k) {
				t.Errorf("%s: unknown top-level key %q", l.name, k)
			}
		}
		services, _ := l.tree["services"].(map[string]any)
		if len(services) == 0 {
			t.Errorf("%s: no services", l.name)
		}
		for name, s := range services {
			for k, v := range s.(map[string]any) {
				if !slices.Contains(serviceKeys, k) {
					t.Errorf("%s: service %s: unknown key %q", l.name, name, k)
				}
				if hc, ok := v.(map[string]any); ok && k == "healthcheck" {
					for hk := range hc {
						if !slices.Contains(healthcheckKeys, hk) {
							t.Errorf("%s: service %s: unknown healthcheck key %q", l.name, name, hk)
						}
					}
				}
			}
		}
	}
}

// imageRef splits "repo/name:tag" (no digests used here).
func imageRef(image string) (name, tag string) {
	slash := strings.LastIndex(image, "/")
	if i := strings.LastIndex(image, ":"); i > slash {
		return image[:i], image[i+1:]
	}
	return image, ""
}

// pinned: a tag with a version number in it, not a moving name like latest.
var versionTag = regexp.MustCompile(`^v?\d+(\.\d+)+([.-][0-9A-Za-z.-]+)?$`)

func checkPinned(t *testing.T, where, image string) {
	t.Helper()
	_, tag := imageRef(image)
	switch {
	case tag == "":
		t.Errorf("%s: image %q has no tag (means latest)", where, image)
	case !versionTag.MatchString(tag):
		t.Errorf("%s: image %q is not pinned to a version tag", where, image)
	}
}

func TestImagesPinned(t *testing.T) {
	for _, l := range loadAll(t) {
		for name, s := range l.p.Services {
			where := l.name + ": service " + name
			switch {
			case s.Image == "" && s.Build == nil:
				t.Errorf("%s: neither image nor build", where)
			case s.Build != nil:
				// Built here: image only names the result; it must not be a
				// pullable "latest".
				if _, tag := imageRef(s.Image); s.Image != "" && (tag == "" || tag == "latest") {
					t.Errorf("%s: built image named %q: give it an explicit tag other than latest", where, s.Image)
				}
			default:
				checkPinned(t, where, s.Image)
			}
		}
	}
	for _, from := range dockerfile(t).from {
		checkPinned(t, "Dockerfile FROM", from)
	}
}

// goMod returns the Telegraf version required in go.mod (without "v") and the
// go line.
func goMod(t *testing.T) (telegraf, goVersion string) {
	t.Helper()
	path := filepath.Join(repoRoot(t), "go.mod")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.ParseLax(path, data, nil)
	if err != nil {
		t.Fatalf("go.mod: %v", err)
	}
	for _, r := range f.Require {
		if r.Mod.Path == "github.com/influxdata/telegraf" {
			telegraf = strings.TrimPrefix(r.Mod.Version, "v")
		}
	}
	if telegraf == "" {
		t.Fatal("go.mod does not require github.com/influxdata/telegraf")
	}
	if f.Go == nil {
		t.Fatal("go.mod has no go line")
	}
	return telegraf, f.Go.Version
}

// allImages lists every image of the compose files and the Dockerfile.
func allImages(t *testing.T) map[string]string {
	images := map[string]string{} // where -> image
	for _, l := range loadAll(t) {
		for name, s := range l.p.Services {
			if s.Image != "" && s.Build == nil {
				images[l.name+": service "+name] = s.Image
			}
		}
	}
	for i, from := range dockerfile(t).from {
		images[fmt.Sprintf("Dockerfile FROM #%d", i+1)] = from
	}
	return images
}

func TestTelegrafImageMatchesGoMod(t *testing.T) {
	want, _ := goMod(t)
	found := 0
	for where, image := range allImages(t) {
		if name, tag := imageRef(image); name == "telegraf" {
			found++
			if tag != want {
				t.Errorf("%s: image %s, but go.mod has Telegraf %s", where, image, want)
			}
		}
	}
	// scraper and the consumer's final stage.
	if found < 2 {
		t.Errorf("found %d telegraf images, want the scraper's and the consumer Dockerfile's", found)
	}
}

// kafkaVersion is scripts/kafka/VERSION, which scripts/kafka.sh reads.
func kafkaVersion(t *testing.T) string {
	t.Helper()
	root := repoRoot(t)
	data, err := os.ReadFile(filepath.Join(root, "scripts", "kafka", "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	v := strings.TrimSpace(string(data))
	script, err := os.ReadFile(filepath.Join(root, "scripts", "kafka.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(script), "scripts/kafka/VERSION") {
		t.Error("scripts/kafka.sh no longer reads scripts/kafka/VERSION: two sources of the Kafka version")
	}
	pom, err := os.ReadFile(filepath.Join(root, "scripts", "kafka", "pom.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "<kafka.version>" + v + "</kafka.version>"; !strings.Contains(string(pom), want) {
		t.Errorf("scripts/kafka/pom.xml: default kafka.version is not %s (want %s)", v, want)
	}
	return v
}

func TestKafkaImageMatchesScript(t *testing.T) {
	want := kafkaVersion(t)
	found := 0
	for where, image := range allImages(t) {
		if name, tag := imageRef(image); name == "apache/kafka" {
			found++
			if tag != want {
				t.Errorf("%s: image %s, but scripts/kafka/VERSION is %s", where, image, want)
			}
		}
	}
	if found != 1 {
		t.Errorf("found %d apache/kafka images, want 1 (backend.yml)", found)
	}
}

// dockerfileInfo is what the test reads from compose/Dockerfile.
type dockerfileInfo struct {
	from  []string // images, not earlier stages
	copy  []string // COPY sources taken from the build context
	goTag string   // the golang image's tag
}

func dockerfile(t *testing.T) dockerfileInfo {
	t.Helper()
	f, err := os.Open("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var d dockerfileInfo
	stages := map[string]bool{}
	sc := bufio.NewScanner(f)
	line := ""
	for sc.Scan() {
		text := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(text, "#") || text == "" && line == "" {
			continue
		}
		// Join continuation lines.
		if strings.HasSuffix(text, "\\") {
			line += strings.TrimSuffix(text, "\\") + " "
			continue
		}
		line += text
		fields := strings.Fields(line)
		line = ""
		if len(fields) == 0 {
			continue
		}
		switch strings.ToUpper(fields[0]) {
		case "FROM":
			args := withoutFlags(fields[1:])
			if len(args) == 0 {
				t.Fatalf("Dockerfile: FROM without an image")
			}
			if !stages[args[0]] {
				d.from = append(d.from, args[0])
				if name, tag := imageRef(args[0]); name == "golang" {
					d.goTag = tag
				}
			}
			if len(args) == 3 && strings.EqualFold(args[1], "AS") {
				stages[args[2]] = true
			}
		case "COPY", "ADD":
			if slices.ContainsFunc(fields[1:], func(f string) bool { return strings.HasPrefix(f, "--from=") }) {
				continue // from an earlier stage, not the context
			}
			args := withoutFlags(fields[1:])
			if len(args) < 2 {
				t.Fatalf("Dockerfile: %s needs a source and a destination: %q", fields[0], strings.Join(fields, " "))
			}
			d.copy = append(d.copy, args[:len(args)-1]...)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return d
}

func withoutFlags(args []string) []string {
	var out []string
	for _, a := range args {
		if !strings.HasPrefix(a, "--") {
			out = append(out, a)
		}
	}
	return out
}

func TestDockerfile(t *testing.T) {
	d := dockerfile(t)
	root := repoRoot(t)
	for _, src := range d.copy {
		if strings.ContainsAny(src, "*?[") {
			t.Errorf("Dockerfile: COPY %s: use plain paths so this test can check them", src)
			continue
		}
		if _, err := os.Stat(filepath.Join(root, src)); err != nil {
			t.Errorf("Dockerfile: COPY source %s missing from the build context (the repository root): %v", src, err)
		}
	}
	// The builder must be at least go.mod's Go, or go build would try to
	// download a toolchain.
	_, goLine := goMod(t)
	m := regexp.MustCompile(`^(\d+\.\d+(\.\d+)?)`).FindString(d.goTag)
	if m == "" {
		t.Fatalf("Dockerfile: no golang:X.Y.Z builder image (found tag %q)", d.goTag)
	}
	if semver.Compare("v"+m, "v"+goLine) < 0 {
		t.Errorf("Dockerfile: golang:%s is older than go.mod's go %s", d.goTag, goLine)
	}
}

func TestReferencedFilesExist(t *testing.T) {
	for _, l := range loadAll(t) {
		for name, s := range l.p.Services {
			where := l.name + ": service " + name
			if s.Build != nil {
				ctx := filepath.Join(".", s.Build.Context) // relative to compose/
				if st, err := os.Stat(ctx); err != nil || !st.IsDir() {
					t.Errorf("%s: build context %s is not a directory", where, s.Build.Context)
				}
				df := s.Build.Dockerfile
				if df == "" {
					df = "Dockerfile"
				}
				if _, err := os.Stat(filepath.Join(ctx, df)); err != nil {
					t.Errorf("%s: dockerfile %s (in context %s): %v", where, df, s.Build.Context, err)
				}
			}
			for _, src := range bindSources(s) {
				if _, err := os.Stat(src); err != nil {
					t.Errorf("%s: mounted file %s does not exist (yet?): %v", where, src, err)
				}
			}
		}
	}
}

// bindSources returns the host paths of the service's bind mounts, relative
// to compose/ (Compose resolves them against the first file's directory, and
// all files live here).
func bindSources(s service) []string {
	var out []string
	for _, v := range s.Volumes {
		src, _, _ := strings.Cut(v, ":")
		if strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/") {
			out = append(out, src)
		}
	}
	return out
}

var (
	// A Compose variable after $$ escapes are removed: $NAME or ${NAME...},
	// with the operator that follows the name.
	composeVar = regexp.MustCompile(`\$(\{)?([A-Za-z_][A-Za-z0-9_]*)(:?-)?`)
	// A shell variable left for the container ($$NAME in the file).
	runtimeVar = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)`)
)

func TestVariablesHaveDefaults(t *testing.T) {
	for _, f := range files {
		for _, n := range scalars(parse(t, f)) {
			for _, m := range composeVar.FindAllStringSubmatch(strings.ReplaceAll(n.Value, "$$", ""), -1) {
				if m[1] == "" || m[3] == "" {
					t.Errorf("%s:%d: $%s has no default: write ${%s:-value} so the file works with an empty environment", f, n.Line, m[2], m[2])
				}
			}
		}
	}

	// What is left after interpolation ($$VAR in the file) is expanded by the
	// container's shell: it must be in the service's environment.
	for _, l := range loadAll(t) {
		for name, s := range l.p.Services {
			var texts []string
			if s.Healthcheck != nil {
				texts = append(texts, s.Healthcheck.Test...)
			}
			texts = append(texts, strs(s.Command)...)
			texts = append(texts, strs(s.Entrypoint)...)
			for _, text := range texts {
				for _, m := range runtimeVar.FindAllStringSubmatch(text, -1) {
					if _, ok := s.Environment[m[1]]; !ok {
						t.Errorf("%s: service %s uses $%s at run time, but its environment does not set it", l.name, name, m[1])
					}
				}
			}
		}
	}
}

// strs flattens a command given as a string or a list.
func strs(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			out = append(out, fmt.Sprint(e))
		}
		return out
	}
	return nil
}

func TestHealthAndRestart(t *testing.T) {
	restarts := []string{"always", "unless-stopped", "on-failure"}
	for _, l := range loadAll(t) {
		for name, s := range l.p.Services {
			where := l.name + ": service " + name
			if !slices.Contains(restarts, strings.SplitN(s.Restart, ":", 2)[0]) {
				t.Errorf("%s: restart %q, want one of %v: the pipeline runs unattended", where, s.Restart, restarts)
			}
			_, exempt := noHealthcheck[name]
			switch {
			case s.Healthcheck == nil && !exempt:
				t.Errorf("%s: no healthcheck", where)
			case s.Healthcheck != nil && exempt:
				t.Errorf("%s: has a healthcheck now: remove it from noHealthcheck", where)
			case s.Healthcheck != nil:
				hc := s.Healthcheck.Test
				if len(hc) < 2 || (hc[0] != "CMD" && hc[0] != "CMD-SHELL") {
					t.Errorf("%s: healthcheck test %q: want [\"CMD\", ...] or [\"CMD-SHELL\", \"...\"]", where, hc)
				}
			}
		}
	}
}

// TestFilesWorkAloneAndTogether: one project, one network, no service defined
// twice, no dependency on a service of another file, no host port used twice.
func TestFilesWorkAloneAndTogether(t *testing.T) {
	all := loadAll(t)
	owner := map[string]string{}
	ports := map[string]string{}
	for _, l := range all {
		if l.p.Name != all[0].p.Name || l.p.Name == "" {
			t.Errorf("%s: project name %q, %s has %q: the files must share one project", l.name, l.p.Name, all[0].name, all[0].p.Name)
		}
		n := l.p.Networks["default"]
		if n == nil || n.Name == "" || n.External {
			t.Errorf("%s: want networks.default with a fixed name (not external, so any file can create it)", l.name)
		} else if first := all[0].p.Networks["default"]; first != nil && n.Name != first.Name {
			t.Errorf("%s: default network %q, %s has %q", l.name, n.Name, all[0].name, first.Name)
		}
		for name, s := range l.p.Services {
			if other, dup := owner[name]; dup {
				t.Errorf("service %s is in %s and %s: together, the later file would silently change it", name, other, l.name)
			}
			owner[name] = l.name
			for _, dep := range dependsOn(s.DependsOn) {
				if _, ok := l.p.Services[dep]; !ok {
					t.Errorf("%s: service %s depends on %s, which is not in this file: the file would not work alone", l.name, name, dep)
				}
			}
			for _, p := range s.Ports {
				i := strings.LastIndex(p, ":")
				if i < 0 {
					continue // container port only: nothing on the host
				}
				host := p[:i]
				if other, dup := ports[host]; dup {
					t.Errorf("%s: service %s publishes %s, as does %s", l.name, name, host, other)
				}
				ports[host] = name
			}
		}
	}
}

func dependsOn(v any) []string {
	switch v := v.(type) {
	case []any:
		return strs(v)
	case map[string]any:
		var out []string
		for k := range v {
			out = append(out, k)
		}
		return out
	}
	return nil
}

// TestAddressesMatch: the broker and Redis addresses handed to Telegraf and
// redis-output are the ones the backend serves on its network.
func TestAddressesMatch(t *testing.T) {
	all := loadAll(t)
	var kafka, redis service
	var redisName string
	for _, l := range all {
		for name, s := range l.p.Services {
			if n, _ := imageRef(s.Image); n == "apache/kafka" {
				kafka = s
			}
			if n, _ := imageRef(s.Image); n == "redis" {
				redis, redisName = s, name
			}
		}
	}
	advertised := kafka.Environment["KAFKA_ADVERTISED_LISTENERS"]
	if advertised == "" || redisName == "" {
		t.Fatal("backend.yml: no kafka with KAFKA_ADVERTISED_LISTENERS, or no redis")
	}
	for _, l := range all {
		for name, s := range l.p.Services {
			if b, ok := s.Environment["KAFKA_BROKERS"]; ok && !strings.Contains(advertised, "//"+b) {
				t.Errorf("%s: service %s: KAFKA_BROKERS=%s is not an advertised listener (%s)", l.name, name, b, advertised)
			}
			if a, ok := s.Environment["REDIS_ADDRESS"]; ok && a != redisName+":6379" {
				t.Errorf("%s: service %s: REDIS_ADDRESS=%s, want %s:6379", l.name, name, a, redisName)
			}
			if _, ok := s.Environment["REDIS_ADDRESS"]; ok && s.Environment["REDIS_PASSWORD"] != redis.Environment["REDIS_PASSWORD"] {
				t.Errorf("%s: service %s: REDIS_PASSWORD differs from the redis service's", l.name, name)
			}
		}
	}
}

// TestConfigVariables: every variable a service sets is read by a Telegraf
// config mounted into it (a misspelt name would be silently ignored), and
// every variable a config needs without a default is set.
func TestConfigVariables(t *testing.T) {
	confVar := regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:?-)?`)
	for _, l := range loadAll(t) {
		for name, s := range l.p.Services {
			var confs []string
			for _, src := range bindSources(s) {
				if strings.HasSuffix(src, ".conf") {
					confs = append(confs, src)
				}
			}
			if len(confs) == 0 {
				continue
			}
			used := map[string]bool{}
			missing := false
			for _, c := range confs {
				data, err := os.ReadFile(c)
				if err != nil {
					t.Errorf("%s: service %s: %v", l.name, name, err)
					missing = true
					continue
				}
				for _, m := range confVar.FindAllStringSubmatch(string(data), -1) {
					used[m[1]] = true
					if _, set := s.Environment[m[1]]; m[2] == "" && !set {
						t.Errorf("%s: service %s: %s uses ${%s} without a default, and the service does not set it", l.name, name, c, m[1])
					}
				}
			}
			for v := range s.Environment {
				if !used[v] && !missing {
					t.Errorf("%s: service %s sets %s, but none of %v reads it", l.name, name, v, confs)
				}
			}
		}
	}
}

// spoolDefault is the spool_dir default of telegraf/redis-output.conf:
// the X of spool_dir = "${REDIS_SPOOL_DIR:-X}".
func spoolDefault(t *testing.T) string {
	t.Helper()
	path := filepath.Join(repoRoot(t), "telegraf", "redis-output.conf")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*spool_dir\s*=\s*"\$\{REDIS_SPOOL_DIR:-([^}"]*)\}"\s*$`).FindStringSubmatch(string(data))
	if m == nil {
		t.Fatalf(`%s: no line spool_dir = "${REDIS_SPOOL_DIR:-<dir>}"`, path)
	}
	return m[1]
}

// TestConsumerSpools: redis-output keeps what it read on disk until it is
// in Redis wherever we start it, so a SIGKILL of it or of the consumer
// Telegraf loses nothing: the spool is on by default in redis-output.conf,
// and every service running redis-output keeps its spool on a volume (a
// container's own layer goes with the container on `up --build`), in a
// directory the image gives to the telegraf user.
func TestConsumerSpools(t *testing.T) {
	def := spoolDefault(t)
	if def == "" || !filepath.IsAbs(def) {
		t.Fatalf("telegraf/redis-output.conf: spool_dir defaults to %q: want an absolute directory, so that the spool is on by default", def)
	}
	d := dockerfile(t)
	raw, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, l := range loadAll(t) {
		for name, s := range l.p.Services {
			mounted := slices.ContainsFunc(bindSources(s), func(src string) bool { return strings.HasSuffix(src, "/redis-output.conf") })
			if !mounted && s.Build == nil {
				continue
			}
			found++
			where := l.name + ": service " + name
			dir, set := s.Environment["REDIS_SPOOL_DIR"]
			if !set || dir == "" {
				dir = def
			}
			onVolume := false
			for _, v := range s.Volumes {
				src, target, _ := strings.Cut(v, ":")
				target, _, _ = strings.Cut(target, ":")
				if src != "" && (dir == target || strings.HasPrefix(dir, strings.TrimSuffix(target, "/")+"/")) {
					onVolume = true
					if !strings.HasPrefix(src, ".") && !strings.HasPrefix(src, "/") && l.p.Volumes != nil {
						if _, declared := l.p.Volumes[src]; !declared {
							t.Errorf("%s: volume %s for the spool is not declared under volumes:", where, src)
						}
					}
				}
			}
			if !onVolume {
				t.Errorf("%s: redis-output's spool %s is not on a volume: it would go with the container", where, dir)
			}
			if s.Build != nil && !regexp.MustCompile(`chown telegraf:telegraf\s+`+regexp.QuoteMeta(dir)+`(\s|$)`).Match(raw) {
				t.Errorf("Dockerfile: %s (the spool of %s) is not made the telegraf user's: redis-output runs as telegraf", dir, where)
			}
		}
	}
	if found == 0 {
		t.Error("no service runs redis-output (none mounts telegraf/redis-output.conf or builds the consumer image)")
	}
	if !slices.Contains(d.copy, "telegraf/redis-output.conf") {
		t.Error("Dockerfile: telegraf/redis-output.conf is not copied into the image: the spool default would not be there")
	}
}
