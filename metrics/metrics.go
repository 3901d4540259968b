// Package metrics exposes the stages' counters and every source's health
// in the Prometheus text format.
package metrics

import (
	"net/http"
	"reflect"
	"strings"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewRegistry returns a registry with the Go runtime and process collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Handler serves reg.
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// Stats is a prometheus.Collector over a component's counter struct: every
// integer field (int, int64 or anything with Load() int64, such as
// atomic.Int64) becomes newswire_<subsystem>_<field>_total; a field
// tagged `metric:"gauge"` (how much is held now, not how many since
// start) becomes the gauge newswire_<subsystem>_<field>. A map from
// source id to such a struct (per-channel counters) gives the same metrics
// with a "source" label. Stats are read on every scrape, so the component
// needs no knowledge of Prometheus.
type Stats struct {
	subsystem string
	read      func() any
	labels    prometheus.Labels
}

// NewStats reads counters from read, which returns a struct or a pointer to one.
func NewStats(subsystem string, labels prometheus.Labels, read func() any) *Stats {
	return &Stats{subsystem: subsystem, read: read, labels: labels}
}

// Describe sends nothing: the metrics are unchecked, since their set comes
// from the struct's fields.
func (s *Stats) Describe(chan<- *prometheus.Desc) {}

// Collect emits one counter per integer field.
func (s *Stats) Collect(ch chan<- prometheus.Metric) {
	v := reflect.ValueOf(s.read())
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	if v.Kind() == reflect.Map && v.Type().Key().Kind() == reflect.String {
		iter := v.MapRange()
		for iter.Next() {
			s.emit(ch, iter.Value(), iter.Key().String())
		}
		return
	}
	s.emit(ch, v, "")
}

func (s *Stats) emit(ch chan<- prometheus.Metric, v reflect.Value, source string) {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return
	}
	if !v.CanAddr() {
		// map values are not addressable; copy so atomic fields can be loaded
		c := reflect.New(v.Type()).Elem()
		c.Set(v)
		v = c
	}
	var varLabels []string
	var values []string
	if source != "" {
		varLabels, values = []string{"source"}, []string{source}
	}
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		n, ok := intValue(v.Field(i))
		if !ok {
			continue
		}
		if f.Tag.Get("metric") == "gauge" {
			name := prometheus.BuildFQName("newswire", s.subsystem, snake(f.Name))
			desc := prometheus.NewDesc(name, s.subsystem+" "+f.Name+" now", varLabels, s.labels)
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(n), values...)
			continue
		}
		name := prometheus.BuildFQName("newswire", s.subsystem, snake(f.Name)+"_total")
		desc := prometheus.NewDesc(name, s.subsystem+" "+f.Name+" since start", varLabels, s.labels)
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(n), values...)
	}
}

// StatsOf builds a Stats collector over component's Stats() method, of
// whatever type it returns; ok is false when component has none.
func StatsOf(subsystem string, labels prometheus.Labels, component any) (*Stats, bool) {
	m := reflect.ValueOf(component).MethodByName("Stats")
	if !m.IsValid() || m.Type().NumIn() != 0 || m.Type().NumOut() != 1 {
		return nil, false
	}
	return NewStats(subsystem, labels, func() any { return m.Call(nil)[0].Interface() }), true
}

type loader interface{ Load() int64 }

func intValue(f reflect.Value) (int64, bool) {
	switch f.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32:
		return f.Int(), true
	case reflect.Struct:
		if f.CanAddr() {
			if l, ok := f.Addr().Interface().(loader); ok {
				return l.Load(), true
			}
		}
	}
	return 0, false
}

// snake turns a Go field name into a metric name part: NotModified →
// not_modified, InvalidUTF8 → invalid_utf8.
func snake(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		if unicode.IsUpper(r) {
			if i > 0 && (unicode.IsLower(rs[i-1]) || (i+1 < len(rs) && unicode.IsLower(rs[i+1]) && unicode.IsUpper(rs[i-1]))) {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
