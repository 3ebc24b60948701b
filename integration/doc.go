// Package integration holds softfk's end-to-end tests: each test binary
// starts one throwaway PostgreSQL server (scram-sha-256 password auth on
// TCP, so authentication really is relayed) and runs softfk in front of it.
// Differential tests run the same steps directly against Postgres and
// through softfk and compare what the client sees.
package integration
