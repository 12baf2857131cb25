// Command otlp-decode reads one protobuf-encoded OTLP ExportMetricsServiceRequest from stdin and
// prints it as JSON on stdout.
//
// It uses the official generated OTLP types (go.opentelemetry.io/proto/otlp) and protojson, so it
// is independent of the OpenTelemetry JS SDK whose output the exemplar tests check: a request that
// the JS exporter encodes wrongly will not decode into the fields the tests expect.
//
// The JSON follows the OTLP/JSON conventions (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding):
// lowerCamelCase field names, 64-bit integers as strings, and trace and span ids as lowercase hex
// (protojson would print bytes as base64; the ids are rewritten to hex so tests can compare them
// with the ids in the traces).
//
//	otlp-decode < request.bin
//	otlp-decode -raw < request.bin   # plain protojson, ids left as base64
package main

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	collectormetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

func main() {
	raw := flag.Bool("raw", false, "print plain protojson output (trace and span ids in base64)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: otlp-decode [-raw] < ExportMetricsServiceRequest.bin")
		flag.PrintDefaults()
	}
	flag.Parse()
	if err := run(os.Stdin, os.Stdout, *raw); err != nil {
		fmt.Fprintln(os.Stderr, "otlp-decode:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer, raw bool) error {
	data, err := io.ReadAll(in)
	if err != nil {
		return fmt.Errorf("reading stdin: %w", err)
	}
	var req collectormetrics.ExportMetricsServiceRequest
	// DiscardUnknown is off: unknown fields are kept, but protojson cannot print them, so a
	// request that only decodes thanks to them shows up as missing data in the tests.
	if err := proto.Unmarshal(data, &req); err != nil {
		return fmt.Errorf("decoding ExportMetricsServiceRequest (%d bytes): %w", len(data), err)
	}
	js, err := protojson.MarshalOptions{Multiline: raw, Indent: "  "}.Marshal(&req)
	if err != nil {
		return fmt.Errorf("encoding JSON: %w", err)
	}
	if raw {
		_, err = fmt.Fprintln(out, string(js))
		return err
	}
	var doc any
	if err := json.Unmarshal(js, &doc); err != nil {
		return fmt.Errorf("re-reading JSON: %w", err)
	}
	hexIDs(doc)
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// hexIDs rewrites the base64 "traceId" and "spanId" values (exemplars carry them) to lowercase
// hex, as the OTLP/JSON encoding prescribes.
func hexIDs(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if s, ok := val.(string); ok && (k == "traceId" || k == "spanId") {
				if b, err := base64.StdEncoding.DecodeString(s); err == nil {
					x[k] = hex.EncodeToString(b)
				}
				continue
			}
			hexIDs(val)
		}
	case []any:
		for _, val := range x {
			hexIDs(val)
		}
	}
}
