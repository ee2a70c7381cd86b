package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// EtcdImage is the image of the etcd container (when no endpoint is given).
const EtcdImage = "gcr.io/etcd-development/etcd:v3.5.21"

// EtcdEndpointsVar lists the client URLs of the etcd cluster, comma separated.
const EtcdEndpointsVar = "RACEFREE_ETCD_ENDPOINTS"

var etcdContainer = shared{start: func(ctx context.Context) (string, error) {
	c, err := startGeneric(ctx, testcontainers.ContainerRequest{
		Image:        EtcdImage,
		ExposedPorts: []string{"2379/tcp"},
		Cmd: []string{"/usr/local/bin/etcd", "--name=default", "--data-dir=/etcd-data",
			"--listen-client-urls=http://0.0.0.0:2379", "--advertise-client-urls=http://127.0.0.1:2379",
			"--listen-peer-urls=http://127.0.0.1:2380", "--initial-advertise-peer-urls=http://127.0.0.1:2380",
			"--initial-cluster=default=http://127.0.0.1:2380"},
		WaitingFor: wait.ForHTTP("/health").WithPort("2379/tcp").WithStartupTimeout(time.Minute),
	})
	if err != nil {
		return "", err
	}
	return c.PortEndpoint(ctx, "2379/tcp", "http")
}}

// EtcdEndpoints returns the client URLs of the etcd cluster.
func EtcdEndpoints(t testing.TB) []string {
	t.Helper()
	return splitList(endpoint(t, "etcd", EtcdEndpointsVar, &etcdContainer))
}

// Etcd returns a new etcd client, closed when the test ends. Keys are shared with
// other tests: prefix them with Prefix(t).
func Etcd(t testing.TB) *clientv3.Client {
	t.Helper()
	return dialEtcd(t, EtcdEndpoints(t))
}

// dialEtcd connects to endpoints and checks that the cluster answers.
func dialEtcd(t testing.TB, endpoints []string) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 10 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatalf("testenv: etcd %v (%s): %v", endpoints, EtcdEndpointsVar, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Status(ctx, endpoints[0]); err != nil {
		t.Fatalf("testenv: etcd %v (%s) does not answer: %v", endpoints, EtcdEndpointsVar, err)
	}
	return c
}
