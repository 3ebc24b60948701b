package ops

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/softfk/softfk/policy"
)

// jsonResult is one relationship in the JSON report.
type jsonResult struct {
	Relationship string      `json:"relationship"`
	Table        string      `json:"table"`
	References   string      `json:"references"`
	Columns      []string    `json:"columns"`
	RefColumns   []string    `json:"ref_columns"`
	Orphans      int64       `json:"orphans"`
	Samples      [][]*string `json:"samples"` // values in the order of columns; null for NULL
	Fixed        *int64      `json:"fixed,omitempty"`
}

// writeReport prints the audit results as a table (with a FIXED column
// after a fix) or as a JSON array.
func writeReport(w io.Writer, results []result, format string, fixed bool) error {
	if format == FormatJSON {
		out := make([]jsonResult, len(results))
		for i, r := range results {
			out[i] = jsonResult{Relationship: r.Rel.Name, Table: r.Rel.Table.String(), References: r.Rel.RefTable.String(),
				Columns: r.Rel.Columns, RefColumns: r.Rel.RefColumns, Orphans: r.Orphans, Samples: r.Samples, Fixed: r.Fixed}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	header := []string{"RELATIONSHIP", "TABLE", "REFERENCES", "ORPHANS"}
	if fixed {
		header = append(header, "FIXED")
	}
	fmt.Fprintln(tw, strings.Join(append(header, "SAMPLE KEYS"), "\t"))
	affected := 0
	for _, r := range results {
		row := []string{r.Rel.Name, r.Rel.Table.String(), r.Rel.RefTable.String(), strconv.FormatInt(r.Orphans, 10)}
		if fixed {
			n := int64(0)
			if r.Fixed != nil {
				n = *r.Fixed
			}
			row = append(row, strconv.FormatInt(n, 10))
		}
		keys := make([]string, len(r.Samples))
		for i, s := range r.Samples {
			keys[i] = policy.KeyText(r.Rel.Columns, s)
		}
		fmt.Fprintln(tw, strings.Join(append(row, strings.Join(keys, ", ")), "\t"))
		if r.Orphans > 0 {
			affected++
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if total := totalOrphans(results); total > 0 {
		_, err := fmt.Fprintf(w, "%s in %d of %d relationship(s)\n", orphansText(total), affected, len(results))
		return err
	}
	_, err := fmt.Fprintf(w, "no orphans in %d relationship(s)\n", len(results))
	return err
}
