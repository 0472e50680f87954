package pipeline

import (
	"fmt"
	"os"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// envFunc returns the HCL function env: env("NAME") is the value of the environment
// variable NAME and env("NAME", "default") falls back to default when NAME is unset. An
// unset variable without a default is an error (reported at the call), never "". A variable
// that is set to the empty string is "", default or not.
//
// lookupEnv is how variables are read (os.LookupEnv when nil), so tests and callers never
// depend on the process environment.
func envFunc(lookupEnv func(string) (string, bool)) function.Function {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	return function.New(&function.Spec{
		Description: "Reads an environment variable, with an optional default.",
		Params: []function.Parameter{
			{Name: "name", Type: cty.String},
		},
		VarParam: &function.Parameter{Name: "default", Type: cty.String},
		Type:     function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if len(args) > 2 {
				return cty.NilVal, function.NewArgErrorf(2, "env takes a variable name and at most one default")
			}
			name := args[0].AsString()
			if name == "" {
				return cty.NilVal, function.NewArgErrorf(0, "the variable name must not be empty")
			}
			if v, ok := lookupEnv(name); ok {
				return cty.StringVal(v), nil
			}
			if len(args) == 2 {
				return args[1], nil
			}
			return cty.NilVal, fmt.Errorf("environment variable %q is not set and no default was given; set it, or write env(%q, \"default\")", name, name)
		},
	})
}

// EvalContext is the evaluation context of configuration files: no variables, and the
// functions listed in the README (env).
func EvalContext(lookupEnv func(string) (string, bool)) *hcl.EvalContext {
	return &hcl.EvalContext{
		Functions: map[string]function.Function{
			"env": envFunc(lookupEnv),
		},
	}
}
