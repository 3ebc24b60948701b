package proxy

import (
	"encoding/binary"
	"fmt"

	"github.com/jackc/pgx/v5/pgproto3"
)

// Authentication request codes (the int32 after an 'R' message's length).
const (
	authOK                = 0
	authCleartext         = 3
	authMD5               = 5
	authGSS               = 7
	authGSSContinue       = 8
	authSSPI              = 9
	authSASL              = 10
	authSASLContinue      = 11
	authSASLFinal         = 12
	maxAuthExchangeRounds = 32
)

// relayAuthentication forwards the StartupMessage and then every
// authentication message between client and server until the server is
// ready for queries. Passwords and SCRAM exchanges pass through; softfk
// stores nothing. It records the backend's parameters and key data on the
// way.
func (s *session) relayAuthentication(startup *startupPacket) error {
	if _, err := s.upstream.Write(startup.raw); err != nil {
		return err
	}
	// Messages for the client are batched and written whenever the client
	// has to act: answer an authentication request, or start querying.
	var toClient []byte
	rounds := 0
	for {
		typ, body, err := s.upstreamIn.next()
		if err != nil {
			return fmt.Errorf("reading from upstream during authentication: %w", err)
		}
		switch typ {
		case 'R':
			if len(body) < 4 {
				return fmt.Errorf("malformed authentication request from upstream")
			}
			code := binary.BigEndian.Uint32(body)
			toClient = appendMessage(toClient, typ, body)
			if !authNeedsAnswer(code) {
				continue
			}
			if rounds++; rounds > maxAuthExchangeRounds {
				return fmt.Errorf("authentication exchange did not finish after %d rounds", maxAuthExchangeRounds)
			}
			if err := s.writeClient(toClient); err != nil {
				return err
			}
			toClient = toClient[:0]
			if err := s.relayAuthAnswer(); err != nil {
				return err
			}
		case 'K':
			var key pgproto3.BackendKeyData
			if err := key.Decode(body); err == nil {
				s.backendPID = key.ProcessID
				s.cancelKey = append([]byte(nil), body...)
			}
			toClient = appendMessage(toClient, typ, body)
		case 'S':
			s.noteParameterStatus(body)
			toClient = appendMessage(toClient, typ, body)
		case 'E':
			// Authentication failed, or the server refused us: the client
			// gets the server's own error and the session ends.
			s.writeClient(appendMessage(toClient, typ, body))
			return errAuthFailed
		case 'Z':
			if len(body) > 0 {
				s.router.setStatus(body[0])
			}
			ready := appendMessage(toClient, typ, body)
			if err := s.loadCatalog(); err != nil {
				return err
			}
			return s.writeClient(ready)
		default:
			// NoticeResponse, NegotiateProtocolVersion and anything newer.
			toClient = appendMessage(toClient, typ, body)
		}
	}
}

// authNeedsAnswer reports whether the client must respond to an
// authentication request with that code.
func authNeedsAnswer(code uint32) bool {
	switch code {
	case authCleartext, authMD5, authGSS, authGSSContinue, authSSPI, authSASL, authSASLContinue:
		return true
	}
	return false
}

// relayAuthAnswer forwards the client's answer (a 'p' message) upstream.
func (s *session) relayAuthAnswer() error {
	typ, body, err := s.clientIn.next()
	if err != nil {
		return fmt.Errorf("reading client's authentication answer: %w", err)
	}
	if typ != 'p' {
		return s.failSession(codeProtocolViolation, fmt.Sprintf("expected an authentication answer, got message type %q", typ))
	}
	_, err = s.upstream.Write(appendMessage(nil, typ, body))
	return err
}
