package host

import (
	"github.com/meshflow/meshflow/framework/lineage"
	"github.com/meshflow/meshflow/framework/source"
)

// lineageVars configure where OpenLineage run events go (package lineage), in the
// README's order.
var lineageVars = []source.Var{
	{Name: "MESHFLOW_OPENLINEAGE_URL", Doc: "OpenLineage receiver (Marquez: `http://marquez:5000`) each run's START, COMPLETE, FAIL and ABORT events are POSTed to, at `/api/v1/lineage`; unset, none are sent (see Lineage)"},
	{Name: "MESHFLOW_OPENLINEAGE_API_KEY", File: true, Secret: true, Doc: "sent as `Authorization: Bearer …` to the receiver; unset, no header"},
	{Name: "MESHFLOW_OPENLINEAGE_NAMESPACE", Default: "`" + lineage.DefaultNamespace + "`", Doc: "the OpenLineage namespace of the products' jobs"},
}

// readLineage reads the OpenLineage variables.
func readLineage(getenv func(string) string) (lineage.Config, error) {
	c := lineage.Config{URL: getenv("MESHFLOW_OPENLINEAGE_URL"), Namespace: getenv("MESHFLOW_OPENLINEAGE_NAMESPACE")}
	key, err := readSecret(getenv, "MESHFLOW_OPENLINEAGE_API_KEY")
	if err != nil {
		return lineage.Config{}, err
	}
	c.APIKey = key
	c = c.WithDefaults()
	return c, c.Validate()
}
