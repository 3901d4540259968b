// Package deploy holds the shipped configuration files; newswire.yaml is
// also the built-in default used when no --config is given.
package deploy

import _ "embed"

// DefaultConfig is deploy/newswire.yaml.
//
//go:embed newswire.yaml
var DefaultConfig []byte
