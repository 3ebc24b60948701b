// Command relay is a bare TCP byte relay used only as a benchmark baseline:
// it measures the least any proxy can cost on this machine.
//
// It understands nothing of the PostgreSQL protocol. For each accepted
// connection it dials the upstream and copies bytes both ways with io.Copy,
// closing both sides as soon as either direction ends. Whatever softfk costs
// beyond this relay is the price of parsing and policy, not of being a proxy.
//
// Usage:
//
//	go run ./bench/relay -listen 127.0.0.1:6433 -upstream 127.0.0.1:5432
package main

import (
	"flag"
	"io"
	"log"
	"net"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:6433", "address to accept client connections on")
	upstream := flag.String("upstream", "127.0.0.1:5432", "address to relay each connection to")
	flag.Parse()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("relay: %s -> %s", ln.Addr(), *upstream)
	for {
		client, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go relay(client, *upstream)
	}
}

// relay copies bytes between client and a fresh upstream connection until
// either direction ends, then closes both.
func relay(client net.Conn, upstream string) {
	defer client.Close()
	server, err := net.Dial("tcp", upstream)
	if err != nil {
		log.Printf("relay: dial %s: %v", upstream, err)
		return
	}
	defer server.Close()

	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(server, client)
	go pipe(client, server)
	<-done // the deferred closes unblock the other direction
}
