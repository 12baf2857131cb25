// k8s-validate checks Kubernetes manifests against the OpenAPI schema of the Kubernetes release
// itself, offline: api/openapi-spec/swagger.json of the k8s.io/kubernetes module, which
// native/build-tools.sh copies next to this binary. It reports a field of the wrong type, a field
// the schema does not declare and a required field that is missing (kubectl's former client-side
// validation, k8s.io/kubectl/pkg/util/openapi), and an object whose kind the schema does not have.
//
//	helm template ... | k8s-validate              (the spec next to the binary)
//	k8s-validate -spec swagger.json a.yaml b.yaml
//
// The spec is generated with every alpha and beta API turned on, so it knows kinds that a cluster
// does not serve unless told to: alpha and beta versions are refused unless -allow-prerelease.
// What it cannot see is what the API server checks beyond the schema (a selector that does not
// match its template's labels, immutable fields, admission): the API-server test covers that.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/kube-openapi/pkg/util/proto/validation"
	"k8s.io/kubectl/pkg/util/openapi"
	"sigs.k8s.io/yaml"
)

var prerelease = regexp.MustCompile(`^v\d+(alpha|beta)\d+$`)

func main() {
	spec := flag.String("spec", "", "the OpenAPI v2 spec (default: swagger.json next to this binary)")
	allowPrerelease := flag.Bool("allow-prerelease", false, "accept alpha and beta API versions")
	flag.Parse()
	if *spec == "" {
		self, err := os.Executable() // the versioned folder, not the link in bin/
		if err != nil {
			fail(err)
		}
		*spec = filepath.Join(filepath.Dir(self), "swagger.json")
	}
	resources, err := loadSpec(*spec)
	if err != nil {
		fail(err)
	}
	input, err := readInput(flag.Args())
	if err != nil {
		fail(err)
	}
	objects, invalid, err := validateAll(input, resources, *allowPrerelease)
	if err != nil {
		fail(err)
	}
	fmt.Printf("%d objects, %d invalid\n", objects, invalid)
	if invalid > 0 || objects == 0 {
		os.Exit(1)
	}
}

func loadSpec(file string) (openapi.Resources, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	doc, err := openapi_v2.ParseDocument(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return openapi.NewOpenAPIData(doc)
}

// readInput concatenates the files named (or stdin) as one YAML stream.
func readInput(files []string) ([]byte, error) {
	if len(files) == 0 {
		return io.ReadAll(os.Stdin)
	}
	var all bytes.Buffer
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		all.Write(b)
		all.WriteString("\n---\n")
	}
	return all.Bytes(), nil
}

// validateAll prints one line per problem and returns how many objects it read and how many failed.
func validateAll(input []byte, resources openapi.Resources, allowPrerelease bool) (objects, invalid int, err error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(input)))
	for {
		chunk, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return objects, invalid, nil
		}
		if err != nil {
			return objects, invalid, err
		}
		var obj map[string]any
		if err := yaml.Unmarshal(chunk, &obj); err != nil {
			fmt.Printf("not YAML: %v\n", err)
			invalid++
			continue
		}
		if len(obj) == 0 {
			continue // an empty document, e.g. a template that rendered nothing
		}
		objects++
		if problems := validate(obj, resources, allowPrerelease); len(problems) > 0 {
			invalid++
			for _, problem := range problems {
				fmt.Printf("%s: %s\n", describe(obj), problem)
			}
		}
	}
}

func validate(obj map[string]any, resources openapi.Resources, allowPrerelease bool) []string {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil || kind == "" {
		return []string{fmt.Sprintf("apiVersion %q and kind %q do not name a type", apiVersion, kind)}
	}
	if !allowPrerelease && prerelease.MatchString(gv.Version) {
		return []string{fmt.Sprintf("%s is a prerelease version, not served by a cluster unless enabled", apiVersion)}
	}
	model := resources.LookupResource(gv.WithKind(kind))
	if model == nil {
		return []string{"the schema has no such kind"}
	}
	var problems []string
	for _, e := range validation.ValidateModel(obj, model, kind) {
		problems = append(problems, e.Error())
	}
	return problems
}

func describe(obj map[string]any) string {
	metadata, _ := obj["metadata"].(map[string]any)
	name, _ := metadata["name"].(string)
	return fmt.Sprintf("%v %v/%s", obj["apiVersion"], obj["kind"], name)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "k8s-validate:", err)
	os.Exit(2)
}
