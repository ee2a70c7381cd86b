package main

import (
	"context"
	"net"
	"strings"
	"testing"
)

func TestReachableNamesTheServerThatIsDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	up := ln.Addr().String()
	// A port that was listening a moment ago and no longer is.
	gone, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := gone.Addr().String()
	_ = gone.Close()
	defer ln.Close()

	e := &env{etcd: []string{"http://" + up}, zk: []string{up, down}, postgresDSN: "postgres://u@" + up + "/db"}
	for _, backend := range []string{"etcd", "postgres"} {
		if err := e.reachable(context.Background(), backend); err != nil {
			t.Errorf("%s, listening: %v", backend, err)
		}
	}
	err = e.reachable(context.Background(), "zookeeper")
	if err == nil || !strings.Contains(err.Error(), down) {
		t.Fatalf("zookeeper with %s down: %v, want an error naming it", down, err)
	}
}
