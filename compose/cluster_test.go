package compose

import (
	"strings"
	"testing"
)

// TestClusterFile checks compose/cluster.yml, the optional scaled-out
// backend, as the other files are checked: it parses, images are pinned
// (Kafka at the version scripts/kafka.sh runs, Redis as in backend.yml),
// every service has a restart policy and the long-running ones a health
// check, variables have defaults, and the KRaft quorum names every broker.
func TestClusterFile(t *testing.T) {
	l := load(t, "cluster.yml")
	if l.p.Name == "" || l.p.Networks["default"] == nil || l.p.Networks["default"].Name == "" {
		t.Fatal("cluster.yml: want a project name and a named default network")
	}
	wantKafka := kafkaVersion(t)
	var backendRedis string
	for _, s := range load(t, "backend.yml").p.Services {
		if n, tag := imageRef(s.Image); n == "redis" {
			backendRedis = tag
		}
	}
	brokers, nodes := 0, 0
	for name, s := range l.p.Services {
		n, tag := imageRef(s.Image)
		if tag == "" || tag == "latest" {
			t.Errorf("service %s: image %q is not pinned", name, s.Image)
		}
		switch n {
		case "apache/kafka":
			brokers++
			if tag != wantKafka {
				t.Errorf("service %s: kafka %s, scripts/kafka/VERSION is %s", name, tag, wantKafka)
			}
			voters := s.Environment["KAFKA_CONTROLLER_QUORUM_VOTERS"]
			if strings.Count(voters, "@") != 3 {
				t.Errorf("service %s: quorum %q does not name three controllers", name, voters)
			}
		case "redis":
			if tag != backendRedis {
				t.Errorf("service %s: redis %s, backend.yml has %s", name, tag, backendRedis)
			}
			if strings.HasPrefix(name, "redis-") && name != "redis-cluster-init" {
				nodes++
			}
		}
		if s.Restart == "" {
			t.Errorf("service %s: no restart policy", name)
		}
		if s.Healthcheck == nil && name != "redis-cluster-init" {
			t.Errorf("service %s: no health check", name)
		}
		for k, v := range s.Environment {
			if strings.Contains(v, "${") {
				t.Errorf("service %s: %s=%s is left unresolved", name, k, v)
			}
		}
	}
	if brokers != 3 || nodes != 6 {
		t.Errorf("%d brokers and %d redis nodes, want 3 and 6", brokers, nodes)
	}
}
