# mistore developer tasks. `make test` is what CI runs (see .ci/run).

GO          ?= go
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME    ?= 20s

.PHONY: test vet staticcheck build run bench fuzz screenshots

# test stops at the first step that fails: vet, then staticcheck, then the
# whole suite with the race detector. The timeout is per package: on a slow
# two-core machine, with every package's tests running at once,
# internal/web alone took over go test's default of ten minutes.
test:
	$(GO) vet ./...
	$(STATICCHECK) ./...
	$(GO) test -race -count=1 -timeout 30m ./...

vet:
	$(GO) vet ./...

staticcheck:
	$(STATICCHECK) ./...

build:
	$(GO) build -o bin/mistore ./cmd/mistore

run:
	$(GO) run ./cmd/mistore serve

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/catalog/ ./internal/web/

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./internal/money/

# screenshots regenerates the README's pictures in docs/screenshots: the
# browser tests' journeys save them as they go. Chromium is required (no
# skipping), -count=1 since a cached test saves nothing, and the
# accessibility test, which saves none, is left out.
screenshots:
	rm -f docs/screenshots/*.png
	MISTORE_SCREENSHOTS=docs/screenshots MISTORE_REQUIRE_ALL=1 $(GO) test -count=1 -run '^TestBrowser' -skip '^TestBrowserAccessibility$$' ./cmd/mistore
