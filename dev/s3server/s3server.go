//go:build unix

// Package s3server starts a throwaway S3-compatible server — versitygw with its POSIX
// backend, on a temporary directory and a free loopback port — for tests that need a
// real object store rather than an in-memory stand-in.
package s3server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Region is the region the server is addressed with; S3-compatible servers accept any,
// and the SDKs need one to sign.
const Region = "us-east-1"

// Server is a running versitygw.
type Server struct {
	Endpoint             string // http://127.0.0.1:PORT
	AccessKey, SecretKey string
	Client               *s3.Client // path-style, with the server's key

	cmd  *exec.Cmd
	dir  string        // its data, metadata and log
	done chan struct{} // closed when the process exited
	err  error
}

// Bin is the versitygw binary: $MESHFLOW_VERSITYGW_BIN (the Makefile sets it), else
// bin/versitygw in the working directory or a parent; "" when neither exists.
func Bin() string {
	if bin := os.Getenv("MESHFLOW_VERSITYGW_BIN"); bin != "" {
		return bin
	}
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if p := filepath.Join(dir, "bin", "versitygw"); fileExists(p) {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Start runs bin on a new temporary directory and waits until it answers; Stop ends
// it and removes the directory.
func Start(ctx context.Context, bin string) (*Server, error) {
	dir, err := os.MkdirTemp("", "s3server-")
	if err != nil {
		return nil, err
	}
	root, meta := filepath.Join(dir, "data"), filepath.Join(dir, "meta")
	for _, d := range []string{root, meta} {
		if err := os.Mkdir(d, 0o700); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	addr, err := freeAddr()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &Server{Endpoint: "http://" + addr, AccessKey: "s3server", SecretKey: "s3-" + strconv.FormatInt(time.Now().UnixNano(), 36),
		dir: dir, done: make(chan struct{})}
	// Metadata (ETags, content types) in a sidecar directory rather than extended
	// attributes, which not every filesystem offers.
	s.cmd = exec.Command(bin, "--access", s.AccessKey, "--secret", s.SecretKey, "--port", addr, "--quiet", "posix", "--sidecar", meta, root)
	logFile, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer logFile.Close() // the process keeps its own descriptor
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	s.Client = s3.New(s3.Options{BaseEndpoint: aws.String(s.Endpoint), Region: Region, UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, "")})
	if err := s.waitReady(ctx); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	return s, nil
}

// waitReady lists the buckets until the server answers, for up to 30 s.
func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		_, err := s.Client.ListBuckets(ctx, &s3.ListBucketsInput{})
		if err == nil {
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("versitygw exited before it answered (%v):\n%s", s.err, s.log())
		case <-ctx.Done():
			return fmt.Errorf("versitygw did not answer within 30 s: %v\n%s", err, s.log())
		case <-tick.C:
		}
	}
}

// log is what the server printed, for error messages.
func (s *Server) log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "log"))
	return string(b)
}

// CreateBucket creates a bucket.
func (s *Server) CreateBucket(ctx context.Context, name string) error {
	_, err := s.Client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
	return err
}

// Stop ends the server (SIGTERM, SIGKILL after 10 s) and removes its data.
func (s *Server) Stop() error {
	pgid := s.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-s.done
	}
	return os.RemoveAll(s.dir)
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
