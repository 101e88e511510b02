//go:build !race

package crypto

// allocSlack: see race_test.go.
const allocSlack = 1
