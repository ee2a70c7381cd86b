package dynamocas_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/racefree/racefree/cas"
	"github.com/racefree/racefree/cas/dynamocas"
	"github.com/racefree/racefree/internal/testenv"
	"github.com/racefree/racefree/occ"
)

// fault is what a flaky transport does to one UpdateItem instead of
// forwarding it and returning the server's response.
type fault func(r *http.Request, forward http.RoundTripper) (*http.Response, error)

// flaky is an http.RoundTripper between a Store and the server: armed with
// a fault, it applies it to the next UpdateItem.
type flaky struct {
	forward http.RoundTripper
	armed   atomic.Pointer[fault]
	updates atomic.Int32 // UpdateItem requests the client made
}

func (f *flaky) RoundTrip(r *http.Request) (*http.Response, error) {
	if !strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".UpdateItem") {
		return f.forward.RoundTrip(r)
	}
	f.updates.Add(1)
	if fn := f.armed.Swap(nil); fn != nil {
		return (*fn)(r, f.forward)
	}
	return f.forward.RoundTrip(r)
}

func (f *flaky) arm(fn fault) {
	f.updates.Store(0)
	f.armed.Store(&fn)
}

// lostResponse lets the server apply the request, then drops its response
// as a connection reset does.
func lostResponse(r *http.Request, forward http.RoundTripper) (*http.Response, error) {
	resp, err := forward.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return nil, errors.New("read tcp 127.0.0.1:1->127.0.0.1:2: read: connection reset by peer")
}

// lostToServerError lets the server apply the request, then answers an
// InternalServerError, as DynamoDB may for a write it applied.
func lostToServerError(r *http.Request, forward http.RoundTripper) (*http.Response, error) {
	if resp, err := forward.RoundTrip(r); err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	return reply(r, http.StatusInternalServerError, "InternalServerError"), nil
}

// throttled refuses the request without sending it, as DynamoDB refuses a
// request over the table's throughput.
func throttled(r *http.Request, _ http.RoundTripper) (*http.Response, error) {
	_ = r.Body.Close()
	return reply(r, http.StatusBadRequest, "ProvisionedThroughputExceededException"), nil
}

// denied refuses the request without applying it, as DynamoDB refuses a
// write the caller's role may not make.
func denied(r *http.Request, _ http.RoundTripper) (*http.Response, error) {
	_ = r.Body.Close()
	return reply(r, http.StatusBadRequest, "AccessDeniedException"), nil
}

// proxyTimeout forwards the request, which DynamoDB applies, then answers
// as a proxy whose timeout fired first: a 408 without DynamoDB's error code.
func proxyTimeout(r *http.Request, forward http.RoundTripper) (*http.Response, error) {
	resp, err := forward.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return &http.Response{StatusCode: http.StatusRequestTimeout, Status: "408 Request Timeout",
		Header: http.Header{}, Body: io.NopCloser(strings.NewReader("upstream request timeout")), Request: r}, nil
}

// dialFailed fails to connect, so the request is never sent.
func dialFailed(r *http.Request, _ http.RoundTripper) (*http.Response, error) {
	_ = r.Body.Close()
	return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
}

// reply is a DynamoDB error response with code.
func reply(r *http.Request, status int, code string) *http.Response {
	body := `{"__type":"com.amazonaws.dynamodb.v20120810#` + code + `","message":"injected by the test"}`
	return &http.Response{
		Status:     http.StatusText(status),
		StatusCode: status,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header: http.Header{
			"Content-Type":     {"application/x-amz-json-1.0"},
			"X-Amzn-Requestid": {"injected"},
		},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       r,
	}
}

// flakyStore is a Store on table whose client sends through a flaky
// transport.
func flakyStore(t *testing.T, table string) (*dynamocas.Store, *flaky) {
	t.Helper()
	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	f := &flaky{forward: transport}
	client := dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(testenv.DynamoDBEndpoint(t)),
		Credentials:  credentials.NewStaticCredentialsProvider("racefree", "racefree", ""),
		HTTPClient:   &http.Client{Transport: f},
	})
	return dynamocas.New(client, table), f
}

// TestWriteRetries checks that a conditional write is sent again only when
// it was certainly not applied. A write applied whose response was lost must
// not be sent again: the second attempt would fail its own condition, and
// the Store would report ErrExists, ErrConflict or ErrNotFound for a write
// that succeeded. It reports an error that wraps none of them instead.
func TestWriteRetries(t *testing.T) {
	_, table := newTable(t)
	s, f := flakyStore(t, table)
	ops := []struct {
		name  string
		setup bool // Create the key at version 1 first
		write func(ctx context.Context, key string) error
		want  func(t *testing.T, ctx context.Context, key string)
	}{
		{"Create", false, func(ctx context.Context, key string) error {
			_, err := s.Create(ctx, key, []byte("v1"))
			return err
		}, func(t *testing.T, ctx context.Context, key string) { wantItem(t, ctx, s, key, "v1", 1) }},
		{"CompareAndSwap", true, func(ctx context.Context, key string) error {
			_, err := s.CompareAndSwap(ctx, key, 1, []byte("v2"))
			return err
		}, func(t *testing.T, ctx context.Context, key string) { wantItem(t, ctx, s, key, "v2", 2) }},
		{"CompareAndDelete", true, func(ctx context.Context, key string) error {
			return s.CompareAndDelete(ctx, key, 1)
		}, func(t *testing.T, ctx context.Context, key string) {
			if it, err := s.Get(ctx, key); !errors.Is(err, cas.ErrNotFound) {
				t.Errorf("Get after the delete: %+v, %v; want ErrNotFound", it, err)
			}
		}},
	}
	faults := []struct {
		name    string
		fn      fault
		applied bool // the faulty attempt reached the server and applied
	}{
		{"lost response", lostResponse, true},
		{"server error after applying", lostToServerError, true},
		{"proxy timeout after applying", proxyTimeout, true},
		{"throttled", throttled, false},
		{"dial failed", dialFailed, false},
		{"denied", denied, false},
	}
	for _, op := range ops {
		for _, fl := range faults {
			t.Run(op.name+"/"+fl.name, func(t *testing.T) {
				ctx := t.Context()
				key := t.Name()
				if op.setup {
					if _, err := s.Create(ctx, key, []byte("v1")); err != nil {
						t.Fatal(err)
					}
				}
				f.arm(fl.fn)
				err := op.write(ctx, key)
				sent := f.updates.Load()
				if fl.name == "denied" {
					// Refused for good: one send, and an error that is no
					// unknown outcome; nothing changed.
					if sent != 1 || err == nil || errors.Is(err, cas.ErrOutcomeUnknown) {
						t.Errorf("UpdateItem sent %d times, err = %v; want 1 time and a refusal that is no cas.ErrOutcomeUnknown", sent, err)
					}
					return
				}
				if fl.applied {
					if sent != 1 || !errors.Is(err, cas.ErrOutcomeUnknown) || errors.Is(err, cas.ErrExists) || errors.Is(err, cas.ErrConflict) || errors.Is(err, cas.ErrNotFound) {
						t.Errorf("UpdateItem sent %d times, err = %v; want 1 time and cas.ErrOutcomeUnknown (no ErrExists, ErrConflict or ErrNotFound)", sent, err)
					} else {
						t.Logf("err = %v", err)
					}
				} else if sent != 2 || err != nil {
					t.Errorf("UpdateItem sent %d times, err = %v; want 2 times (one retry) and success", sent, err)
				}
				op.want(t, ctx, key)
			})
		}
	}
}

// TestLostResponseUpdate checks that occ.Update over a Store whose write
// response is lost does not apply its function twice.
func TestLostResponseUpdate(t *testing.T) {
	_, table := newTable(t)
	s, f := flakyStore(t, table)
	ctx := t.Context()
	if _, err := s.Create(ctx, "counter", []byte{0}); err != nil {
		t.Fatal(err)
	}
	f.arm(lostResponse)
	calls := 0
	_, _, err := occ.Update(ctx, s, "counter", func(cur cas.Item) ([]byte, error) {
		calls++
		return []byte{cur.Value[0] + 1}, nil
	})
	if err == nil || calls != 1 {
		t.Errorf("occ.Update(+1) with its response lost: fn called %d times, err = %v; want 1 time and an error", calls, err)
	}
	wantItem(t, ctx, s, "counter", "\x01", 2)
}

func wantItem(t *testing.T, ctx context.Context, s cas.Store, key, value string, version uint64) {
	t.Helper()
	it, err := s.Get(ctx, key)
	if err != nil || !bytes.Equal(it.Value, []byte(value)) || it.Version != version {
		t.Errorf("Get: {%q v%d}, %v; want {%q v%d}", it.Value, it.Version, err, value, version)
	}
}
