package main

import (
	"archive/zip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
)

// linguaModel is one of lingua-go's n-gram files: the relative frequency
// of each n-gram of one length in one language's training text.
type linguaModel struct {
	n     int
	total uint64
	prob  map[string]float64
}

var errFormat = errors.New("langmodel: unexpected lingua model format")

// readLinguaModel reads language-models/<iso>/<name>s.pb.bin.zip under
// dir, the root of lingua-go's module: a zip holding one protocol-buffer
// message (lingua's serialization/model.proto):
//
//	message SerializableLanguageModel {
//	  SerializableLanguage language = 1;    // enum, unused here
//	  uint32 ngram_length = 2;
//	  uint32 total_ngrams = 3;
//	  repeated SerializableNgramSet ngram_sets = 4;
//	}
//	message SerializableNgramSet {
//	  double probability = 1;
//	  repeated string ngrams = 2;
//	}
func readLinguaModel(dir, iso, name string) (*linguaModel, error) {
	path := filepath.Join(dir, "language-models", iso, name+"s.pb.bin.zip")
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("langmodel: %w", err)
	}
	defer zr.Close()
	if len(zr.File) != 1 {
		return nil, fmt.Errorf("%w: %s holds %d files", errFormat, path, len(zr.File))
	}
	rc, err := zr.File[0].Open()
	if err != nil {
		return nil, fmt.Errorf("langmodel: %s: %w", path, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("langmodel: %s: %w", path, err)
	}
	m, err := decodeModel(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// decodeModel decodes a SerializableLanguageModel.
func decodeModel(b []byte) (*linguaModel, error) {
	m := &linguaModel{prob: map[string]float64{}}
	err := eachField(b, func(num int, wire int, v uint64, sub []byte) error {
		switch {
		case num == 2 && wire == wireVarint:
			m.n = int(v)
		case num == 3 && wire == wireVarint:
			m.total = v
		case num == 4 && wire == wireBytes:
			return decodeSet(sub, m.prob)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if m.n < 1 || len(m.prob) == 0 {
		return nil, fmt.Errorf("%w: n-gram length %d, %d n-grams", errFormat, m.n, len(m.prob))
	}
	return m, nil
}

// decodeSet decodes a SerializableNgramSet into prob.
func decodeSet(b []byte, prob map[string]float64) error {
	var p float64
	var ngrams []string
	err := eachField(b, func(num int, wire int, v uint64, sub []byte) error {
		switch {
		case num == 1 && wire == wireFixed64:
			p = math.Float64frombits(v)
		case num == 2 && wire == wireBytes:
			ngrams = append(ngrams, string(sub))
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !(p > 0 && p <= 1) {
		return fmt.Errorf("%w: probability %v", errFormat, p)
	}
	for _, g := range ngrams {
		prob[g] = p
	}
	return nil
}

// Protocol-buffer wire types (protobuf.dev/programming-guides/encoding).
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

// eachField calls f for every field of a message: the varint or fixed
// value in v, or the bytes of a length-delimited field in sub.
func eachField(b []byte, f func(num, wire int, v uint64, sub []byte) error) error {
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			return fmt.Errorf("%w: bad field key", errFormat)
		}
		b = b[n:]
		num, wire := int(key>>3), int(key&7)
		var v uint64
		var sub []byte
		switch wire {
		case wireVarint:
			v, n = binary.Uvarint(b)
			if n <= 0 {
				return fmt.Errorf("%w: bad varint", errFormat)
			}
			b = b[n:]
		case wireFixed64:
			if len(b) < 8 {
				return fmt.Errorf("%w: short fixed64", errFormat)
			}
			v, b = binary.LittleEndian.Uint64(b), b[8:]
		case wireFixed32:
			if len(b) < 4 {
				return fmt.Errorf("%w: short fixed32", errFormat)
			}
			v, b = uint64(binary.LittleEndian.Uint32(b)), b[4:]
		case wireBytes:
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return fmt.Errorf("%w: bad length", errFormat)
			}
			sub, b = b[n:n+int(l)], b[n+int(l):]
		default:
			return fmt.Errorf("%w: wire type %d", errFormat, wire)
		}
		if err := f(num, wire, v, sub); err != nil {
			return err
		}
	}
	return nil
}
