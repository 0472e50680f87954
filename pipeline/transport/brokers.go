package transport

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/logpipe/logpipe/pipeline"
)

// Brokers normalises and checks the broker list of a Kafka stage (input "kafka", output
// "kafka", an elasticsearch output's Kafka dead-letter topic). Every Kafka stage calls it
// from its Validate, so that all of them accept the same lists.
//
// Entries holding several addresses separated by commas ("h1:9092,h2:9092", as a list
// passed through one environment variable usually is) are split, and white space around
// each address is trimmed. Every address must then be host:port with a numeric port between
// 1 and 65535 (IPv6 hosts in brackets, "[::1]:9092"), without a scheme ("kafka://",
// "PLAINTEXT://"), spaces or semicolons. attr names the attribute in the errors
// ("brokers", "dead_letter.brokers"); each error is a *pipeline.AttrError whose message
// says how to fix the entry. The returned list holds the valid addresses in order.
//
// An empty list is not an error here: whether brokers are required is the caller's rule.
func Brokers(attr string, list []string) ([]string, error) {
	var out []string
	var errs []error
	for _, entry := range list {
		parts := strings.Split(entry, ",")
		for _, p := range parts {
			addr := strings.TrimSpace(p)
			if err := checkBroker(addr, entry, len(parts) > 1); err != nil {
				errs = append(errs, pipeline.AttrErrorf(attr, "%s", err))
				continue
			}
			out = append(out, addr)
		}
	}
	return out, errors.Join(errs...)
}

// checkBroker checks one address; entry is the list entry it came from (for messages) and
// split says whether entry held several comma-separated addresses.
func checkBroker(addr, entry string, split bool) error {
	from := ""
	if split {
		from = fmt.Sprintf(" (in %q)", entry)
	}
	switch {
	case addr == "" && split:
		return fmt.Errorf("empty broker address in %q: remove the extra comma", entry)
	case addr == "":
		return errors.New("a broker address must not be empty: write host:port, like \"kafka1:9092\"")
	case strings.Contains(addr, ";"):
		return fmt.Errorf("%q holds a ';': separate brokers with commas or list them, like [\"kafka1:9092\", \"kafka2:9092\"]", addr)
	case strings.Contains(addr, "://"):
		rest := addr[strings.Index(addr, "://")+3:]
		return fmt.Errorf("%q%s has a scheme: Kafka brokers are written host:port without one, like %q (TLS and SASL are set with the tls and sasl blocks)", addr, from, strings.TrimRight(rest, "/"))
	case strings.ContainsAny(addr, " \t\r\n"):
		return fmt.Errorf("%q%s contains white space: separate brokers with commas or list them, like [\"kafka1:9092\", \"kafka2:9092\"]", addr, from)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		if !strings.Contains(addr, ":") {
			return fmt.Errorf("%q%s has no port: write host:port, like \"%s:9092\"", addr, from, addr)
		}
		return fmt.Errorf("%q%s is not host:port (IPv6 hosts go in brackets, like \"[::1]:9092\"): %v", addr, from, err)
	}
	if host == "" {
		return fmt.Errorf("%q%s has no host: write host:port, like \"kafka1%s\"", addr, from, addr)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q%s: the port must be a number between 1 and 65535, like \"%s:9092\"", addr, from, host)
	}
	return nil
}
