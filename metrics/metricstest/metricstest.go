// Package metricstest reads a running metrics endpoint the way Prometheus
// does, for tests that check what softfk reports.
package metricstest

import (
	"fmt"
	"io"
	"net/http"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Scrape is one reading of an endpoint's metrics, by family name.
type Scrape map[string]*dto.MetricFamily

// Get reads and parses the text format served at url (…/metrics).
func Get(url string) (Scrape, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	return parser.TextToMetricFamilies(resp.Body)
}

// Health returns the status code and body of the health check at url
// (…/healthz).
func Health(url string) (int, string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// Value sums the counters and gauges of family name whose labels include
// every label in match (given as name, value pairs); for a histogram it
// sums the sample counts. A family or series not served counts as 0.
func (s Scrape) Value(name string, match ...string) float64 {
	fam := s[name]
	if fam == nil {
		return 0
	}
	total := 0.0
	for _, m := range fam.Metric {
		if !hasLabels(m, match) {
			continue
		}
		switch {
		case m.Counter != nil:
			total += m.Counter.GetValue()
		case m.Gauge != nil:
			total += m.Gauge.GetValue()
		case m.Histogram != nil:
			total += float64(m.Histogram.GetSampleCount())
		}
	}
	return total
}

// hasLabels reports whether m carries every name, value pair of match.
func hasLabels(m *dto.Metric, match []string) bool {
	for i := 0; i+1 < len(match); i += 2 {
		found := false
		for _, l := range m.Label {
			if l.GetName() == match[i] && l.GetValue() == match[i+1] {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
