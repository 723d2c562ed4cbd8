package lineage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rs/zerolog"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/meshflow/meshflow/framework/errs"
)

// Config says where events go. The zero value sends nothing.
type Config struct {
	// URL is the receiver's base URL (MESHFLOW_OPENLINEAGE_URL): events are POSTed to
	// URL/api/v1/lineage, Marquez's endpoint (a URL already ending in it is used as
	// it is). "" = no events.
	URL string
	// APIKey, when set, is sent as a Bearer token (MESHFLOW_OPENLINEAGE_API_KEY); a secret.
	APIKey string
	// Namespace is the jobs' namespace (MESHFLOW_OPENLINEAGE_NAMESPACE) [DefaultNamespace].
	Namespace string
	// Lake and Warehouse are where raw streams and ports are kept: the namespaces
	// (without a query string) and data sources of their datasets [the lake's URL;
	// none: ports are in namespace "meshflow-ports"].
	Lake, Warehouse string
	// RetryInterval, doubling, to RetryMaxInterval, is how a receiver that is down is
	// retried until it answers [DefaultRetryInterval, DefaultRetryMaxInterval]. No
	// variable sets them; tests shorten them.
	RetryInterval, RetryMaxInterval time.Duration
	// EndWithin is how long a run's events wait for its end after its START before
	// the mesh sends ABORT itself (a run that was terminated says nothing)
	// [DefaultEndWithin].
	EndWithin time.Duration
}

// Defaults of Config.
const (
	DefaultRetryInterval    = 10 * time.Second
	DefaultRetryMaxInterval = 5 * time.Minute
	DefaultEndWithin        = 30 * 24 * time.Hour
	// Endpoint is the path events are POSTed to under Config.URL.
	Endpoint = "/api/v1/lineage"
)

// Enabled reports whether events are sent.
func (c Config) Enabled() bool { return c.URL != "" }

// WithDefaults fills what c leaves zero.
func (c Config) WithDefaults() Config {
	if c.Namespace == "" {
		c.Namespace = DefaultNamespace
	}
	if c.RetryInterval <= 0 {
		c.RetryInterval = DefaultRetryInterval
	}
	if c.RetryMaxInterval < c.RetryInterval {
		c.RetryMaxInterval = max(DefaultRetryMaxInterval, c.RetryInterval)
	}
	if c.EndWithin <= 0 {
		c.EndWithin = DefaultEndWithin
	}
	return c
}

// Validate checks the receiver's URL.
func (c Config) Validate() error {
	if c.URL == "" {
		if c.APIKey != "" {
			return errs.Errorf(errs.Invalid, "configure OpenLineage", "MESHFLOW_OPENLINEAGE_API_KEY is set but MESHFLOW_OPENLINEAGE_URL is not: set the receiver's URL (Marquez: http://marquez:5000)")
		}
		return nil
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errs.Errorf(errs.Invalid, "configure OpenLineage", "MESHFLOW_OPENLINEAGE_URL=%q is not an http(s) URL such as http://marquez:5000", c.URL)
	}
	return nil
}

// Endpoint is where events are POSTed.
func (c Config) Endpoint() string {
	u := strings.TrimRight(c.URL, "/")
	if strings.HasSuffix(u, Endpoint) {
		return u
	}
	return u + Endpoint
}

// Namespaces are the dataset namespaces of raw streams and of ports, given the lake's
// URL when Config.Lake is not set.
func (c Config) Namespaces(lakeURL string) (raw, ports DataSource) {
	lake := c.Lake
	if lake == "" {
		lake = lakeURL
	}
	return DataSource{Name: "meshflow-lake", URI: withoutQuery(lake)}, DataSource{Name: "meshflow-ports", URI: withoutQuery(c.Warehouse)}
}

func withoutQuery(s string) string {
	s, _, _ = strings.Cut(s, "?")
	return strings.TrimRight(s, "/")
}

// Sender hands a run's events to its lineage workflow, and holds what the workflow's
// activity needs to post them (Register). A Sender whose Config is not Enabled sends
// nothing; so does a nil one.
type Sender struct {
	client client.Client
	cfg    Config
	http   *http.Client
	log    zerolog.Logger
}

// Options are a Sender's optional parts.
type Options struct {
	Log zerolog.Logger
	// HTTPClient posts the events [one with a 30 s timeout].
	HTTPClient *http.Client
}

// New returns the Sender that signals the lineage workflows through c and posts their
// events as cfg says.
func New(c client.Client, cfg Config, o *Options) *Sender {
	if o == nil {
		o = &Options{}
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Sender{client: c, cfg: cfg.WithDefaults(), http: hc, log: o.Log}
}

// Enabled reports whether s sends events.
func (s *Sender) Enabled() bool { return s != nil && s.cfg.Enabled() && s.client != nil }

// Config is s's configuration, defaults filled in.
func (s *Sender) Config() Config {
	if s == nil {
		return Config{}.WithDefaults()
	}
	return s.cfg
}

// Emit hands ev to its run's lineage workflow on taskQueue (starting it with the
// run's first event), which posts it. Handing the same event again is harmless: the
// workflow sends each event type of a run once, and once the run's last event is
// sent its workflow is closed and refuses to start again.
func (s *Sender) Emit(ctx context.Context, taskQueue string, ev RunEvent) error {
	if !s.Enabled() {
		return nil
	}
	id := WorkflowID(ev.Run.RunID)
	_, err := s.client.SignalWithStartWorkflow(ctx, id, SignalName, ev, client.StartWorkflowOptions{
		ID: id, TaskQueue: taskQueue,
		// Closed, the workflow has sent the run's last event: a late duplicate is dropped.
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
	}, WorkflowName)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return nil
	}
	if err != nil {
		return errs.E(errs.Transient, "send the OpenLineage "+string(ev.EventType)+" event of "+ev.Job.Name, err)
	}
	return nil
}

// errRejected is the error type of an event the receiver refused (a 4xx other than
// 408 and 429): sending it again cannot help.
const errRejected = "rejected"

// post sends one event to the receiver.
func (s *Sender) post(ctx context.Context, ev RunEvent) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return temporal.NewNonRetryableApplicationError(err.Error(), errRejected, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.Endpoint(), bytes.NewReader(body))
	if err != nil {
		return temporal.NewNonRetryableApplicationError(err.Error(), errRejected, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if s.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+s.cfg.APIKey)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		// The URL (no secret in it) and the cause; Go's error names the URL already.
		return fmt.Errorf("post to the OpenLineage receiver: %w", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		return fmt.Errorf("the OpenLineage receiver %s answered %s: %s", s.cfg.Endpoint(), resp.Status, strings.TrimSpace(string(answer)))
	default:
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("the OpenLineage receiver %s refused the %s event of %s: %s: %s (check the URL, and the API key if it asks for one)",
			s.cfg.Endpoint(), ev.EventType, ev.Job.Name, resp.Status, strings.TrimSpace(string(answer))), errRejected, nil)
	}
}
