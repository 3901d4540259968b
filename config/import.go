package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"go.yaml.in/yaml/v3"
)

// Feed is a feed from a subscription list (an OPML file) that is to
// become an rss source.
type Feed struct {
	Title, URL string
	Tags       []string
}

// NewSources makes an rss source entry for each feed whose URL no
// configured source has yet, in the feeds' order. Its id comes from the
// feed's title (or its host when it has none), made unique among the
// configured ids and the ones given before; its code is the id in capitals.
// interval, when set, is written as the source's poll interval. known
// counts the feeds left out because a source already reads them.
func NewSources(feeds []Feed, configured []Source, interval string) (entries []*yaml.Node, known int) {
	ids, urls := map[string]bool{}, map[string]bool{}
	for _, s := range configured {
		ids[s.ID], urls[s.URL] = true, true
	}
	for _, fd := range feeds {
		if urls[fd.URL] {
			known++
			continue
		}
		id := uniqueID(sourceSlug(fd.Title, fd.URL), ids)
		ids[id], urls[fd.URL] = true, true
		entries = append(entries, sourceNode(id, fd, interval))
	}
	return entries, known
}

// SourcesBlock renders entries as a "sources:" block of the configuration
// file, one flow mapping a line as the example configuration writes them.
func SourcesBlock(entries []*yaml.Node) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("sources:\n")
	if len(entries) > 0 {
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(2)
		if err := enc.Encode(&yaml.Node{Kind: yaml.SequenceNode, Content: entries}); err != nil {
			return nil, err
		}
		if err := enc.Close(); err != nil {
			return nil, err
		}
	}
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	for i := 1; i < len(lines); i++ {
		lines[i] = "  " + lines[i]
	}
	return []byte(strings.Join(lines, "\n") + "\n"), nil
}

// AppendSources returns the configuration file data with entries added at
// the end of its sources list (which it creates when there is none). The
// rest of the document, comments included, is kept. The result must be a
// valid configuration, or nothing is returned but the reason.
func AppendSources(data []byte, entries []*yaml.Node) ([]byte, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, err
	}
	doc := &root
	switch {
	case root.Kind == 0, root.Kind == yaml.DocumentNode && len(root.Content) == 0:
		// An empty file, or one of comments only, is an empty mapping.
		doc = &yaml.Node{Kind: yaml.MappingNode}
		root = yaml.Node{Kind: yaml.DocumentNode, HeadComment: root.HeadComment, Content: []*yaml.Node{doc}}
	case root.Kind == yaml.DocumentNode:
		doc = root.Content[0]
	}
	if doc.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("config: not a YAML mapping")
	}
	var list *yaml.Node
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if doc.Content[i].Value == "sources" {
			list = doc.Content[i+1]
		}
	}
	switch {
	case list == nil:
		list = &yaml.Node{Kind: yaml.SequenceNode}
		doc.Content = append(doc.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "sources"}, list)
	case list.Kind == yaml.ScalarNode && list.Tag == "!!null":
		*list = yaml.Node{Kind: yaml.SequenceNode}
	case list.Kind != yaml.SequenceNode:
		return nil, fmt.Errorf("config: sources is not a list")
	}
	list.Style = 0 // a flow list ("sources: []") becomes a block list
	list.Content = append(list.Content, entries...)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&root); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	if _, err := Parse(b.Bytes()); err != nil {
		return nil, fmt.Errorf("config: the result would not be a valid configuration: %w", err)
	}
	return b.Bytes(), nil
}

// ReplaceFile replaces the file at path with data atomically (a temporary
// file in the same directory, renamed over it and the directory synced),
// keeps the old content as path.bak and keeps the file's permissions and,
// where the caller may set them, its owner and group: the service user
// must still be able to read its configuration. A symbolic link is
// followed, and the file it points to is replaced.
func ReplaceFile(path string, data []byte) error {
	path, err := filepath.EvalSymlinks(path)
	if err != nil {
		return err
	}
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path+".bak", old, 0o600); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".newswire-config-*")
	if err != nil {
		return err
	}
	fail := func(err error) error {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if err := tmp.Chmod(fi.Mode().Perm()); err != nil {
		return fail(err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		// Only root may give a file away; anyone else writes a file they
		// own already, or one of their groups.
		_ = tmp.Chown(int(st.Uid), int(st.Gid))
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if dir, err := os.Open(filepath.Dir(path)); err == nil {
		err = dir.Sync() // the rename itself must survive a crash
		dir.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func sourceNode(id string, fd Feed, interval string) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
	add := func(k string, v *yaml.Node) {
		m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k}, v)
	}
	// Tagged as strings, so that a feed called "Null" or "yes" stays text.
	str := func(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }
	add("id", str(id))
	add("kind", str("rss"))
	add("code", str(sourceCode(id)))
	add("name", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: fd.Title, Style: yaml.DoubleQuotedStyle})
	add("url", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: fd.URL, Style: yaml.DoubleQuotedStyle})
	if interval != "" {
		add("interval", str(interval))
	}
	if len(fd.Tags) > 0 {
		tags := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for _, t := range fd.Tags {
			tags.Content = append(tags.Content, str(t))
		}
		add("tags", tags)
	}
	return m
}

// sourceSlug makes an id from a feed's title, or its host without one:
// lower-case letters and digits, other runs as one dash, at most 40.
func sourceSlug(title, rawURL string) string {
	s := title
	if s == "" {
		s = rawURL
		if i := strings.Index(s, "://"); i >= 0 {
			s = s[i+3:]
		}
	}
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 40 {
			break
		}
	}
	out := strings.Trim(b.String(), "-")
	if out == "" {
		out = "feed"
	}
	return out
}

func uniqueID(base string, used map[string]bool) string {
	id := base
	for n := 2; used[id]; n++ {
		id = fmt.Sprintf("%s-%d", base, n)
	}
	return id
}

// sourceCode is the display code derived from an id: "bbc-news-world" →
// "BBC-NEWS-WORLD", at most 16 characters.
func sourceCode(id string) string {
	c := strings.ToUpper(id)
	if len(c) > 16 {
		c = strings.TrimRight(c[:16], "-")
	}
	return c
}
