package transport

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// ErrAuthentication is wrapped by the error a Kafka connection returns when the broker
// closed it during SASL authentication (how brokers refuse a wrong username or password).
var ErrAuthentication = errors.New("SASL authentication failed")

// KafkaSecurity is what a kafka-go Dialer and Transport need to apply a stage's tls and
// sasl blocks. Set Dialer.DialFunc and Transport.Dial to Dial (which performs the TLS
// handshake itself: leave their TLS fields nil), and Dialer.SASLMechanism and Transport.SASL
// to SASL.
type KafkaSecurity struct {
	// SASL is nil when there is no sasl block. It never prints its password.
	SASL sasl.Mechanism
	// Dial connects, performs the TLS handshake when there is a tls block (errors name the
	// broker and say what failed), and reports a connection that the broker closed during
	// SASL authentication as ErrAuthentication.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// TLS is the client TLS configuration Dial uses; nil without a tls block.
	TLS *tls.Config
}

// Kafka builds the Kafka client security of a stage's tls and sasl blocks, reading their
// files. Either block may be nil (off).
func Kafka(t *TLS, s *SASL) (*KafkaSecurity, error) {
	tc, err := t.Config()
	if err != nil {
		return nil, err
	}
	ks := &KafkaSecurity{TLS: tc}
	var mechName, user string
	if s != nil {
		pw, err := s.Secret()
		if err != nil {
			return nil, err
		}
		var m sasl.Mechanism
		switch s.Mechanism {
		case MechanismPlain, "":
			m = plain.Mechanism{Username: s.Username, Password: pw.Reveal()}
		case MechanismSCRAMSHA256, MechanismSCRAMSHA512:
			algo := scram.SHA256
			if s.Mechanism == MechanismSCRAMSHA512 {
				algo = scram.SHA512
			}
			m, err = scram.Mechanism(algo, s.Username, pw.Reveal())
			if err != nil {
				// xdg-go/scram's errors (SASLprep) name the problem, never the password.
				return nil, fmt.Errorf("sasl: %s for user %q: %w", s.Mechanism, s.Username, err)
			}
		default:
			return nil, fmt.Errorf("sasl.mechanism: unknown mechanism %q", s.Mechanism)
		}
		mechName, user = m.Name(), s.Username
		ks.SASL = redactedMechanism{m: m, name: s.Mechanism, user: s.Username}
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	ks.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if tc != nil {
			cfg := tc
			if cfg.ServerName == "" {
				cfg = tc.Clone()
				if host, _, err := net.SplitHostPort(addr); err == nil {
					cfg.ServerName = host
				}
			}
			tlsConn := tls.Client(c, cfg)
			if err := tlsConn.HandshakeContext(ctx); err != nil {
				_ = c.Close()
				return nil, fmt.Errorf("tls handshake with broker %s: %w", addr, err)
			}
			c = tlsConn
		}
		if mechName == "" {
			return c, nil
		}
		return &saslWatchConn{Conn: c, addr: addr, mech: mechName, user: user}, nil
	}
	return ks, nil
}

// Kafka API keys of the SASL requests.
const (
	apiSASLHandshake    = 17
	apiSASLAuthenticate = 36
)

// saslWatchConn follows the Kafka request frames written on a connection (size, then API
// key) to know whether the last request was part of SASL authentication; when the broker
// then closes the connection, the read error says so.
type saslWatchConn struct {
	net.Conn
	addr, mech, user string

	inAuth  bool    // the last request was SaslHandshake or SaslAuthenticate
	left    int     // bytes of the current request frame still to be written
	hdr     [6]byte // a frame header being collected across writes
	hdrFill int
}

func (c *saslWatchConn) Write(p []byte) (int, error) {
	c.observe(p)
	return c.Conn.Write(p)
}

func (c *saslWatchConn) observe(p []byte) {
	for len(p) > 0 {
		if c.left > 0 {
			n := min(c.left, len(p))
			c.left -= n
			p = p[n:]
			continue
		}
		n := copy(c.hdr[c.hdrFill:], p)
		c.hdrFill += n
		p = p[n:]
		if c.hdrFill < len(c.hdr) {
			return
		}
		size := int(int32(binary.BigEndian.Uint32(c.hdr[:4])))
		api := int16(binary.BigEndian.Uint16(c.hdr[4:6]))
		c.inAuth = api == apiSASLHandshake || api == apiSASLAuthenticate
		c.left = max(size-2, 0)
		c.hdrFill = 0
	}
}

func (c *saslWatchConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil && c.inAuth && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || isReset(err)) {
		// Not wrapping err: kafka-go turns any error that is io.EOF into an opaque
		// io.ErrUnexpectedEOF.
		err = fmt.Errorf("%w: broker %s closed the connection during SASL %s authentication of user %q (wrong username, password or mechanism?): %v",
			ErrAuthentication, c.addr, c.mech, c.user, err)
	}
	return n, err
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "read"
}

// redactedMechanism wraps a kafka-go mechanism (whose fields hold the password) so that
// printing a Dialer or Transport never shows it.
type redactedMechanism struct {
	m    sasl.Mechanism
	name string
	user string
}

func (r redactedMechanism) Name() string { return r.m.Name() }

func (r redactedMechanism) Start(ctx context.Context) (sasl.StateMachine, []byte, error) {
	return r.m.Start(ctx)
}

func (r redactedMechanism) String() string {
	return fmt.Sprintf("sasl %s user %q password %s", r.name, r.user, Redacted)
}

func (r redactedMechanism) GoString() string { return r.String() }

func (r redactedMechanism) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(r.String())) }
