package main

import (
	"fmt"
	"io"

	"go.uber.org/zap"

	"github.com/logpipe/logpipe/pipeline/transport"
)

// warnLiteralSecrets logs one warning per secret attribute (password, api_key, token)
// written literally in the configuration file at path when users other than its owner can
// read the file (see transport.LiteralSecrets). The secret itself is never logged.
func warnLiteralSecrets(path string, log *zap.Logger) {
	for _, w := range transport.LiteralSecrets(path) {
		log.Warn("config: "+w.String(), zap.String("file", w.File), zap.Int("line", w.Line), zap.String("attribute", w.Attr))
	}
}

// printLiteralSecrets prints the same warnings as "warning: ..." lines (logpipe validate).
func printLiteralSecrets(path string, stderr io.Writer) {
	for _, w := range transport.LiteralSecrets(path) {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
}
