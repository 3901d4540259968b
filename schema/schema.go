// Package schema holds the JSON Schema files of the public message shapes
// (raw item, entry, story, provenance record, dead letter) and validates
// documents against them.
package schema

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

//go:embed *.schema.json
var files embed.FS

// Names of the schemas, by the message's "schema" field.
const (
	Raw        = "raw.schema.json"
	Entry      = "entry.schema.json"
	Story      = "story.schema.json"
	Provenance = "provenance.schema.json"
	DLQ        = "dlq.schema.json"
)

const base = "https://newswire.dev/schema/"

// Validator validates documents against the bundled schemas.
type Validator struct {
	schemas map[string]*jsonschema.Schema
}

// NewValidator compiles every bundled schema, with format assertions on.
func NewValidator() (*Validator, error) {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	names, err := fs.Glob(files, "*.schema.json")
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	for _, n := range names {
		b, err := files.ReadFile(n)
		if err != nil {
			return nil, fmt.Errorf("schema: %w", err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("schema: %s: %w", n, err)
		}
		if err := c.AddResource(base+n, doc); err != nil {
			return nil, fmt.Errorf("schema: %s: %w", n, err)
		}
	}
	v := &Validator{schemas: make(map[string]*jsonschema.Schema)}
	for _, n := range names {
		s, err := c.Compile(base + n)
		if err != nil {
			return nil, fmt.Errorf("schema: compile %s: %w", n, err)
		}
		v.schemas[n] = s
	}
	return v, nil
}

// Validate checks a JSON document against the named schema.
func (v *Validator) Validate(name string, data []byte) error {
	s, ok := v.schemas[name]
	if !ok {
		return fmt.Errorf("schema: unknown schema %q", name)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("schema: not JSON: %w", err)
	}
	if err := s.Validate(doc); err != nil {
		return fmt.Errorf("schema: %s: %w", name, err)
	}
	return nil
}

// Names lists the bundled schema files.
func Names() []string {
	names, _ := fs.Glob(files, "*.schema.json")
	return names
}
