package examples

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/softfk/softfk/config"
)

// No container engine runs where the tests run, so docker-compose.yml and
// the Dockerfile are checked statically: their structure, the files they
// mount or copy, and the softfk command line they use.
func TestComposeFileIsConsistent(t *testing.T) {
	raw, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Image     string
			Build     string
			Command   []string
			Volumes   []string
			Ports     []string
			DependsOn map[string]struct{ Condition string } `yaml:"depends_on"`
		}
	}
	if err := yaml.Unmarshal(raw, &compose); err != nil {
		t.Fatal(err)
	}
	pg, sf := compose.Services["postgres"], compose.Services["softfk"]
	if pg.Image == "" || sf.Build != "." || sf.DependsOn["postgres"].Condition != "service_healthy" {
		t.Fatalf("services: %+v", compose.Services)
	}
	for _, svc := range compose.Services {
		for _, v := range svc.Volumes {
			src := strings.Split(v, ":")[0]
			if _, err := os.Stat(filepath.Join("..", src)); err != nil {
				t.Errorf("volume source %s: %v", src, err)
			}
		}
	}
	args := strings.Join(sf.Command, " ")
	for _, want := range []string{"serve", "--config /etc/softfk/softfk.yaml", "--upstream postgres:5432", "--listen 0.0.0.0:6432"} {
		if !strings.Contains(args, want) {
			t.Errorf("softfk command %q lacks %q", args, want)
		}
	}
	if _, err := config.Load("softfk.yaml"); err != nil {
		t.Fatalf("examples/softfk.yaml: %v", err)
	}
	docker, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CGO_ENABLED=1 go build", "./cmd/softfk", `ENTRYPOINT ["softfk"]`} {
		if !strings.Contains(string(docker), want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}
