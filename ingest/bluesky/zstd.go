package bluesky

import (
	_ "embed"
	"errors"
	"fmt"

	"github.com/klauspost/compress/zstd"
)

// zstdDictionary is the dictionary Jetstream compresses its v1 /subscribe
// frames with when a client asks for compress=true (zstd dictionary ID
// 1612007021). It is a data file published by Bluesky in
// github.com/bluesky-social/jetstream (MIT OR Apache-2.0), copied
// unchanged; see README.md.
//
//go:embed zstd_dictionary
var zstdDictionary []byte

// newZstdDecoder returns a decoder for Jetstream frames whose output is
// capped at maxFrame bytes. It starts no goroutines of its own for
// DecodeAll; Close releases it.
func newZstdDecoder(maxFrame int64) (*zstd.Decoder, error) {
	dec, err := zstd.NewReader(nil,
		zstd.WithDecoderDicts(zstdDictionary),
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderMaxMemory(uint64(maxFrame)+1),
	)
	if err != nil {
		return nil, fmt.Errorf("bluesky: zstd decoder: %w", err)
	}
	return dec, nil
}

func isMalformed(err error) bool { return errors.Is(err, ErrMalformed) }
