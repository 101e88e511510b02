package intake

import (
	"os"
	"path/filepath"
)

func writeFile(p, s string) error { return os.WriteFile(p, []byte(s), 0o600) }

func filepathGlob(pattern string) ([]string, error) {
	m, err := filepath.Glob(pattern)
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	return m, err
}
