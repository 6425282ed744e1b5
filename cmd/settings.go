package cmd

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

// applySettings fills every flag the user did not set from, in order, the
// environment (PULSE_<FLAG>, dashes as underscores) and the config file.
// One key names a setting everywhere: flag --max-batch-events, env
// PULSE_MAX_BATCH_EVENTS, file key max-batch-events (top level, or under a
// section named after the command, e.g. "ingest:", which wins).
func applySettings(cmd *cobra.Command, configPath string) error {
	if configPath == "" {
		configPath = os.Getenv("PULSE_CONFIG")
	}
	file, err := loadConfigFile(configPath)
	if err != nil {
		return err
	}
	section := sectionFor(file, cmd)
	var firstErr error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if firstErr != nil || f.Changed || f.Name == "config" || f.Name == "help" {
			return
		}
		if value, ok := os.LookupEnv(EnvName(f.Name)); ok {
			if err := f.Value.Set(value); err != nil {
				firstErr = usageErrorf("invalid %s=%q: %v", EnvName(f.Name), value, err)
			}
			return
		}
		value, ok := section[f.Name]
		if !ok {
			value, ok = file[f.Name]
		}
		if ok {
			if err := setFromConfig(f, value); err != nil {
				firstErr = usageErrorf("invalid %q in config file %s: %v", f.Name, configPath, err)
			}
		}
	})
	return firstErr
}

// EnvName is the environment variable that sets a flag.
func EnvName(flag string) string {
	return "PULSE_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

func loadConfigFile(path string) (map[string]any, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usageErrorf("cannot read config file: %v", err)
	}
	var file map[string]any
	if err := yaml.Unmarshal(data, &file); err != nil {
		return nil, usageErrorf("config file %s is not valid YAML: %v", path, err)
	}
	return file, nil
}

func sectionFor(file map[string]any, cmd *cobra.Command) map[string]any {
	// "schema apply" looks in section "schema.apply", then "schema".
	parts := strings.Fields(cmd.CommandPath())[1:]
	for i := len(parts); i > 0; i-- {
		if section, ok := file[strings.Join(parts[:i], ".")].(map[string]any); ok {
			return section
		}
	}
	return nil
}

func setFromConfig(f *pflag.Flag, value any) error {
	if list, ok := value.([]any); ok {
		parts := make([]string, len(list))
		for i, v := range list {
			parts[i] = fmt.Sprint(v)
		}
		return f.Value.Set(strings.Join(parts, ","))
	}
	return f.Value.Set(fmt.Sprint(value))
}

// namesEnv adds "(env PULSE_…)" to every flag's help, so --help names the
// environment variable of each setting.
func namesEnv(f *pflag.FlagSet) {
	f.VisitAll(func(flag *pflag.Flag) {
		flag.Usage += fmt.Sprintf(" (env %s)", EnvName(flag.Name))
	})
}
