package torvyn

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var root, _ = filepath.Abs("../..")

func wasm(name string) string {
	return filepath.Join(root, "examples", "components", "wasm", name+".wasm")
}

// must unwraps a result; an error panics, which fails the test with a trace.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestVersion(t *testing.T) {
	if Version() != "0.1.0" {
		t.Fatalf("version %q", Version())
	}
}

func TestHelloWorld(t *testing.T) {
	h := must(NewHost(HostOptions{}))
	defer h.Close()
	p := must(LoadPipeline(filepath.Join(root, "examples", "hello-world")))
	defer p.Close()
	if names := must(p.Flows()); len(names) != 1 || names[0] != "main" {
		t.Fatalf("flows %v", names)
	}
	f := must(h.Start(p, ""))
	defer f.Close()
	s := must(f.Wait(time.Minute))
	if s["state"] != "completed" || s["elements"] != 5.0 || s["copies"] != 10.0 {
		t.Fatalf("summary %v", s)
	}
}

func TestCompilationCacheDir(t *testing.T) {
	dir := t.TempDir()
	for _, where := range []string{filepath.Join(dir, "cache"), ""} {
		where := where
		h := must(NewHost(HostOptions{CompilationCacheDir: &where}))
		p := must(LoadPipeline(filepath.Join(root, "examples", "hello-world")))
		f := must(h.Start(p, ""))
		if s := must(f.Wait(time.Minute)); s["state"] != "completed" {
			t.Fatalf("summary %v", s)
		}
		f.Close()
		p.Close()
		h.Close()
	}
	entries, _ := filepath.Glob(filepath.Join(dir, "cache", "compiled", "*.cwasm"))
	if len(entries) != 2 {
		t.Fatalf("compiled entries %v", entries)
	}
	if all, _ := filepath.Glob(filepath.Join(dir, "*")); len(all) != 1 {
		t.Fatalf("the empty setting wrote something: %v", all)
	}
}

func TestPushAndReadBackInPlace(t *testing.T) {
	h := must(NewHost(HostOptions{WorkerThreads: 2}))
	defer h.Close()
	p := must(LoadPipeline(filepath.Join(root, "examples", "embed")))
	defer p.Close()
	f := must(h.Start(p, "main"))
	defer f.Close()
	go func() {
		for i := 0; i < 500; i++ {
			if err := f.Push("input", []byte(fmt.Sprintf("record %d", i)), "text/plain", Forever); err != nil {
				t.Error(err)
				return
			}
		}
		f.CloseInput("input")
	}()
	seen := 0
	for {
		ok, err := f.Next("output", 30*time.Second, func(payload []byte) error {
			if want := fmt.Sprintf("RECORD %d", seen); string(payload) != want {
				return fmt.Errorf("got %q, want %q", payload, want)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		seen++
	}
	s := must(f.Wait(30*time.Second))
	if seen != 500 || s["elements"] != 500.0 || s["copies"] != 1500.0 {
		t.Fatalf("seen %d, summary %v", seen, s)
	}
}

func TestMisuse(t *testing.T) {
	h := must(NewHost(HostOptions{QueueDepth: 2}))
	defer h.Close()
	p := must(LoadPipeline(filepath.Join(root, "examples", "embed")))
	defer p.Close()
	f := must(h.Start(p, ""))
	if err := f.Push("inptu", []byte("x"), "", 0); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "no ingress named `inptu`") {
		t.Fatalf("wrong port: %v", err)
	}
	if _, err := f.Next("output", 0, func([]byte) error { return nil }); !errors.Is(err, ErrTimeout) {
		t.Fatalf("empty egress: %v", err)
	}
	var err error
	for i := 0; i < 1000 && err == nil; i++ {
		err = f.Push("input", []byte("abc"), "", 0)
		time.Sleep(time.Millisecond)
	}
	if !errors.Is(err, ErrWouldBlock) || !strings.Contains(err.Error(), "is full") {
		t.Fatalf("backpressure: %v", err)
	}
	boom := errors.New("callback failed")
	if _, err := f.Next("output", 10*time.Second, func([]byte) error { return boom }); err != boom {
		t.Fatalf("callback error: %v", err)
	}
	if err := f.CloseInput("input"); err != nil {
		t.Fatal(err)
	}
	if err := f.Push("input", []byte("late"), "", 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("push after close: %v", err)
	}
	for {
		ok, err := f.Next("output", 10*time.Second, func([]byte) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
	}
	must(f.Wait(10*time.Second))
	f.Close()
	f.Close()
	if _, err := f.State(); !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "null") {
		t.Fatalf("use after close: %v", err)
	}
	if _, err := PipelineFromTOML("[flow.main.nodes.a]\ncolour = 1\n", ""); !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "unknown key `colour`") {
		t.Fatalf("bad manifest: %v", err)
	}
	if _, err := LoadPipeline("/no/such/Torvyn.toml"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing manifest: %v", err)
	}
	if _, err := h.Start(p, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown flow: %v", err)
	}
}

func TestTrapCancelAndContract(t *testing.T) {
	h := must(NewHost(HostOptions{}))
	defer h.Close()
	trap := `[flow.main.nodes.in]
endpoint = "ingress"
[flow.main.nodes.bad]
component = "` + wasm("faulty-processor") + `"
config = '{"trap_at": 0}'
[flow.main.nodes.out]
endpoint = "egress"
[[flow.main.edges]]
from = "in"
to = "bad"
[[flow.main.edges]]
from = "bad"
to = "out"
`
	p := must(PipelineFromTOML(trap, ""))
	defer p.Close()
	f := must(h.Start(p, ""))
	defer f.Close()
	if err := f.Push("in", []byte("boom"), "", Forever); err != nil {
		t.Fatal(err)
	}
	s, err := f.Wait(30 * time.Second)
	if !errors.Is(err, ErrTrap) || !strings.Contains(err.Error(), "node `bad`") || s["state"] != "failed" {
		t.Fatalf("trap: %v %v", err, s)
	}
	g := must(h.Start(p, ""))
	defer g.Close()
	go func() {
		time.Sleep(50 * time.Millisecond)
		g.Cancel()
	}()
	if _, err := g.Wait(Forever); !errors.Is(err, ErrCancelled) {
		t.Fatalf("cancel: %v", err)
	}
	mismatch := `[flow.main.nodes.a]
component = "` + wasm("printing-sink") + `"
interface = "torvyn:streaming/source"
[flow.main.nodes.b]
endpoint = "egress"
[[flow.main.edges]]
from = "a"
to = "b"
`
	bad := must(PipelineFromTOML(mismatch, ""))
	defer bad.Close()
	if _, err := h.Start(bad, ""); !errors.Is(err, ErrContractMismatch) {
		t.Fatalf("contract: %v", err)
	}
	if err := h.Shutdown(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Start(p, ""); !errors.Is(err, ErrClosed) {
		t.Fatalf("after shutdown: %v", err)
	}
}

func rssKiB(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Fatal(err)
	}
	pages, err := strconv.Atoi(strings.Fields(string(b))[1])
	if err != nil {
		t.Fatal(err)
	}
	return pages * os.Getpagesize() / 1024
}

func TestTenThousandCreateFreeIterations(t *testing.T) {
	const iterations = 10000
	manifest := filepath.Join(root, "examples", "embed")
	var h *Host
	before := 0
	for i := 0; i < iterations; i++ {
		if i%10 == 0 {
			if h != nil {
				h.Close()
			}
			h = must(NewHost(HostOptions{}))
		}
		p := must(LoadPipeline(manifest))
		f := must(h.Start(p, ""))
		want := fmt.Sprintf("X%d", i)
		if err := f.Push("input", []byte(strings.ToLower(want)), "", Forever); err != nil {
			t.Fatal(err)
		}
		f.CloseInput("input")
		ok, err := f.Next("output", 30*time.Second, func(b []byte) error {
			if string(b) != want {
				return fmt.Errorf("got %q want %q", b, want)
			}
			return nil
		})
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		must(f.Wait(30*time.Second))
		f.Close()
		p.Close()
		if i+1 == iterations/5 {
			before = rssKiB(t)
		}
	}
	h.Close()
	after := rssKiB(t)
	t.Logf("rss after %d iterations: %d KiB; after %d: %d KiB; growth %d KiB", iterations/5, before, iterations, after, after-before)
	if after-before > 4096 {
		t.Fatalf("resident memory grew by %d KiB", after-before)
	}
}

// vmRSSKiB is VmRSS from /proc/self/status, in KiB.
func vmRSSKiB(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			kib, err := strconv.Atoi(strings.Fields(line)[1])
			if err != nil {
				t.Fatal(err)
			}
			return kib
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// Issue 9, item 4: a host used to keep every flow it started; an ended flow
// must be forgotten once its last handle is closed.
func TestTenThousandFlowsOnOneHost(t *testing.T) {
	const flows, warmup, size = 10000, 1000, 64 * 1024
	pattern := bytes.Repeat([]byte("abcdefghijklmnopqrstuvwxyz"), size/26+2)
	upper := bytes.ToUpper(pattern)
	started := time.Now()
	h := must(NewHost(HostOptions{}))
	defer h.Close()
	p := must(LoadPipeline(filepath.Join(root, "examples", "embed")))
	defer p.Close()
	before := 0
	for i := 0; i < flows; i++ {
		k := i % 26
		f := must(h.Start(p, ""))
		if err := f.Push("input", pattern[k:k+size], "text/plain", 30*time.Second); err != nil {
			t.Fatalf("flow %d: push: %v", i, err)
		}
		if err := f.CloseInput("input"); err != nil {
			t.Fatalf("flow %d: close input: %v", i, err)
		}
		ok, err := f.Next("output", 30*time.Second, func(b []byte) error {
			if !bytes.Equal(b, upper[k:k+size]) {
				return fmt.Errorf("flow %d: got %d bytes, not the upper-cased %d-byte payload", i, len(b), size)
			}
			return nil
		})
		if err != nil || !ok {
			t.Fatalf("flow %d: next: %v %v", i, ok, err)
		}
		if ok, err := f.Next("output", 30*time.Second, func([]byte) error { return nil }); err != nil || ok {
			t.Fatalf("flow %d: no end of stream: %v %v", i, ok, err)
		}
		if s, err := f.Wait(30 * time.Second); err != nil || s["state"] != "completed" {
			t.Fatalf("flow %d: wait: %v %v", i, s, err)
		}
		f.Close()
		if i+1 == warmup {
			before = vmRSSKiB(t)
		}
	}
	after := vmRSSKiB(t)
	msg := fmt.Sprintf("%d flows on one host: rss after %d = %d KiB, after %d = %d KiB, growth %d KiB (%.1f s)",
		flows, warmup, before, flows, after, after-before, time.Since(started).Seconds())
	t.Logf("%s", msg)
	fmt.Printf("%s\n", msg)
	if after-before >= 16*1024 {
		t.Fatalf("resident memory grew by %d KiB over %d flows on one host", after-before, flows-warmup)
	}
}

func TestMetricsAndLevel(t *testing.T) {
	h := must(NewHost(HostOptions{}))
	defer h.Close()
	p := must(LoadPipeline(filepath.Join(root, "examples", "embed")))
	defer p.Close()
	f := must(h.Start(p, "main"))
	defer f.Close()
	if err := f.SetObservabilityLevel(ObservabilityLevel(9)); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("level 9: %v", err)
	}
	if err := f.SetObservabilityLevel(ObservabilityDiagnostic); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 30; i++ {
		if err := f.Push("input", []byte(fmt.Sprintf("record %d", i)), "", Forever); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Next("output", 30*time.Second, func([]byte) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if hm := must(h.Metrics()); hm["flows_active"] != 1.0 {
		t.Fatalf("host metrics while running: %v", hm["flows_active"])
	}
	f.CloseInput("input")
	must(f.Wait(time.Minute))
	m := must(f.Metrics())
	latency := m["latency_ns"].(map[string]any)
	if m["level"] != "diagnostic" || m["elements"] != 30.0 || latency["count"] != 30.0 {
		t.Fatalf("metrics %v %v %v", m["level"], m["elements"], latency["count"])
	}
	text := must(h.MetricsText())
	want := fmt.Sprintf("torvyn_flow_elements_total{flow=\"main\",flow_id=\"%v\"} 30\n", m["flow_id"])
	if !strings.Contains(text, want) || !strings.HasSuffix(text, "# EOF\n") {
		t.Fatalf("no %q in\n%s", want, text)
	}
}

func TestTraceparent(t *testing.T) {
	h := must(NewHost(HostOptions{}))
	defer h.Close()
	p := must(LoadPipeline(filepath.Join(root, "examples", "embed")))
	defer p.Close()
	if _, err := h.StartTraced(p, "", "00-bad"); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("bad traceparent: %v", err)
	}
	f := must(h.StartTraced(p, "", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"))
	defer f.Close()
	if err := f.SetObservabilityLevel(ObservabilityDiagnostic); err != nil {
		t.Fatal(err)
	}
	if err := f.Push("input", []byte("x"), "", Forever); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Next("output", 30*time.Second, func([]byte) error { return nil }); err != nil {
		t.Fatal(err)
	}
	f.CloseInput("input")
	must(f.Wait(time.Minute))
	tr := must(f.Trace())
	if tr["trace_id"] != "0af7651916cd43dd8448eb211c80319c" || tr["sampled"] != true {
		t.Fatalf("trace %v", tr)
	}
	spans := tr["spans"].([]any)
	found := false
	for _, s := range spans {
		m := s.(map[string]any)
		if m["node"] == "upper" && m["call"] == "process" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no process span of upper in %v", spans)
	}
}

func TestGrantsAndAudit(t *testing.T) {
	peer, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	addr := peer.Addr().String()
	toml := fmt.Sprintf(`[flow.main.nodes.src]
component = %q
config = '{"count": 2}'

[flow.main.nodes.probe]
component = %q
config = '{"connect": "%s"}'

[flow.main.nodes.sink]
component = %q

[[flow.main.edges]]
from = "src"
to = "probe"

[[flow.main.edges]]
from = "probe"
to = "sink"
`, wasm("counting-source"), wasm("wasi-probe"), addr, wasm("printing-sink"))
	h := must(NewHost(HostOptions{}))
	defer h.Close()
	p := must(PipelineFromTOML(toml, ""))
	defer p.Close()
	if _, err := h.Start(p, "main"); !errors.Is(err, ErrContractMismatch) {
		t.Fatalf("ungranted start: %v", err)
	}
	if err := p.Grant("probe", "clock:wal"); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("bad grant: %v", err)
	}
	for _, g := range []string{"clock:wall", "clock:monotonic", "filesystem", "network:tcp-connect:192.0.2.1:9"} {
		if err := p.Grant("probe", g); err != nil {
			t.Fatal(err)
		}
	}
	denied := make(chan map[string]any, 16)
	if err := h.SetAuditCallback(func(e map[string]any) {
		if e["kind"] == "cap_denied_runtime" && e["capability"] == "network:tcp-connect" {
			denied <- e
		}
	}); err != nil {
		t.Fatal(err)
	}
	f := must(h.Start(p, "main"))
	defer f.Close()
	must(f.Wait(time.Minute))
	select {
	case e := <-denied:
		if e["node"] != "probe" || e["capability"] != "network:tcp-connect" || e["target"] != addr {
			t.Fatalf("event %v", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no denial reached the callback")
	}
	trail := must(f.AuditEvents())
	found := false
	for _, e := range trail {
		found = found || (e["kind"] == "cap_denied_runtime" && e["target"] == addr)
	}
	if !found {
		t.Fatalf("trail %v", trail)
	}
}
