package proxy

import (
	"github.com/jackc/pgx/v5/pgproto3"
)

// SQLSTATE codes of the errors softfk itself raises.
const (
	codeProtocolViolation  = "08P01"
	codeConnectionFailure  = "08006"
	codeCannotConnect      = "08001"
	codeAdminShutdown      = "57P01"
	codeInternalError      = "XX000"
	codeFeatureUnsupported = "0A000"
	// Codes softfk translates between:
	codeLockNotAvailable     = "55P03"
	codeSerializationFailure = "40001"
	codeReadOnlyTransaction  = "25006"
	// The code of the error that ends a COPY its client failed:
	codeQueryCanceled = "57014"
	// Codes of encoding conversion errors (see placeParamError):
	codeCharacterNotInRepertoire = "22021"
	codeUntranslatableCharacter  = "22P05"
)

// fatalError builds a FATAL ErrorResponse: the session ends after it.
func fatalError(code, msg, hint string) *pgproto3.ErrorResponse {
	return &pgproto3.ErrorResponse{
		Severity:            "FATAL",
		SeverityUnlocalized: "FATAL",
		Code:                code,
		Message:             msg,
		Hint:                hint,
	}
}

// appendError encodes an ErrorResponse onto dst.
func appendError(dst []byte, e *pgproto3.ErrorResponse) []byte {
	out, err := e.Encode(dst)
	if err != nil {
		// Encode fails only for impossible field values; keep what we had.
		return dst
	}
	return out
}
