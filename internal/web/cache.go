package web

import (
	"bytes"
	"compress/gzip"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"mistore/internal/bounded"
	"mistore/internal/catalog"
)

// bodyCache keeps rendered pages and API bodies by a key that names every
// input they depend on: the catalog revision, the market, the request's
// parameters and the availability of what they show. A key never goes
// stale; an entry is only dropped to bound memory.
type bodyCache struct {
	entries *bounded.Map[string, *cachedBody]
}

// cachedBody is one rendered response, with its gzip form made on the
// first request that asks for it.
type cachedBody struct {
	body        []byte
	etag        string
	contentType string
	gzOnce      sync.Once
	gz          []byte
}

// newBodyCache keeps up to max bodies: 0 means 1024, negative none.
func newBodyCache(max int) *bodyCache {
	if max == 0 {
		max = 1024
	}
	return &bodyCache{entries: bounded.New[string, *cachedBody](max)}
}

func (c *bodyCache) get(key string) *cachedBody {
	e, _ := c.entries.Get(key)
	return e
}

func (c *bodyCache) put(key string, body []byte, contentType string) *cachedBody {
	e := &cachedBody{body: bytes.Clone(body), etag: etagOf(body), contentType: contentType}
	c.entries.Put(key, e)
	return e
}

func etagOf(body []byte) string {
	h := fnv.New64a()
	h.Write(body)
	return `"` + strconv.FormatUint(h.Sum64(), 36) + `"`
}

// serve writes e as a 200, or 304 when the client has it, compressed when
// the client accepts gzip.
func (e *cachedBody) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", e.contentType)
	h.Set("ETag", e.etag)
	h.Set("Cache-Control", "no-cache")
	h.Add("Vary", "Accept-Encoding")
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, e.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := e.body
	if len(body) > 1024 && acceptsGzip(r) {
		e.gzOnce.Do(func() {
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
			zw.Write(e.body)
			zw.Close()
			e.gz = buf.Bytes()
		})
		body = e.gz
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// viewKey appends what a rendering of views depends on beyond the catalog
// revision: each product's state and each variant's.
func viewKey(b *strings.Builder, views ...catalog.View) {
	for i := range views {
		v := &views[i]
		b.WriteString(v.Slug)
		b.WriteByte('=')
		b.WriteString(string(v.Availability.State))
		for j := range v.Variants {
			b.WriteByte(',')
			b.WriteString(string(v.Variants[j].Availability.State))
		}
		b.WriteByte(';')
	}
}
