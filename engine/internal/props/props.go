// Package props holds the property handling both providers of this project share.
package props

import (
	"context"
	"sort"

	"google.golang.org/protobuf/types/known/emptypb"
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

// DiffInputs reads the old and new inputs of a Diff or DiffConfig request (old states written
// before the engine sent old inputs fall back to the old outputs).
func DiffInputs(req *pulumirpc.DiffRequest) (olds, news resource.PropertyMap, err error) {
	if olds, err = Unmarshal(req.GetOldInputs()); err != nil {
		return nil, nil, err
	}
	if len(olds) == 0 {
		if olds, err = Unmarshal(req.GetOlds()); err != nil {
			return nil, nil, err
		}
	}
	news, err = Unmarshal(req.GetNews())
	return olds, news, err
}

// Base is what both providers answer the same way: their version, provider config taken as
// given, and nothing to cancel.
type Base struct {
	pulumirpc.UnimplementedResourceProviderServer
	Version string
}

func (b *Base) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: b.Version}, nil
}

func (b *Base) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (b *Base) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}
