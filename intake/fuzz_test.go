package intake

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// FuzzClassify feeds raw messages through inspection and the whole
// processor (with fakes): nothing may panic, and every message must end
// processed or quarantined with a class and a reason.
func FuzzClassify(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "classify", "*.eml"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n"))
	f.Add([]byte{})
	env := newProcEnv(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		insp, _ := Inspect(raw, env.proc.lim)
		if insp == nil {
			t.Fatal("nil inspection")
		}
		insp.isBounce()
		insp.isAutoReply()
		insp.isForeignList([]string{"security.example.test"})
		insp.answerable(nil, nil, false)
		env.t = t
		env.clock.Advance(25 * 3600e9)
		in := env.ingest(raw)
		if (in.State != StateProcessed && in.State != StateQuarantined) || in.Class == "" || in.Reason == "" {
			t.Fatalf("ended %s/%s %q", in.State, in.Class, in.Reason)
		}
		_ = context.Background()
	})
}
