package main

import (
	"os"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/structpb"
)

type structpbStruct = structpb.Struct

func equal(a, b []string) bool { return slices.Equal(a, b) || (len(a) == 0 && len(b) == 0) }

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func assertFile(t *testing.T, path, want string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil || string(got) != want {
		t.Fatalf("%s: %q, %v; want %q", path, got, err, want)
	}
}
