// Package props holds the property handling both providers of this project share.
package props

import (
	"sort"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// Options keep unknowns (previews send them) and drop nulls.
var Options = plugin.MarshalOptions{KeepUnknowns: true, SkipNulls: true}

func Unmarshal(s *structpb.Struct) (resource.PropertyMap, error) {
	return plugin.UnmarshalProperties(s, Options)
}

func Marshal(m resource.PropertyMap) (*structpb.Struct, error) {
	return plugin.MarshalProperties(m, Options)
}

// Diff compares old and new inputs key by key, skipping `skip` keys; `replaces` says whether a
// changed key needs the resource replaced. Unknown new values count as changes.
func Diff(olds, news resource.PropertyMap, skip map[string]bool, replaces func(key resource.PropertyKey, old, new resource.PropertyValue) bool) *pulumirpc.DiffResponse {
	keys := map[resource.PropertyKey]bool{}
	for k := range olds {
		keys[k] = true
	}
	for k := range news {
		keys[k] = true
	}
	resp := &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE, DetailedDiff: map[string]*pulumirpc.PropertyDiff{}, HasDetailedDiff: true}
	for k := range keys {
		o, n := olds[k], news[k]
		if skip[string(k)] || (!n.ContainsUnknowns() && o.DeepEquals(n)) {
			continue
		}
		kind := pulumirpc.PropertyDiff_UPDATE
		if replaces(k, o, n) {
			kind = pulumirpc.PropertyDiff_UPDATE_REPLACE
			resp.Replaces = append(resp.Replaces, string(k))
		}
		resp.Diffs = append(resp.Diffs, string(k))
		resp.DetailedDiff[string(k)] = &pulumirpc.PropertyDiff{Kind: kind, InputDiff: true}
	}
	sort.Strings(resp.Diffs)
	sort.Strings(resp.Replaces)
	if len(resp.Diffs) > 0 {
		resp.Changes = pulumirpc.DiffResponse_DIFF_SOME
	}
	return resp
}
