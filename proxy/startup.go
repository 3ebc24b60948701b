package proxy

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
)

// maxStartupPacket is the longest startup packet accepted, as in Postgres.
const maxStartupPacket = 10000

// startupPacket is the client's StartupMessage: the raw packet (forwarded
// unchanged) and its parameters.
type startupPacket struct {
	raw    []byte
	params map[string]string
}

// errCancelHandled tells the caller the connection carried a CancelRequest
// that has been forwarded: there is no session to run.
var errCancelHandled = errors.New("cancel request forwarded")

// readStartup reads the client's first packets: it answers SSLRequest (with
// a TLS handshake when configured) and GSSENCRequest, forwards a
// CancelRequest, and returns the StartupMessage. The client connection may be
// replaced by its TLS wrapper.
func (s *session) readStartup() (*startupPacket, error) {
	tlsDone, gssDone := false, false
	for {
		packet, err := readUntypedPacket(s.client)
		if err != nil {
			return nil, err
		}
		code := binary.BigEndian.Uint32(packet[4:8])
		switch {
		case code == codeSSLRequest && !tlsDone:
			tlsDone = true
			if err := s.answerSSLRequest(); err != nil {
				return nil, err
			}
		case code == codeGSSENCRequest && !gssDone:
			// softfk does not offer GSSAPI encryption; like a server without
			// it, answer N and let the client go on.
			gssDone = true
			if _, err := s.client.Write([]byte{'N'}); err != nil {
				return nil, err
			}
		case code == codeCancelRequest:
			s.srv.forwardCancel(packet)
			return nil, errCancelHandled
		case code>>16 == protocolMajor3:
			params, err := parseStartupParams(packet[8:])
			if err != nil {
				return nil, s.rejectStartup(codeProtocolViolation, "invalid startup packet layout: "+err.Error())
			}
			return &startupPacket{raw: packet, params: params}, nil
		default:
			return nil, s.rejectStartup(codeProtocolViolation,
				fmt.Sprintf("unsupported frontend protocol %d.%d: softfk supports 3.x", code>>16, code&0xffff))
		}
	}
}

// answerSSLRequest says S and performs the TLS handshake when softfk has a
// certificate, otherwise N (the client may then continue in plain text).
func (s *session) answerSSLRequest() error {
	if s.srv.clientTLS == nil {
		_, err := s.client.Write([]byte{'N'})
		return err
	}
	if _, err := s.client.Write([]byte{'S'}); err != nil {
		return err
	}
	tconn := tls.Server(s.client, s.srv.clientTLS)
	if err := tconn.Handshake(); err != nil {
		return fmt.Errorf("TLS handshake with client: %w", err)
	}
	s.client, s.clientIO = tconn, tconn
	s.clientTLS = true
	return nil
}

// rejectStartup sends a FATAL error to a client still in the startup phase.
func (s *session) rejectStartup(code, msg string) error {
	s.client.Write(appendError(nil, fatalError(code, msg, "")))
	return errors.New(msg)
}

// readUntypedPacket reads a startup-phase packet: a length (counting
// itself) and a body starting with a 4-byte code.
func readUntypedPacket(conn net.Conn) ([]byte, error) {
	var header [4]byte
	if _, err := io.ReadFull(conn, header[:]); err != nil {
		return nil, err
	}
	size := int(binary.BigEndian.Uint32(header[:]))
	if size < 8 || size > maxStartupPacket {
		return nil, fmt.Errorf("invalid startup packet length %d", size)
	}
	packet := make([]byte, size)
	copy(packet, header[:])
	if _, err := io.ReadFull(conn, packet[4:]); err != nil {
		return nil, err
	}
	return packet, nil
}

// parseStartupParams decodes the NUL-terminated name/value pairs of a
// StartupMessage.
func parseStartupParams(b []byte) (map[string]string, error) {
	params := map[string]string{}
	for len(b) > 0 && b[0] != 0 {
		name, rest, ok := cutNul(b)
		if !ok {
			return nil, errors.New("unterminated parameter name")
		}
		value, rest2, ok := cutNul(rest)
		if !ok {
			return nil, errors.New("unterminated parameter value")
		}
		params[string(name)] = string(value)
		b = rest2
	}
	if len(b) != 1 {
		return nil, errors.New("missing final terminator")
	}
	return params, nil
}

// cutNul splits b at its first NUL byte.
func cutNul(b []byte) (before, after []byte, ok bool) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return nil, nil, false
	}
	return b[:i], b[i+1:], true
}
