package cmd

import (
	"context"
	dbsql "database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pulse-analytics/pulse/chstore"
	sqlfiles "github.com/pulse-analytics/pulse/sql"
	"github.com/pulse-analytics/pulse/store"
)

// schemaOptions are the settings shared by the schema subcommands.
type schemaOptions struct {
	clickhouseDSN string
	dataPath      string
	dialect       string
	params        chstore.Params
}

// target says which store a plan or apply works on.
func (o *schemaOptions) validateTarget(cmd *cobra.Command) error {
	switch {
	case o.clickhouseDSN != "" && o.dataPath != "":
		return usageErrorf("%s: give either --clickhouse DSN or --data PATH, not both (check %s and %s in the environment and the config file)", cmd.CommandPath(), EnvName("clickhouse"), EnvName("data"))
	case o.clickhouseDSN == "" && o.dataPath == "":
		return usageErrorf("%s needs --clickhouse DSN (e.g. clickhouse://localhost:9000 or http://localhost:8123) or --data PATH (the embedded store)", cmd.CommandPath())
	}
	return o.validateParams()
}

func (o *schemaOptions) validateParams() error {
	if err := o.params.Validate(); err != nil {
		return &UsageError{Err: fmt.Errorf("invalid schema settings: %w", err)}
	}
	return nil
}

func newSchemaCmd(streams Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schema",
		Short: "Create and migrate the storage schema (ClickHouse or the embedded store)",
		Long: `Create and migrate pulse's storage schema.

The ClickHouse schema is a list of numbered migrations (Kafka queue table,
dead letters, deduplicated events table, daily rollups, reader roles and row
policies), rendered with the settings below and recorded in
<database>.schema_migrations. The embedded store (--data) has its own
migrations, which 'pulse ingest' also applies when it opens the file.

Every flag can also be set by an environment variable PULSE_<FLAG> (dashes as
underscores) or a key in the --config YAML file (top level, under "schema:"
or under "schema.apply:" and so on). --brokers, --topic and --partitions are
the same keys as for 'pulse ingest'.`,
		Args: noArgs,
		// Runnable, so that noArgs sees a mistyped subcommand: cobra shows
		// help for a command without RunE before it checks arguments.
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageErrorf("%s needs a subcommand: print, plan, apply or tenant-user (see --help)", cmd.CommandPath())
		},
	}
	cmd.AddCommand(newSchemaPrintCmd(streams), newSchemaPlanCmd(streams), newSchemaApplyCmd(streams), newSchemaTenantUserCmd(streams))
	return cmd
}

// addSchemaFlags registers the ClickHouse schema settings on f.
func addSchemaFlags(cmd *cobra.Command, opts *schemaOptions) {
	opts.params = chstore.DefaultParams()
	p := &opts.params
	f := cmd.Flags()
	f.StringVar(&p.Database, "database", p.Database, "ClickHouse database that holds pulse's tables")
	f.StringSliceVar(&p.Brokers, "brokers", p.Brokers, "Kafka brokers host:port,... as the ClickHouse server reaches them")
	f.StringVar(&p.Topic, "topic", p.Topic, "Kafka topic the ClickHouse queue table reads")
	f.StringVar(&p.ConsumerGroup, "consumer-group", p.ConsumerGroup, "Kafka consumer group of the ClickHouse queue table")
	f.IntVar(&p.Partitions, "partitions", p.Partitions, "partitions of the topic (the gateway's --partitions); --kafka-consumers may not exceed it")
	f.IntVar(&p.KafkaConsumers, "kafka-consumers", p.KafkaConsumers, "ClickHouse Kafka consumers (kafka_num_consumers), at most --partitions and the server's physical cores")
	f.IntVar(&p.RetentionDays, "retention-days", p.RetentionDays, "days raw events are kept (TTL of the events table)")
	f.IntVar(&p.RollupRetentionDays, "rollup-retention-days", p.RollupRetentionDays, "days the daily rollups are kept")
	f.IntVar(&p.DeadLetterRetentionDays, "dead-letter-retention-days", p.DeadLetterRetentionDays, "days refused Kafka messages are kept")
	annotateEnv(cmd, "database", "brokers", "topic", "consumer-group", "partitions", "kafka-consumers", "retention-days")
}

func addTargetFlags(cmd *cobra.Command, opts *schemaOptions) {
	f := cmd.Flags()
	f.StringVar(&opts.clickhouseDSN, "clickhouse", "", "ClickHouse DSN: clickhouse://user:pass@host:9000 (native) or http://user:pass@host:8123")
	f.StringVar(&opts.dataPath, "data", "", "embedded store file (instead of --clickhouse)")
	annotateEnv(cmd, "clickhouse", "data")
}

// annotateEnv names each flag's environment variable in --help.
func annotateEnv(cmd *cobra.Command, names ...string) {
	for _, name := range names {
		flag := cmd.Flags().Lookup(name)
		flag.Usage += fmt.Sprintf(" (env %s)", EnvName(name))
	}
}

func newSchemaPrintCmd(streams Streams) *cobra.Command {
	opts := &schemaOptions{}
	cmd := &cobra.Command{
		Use:   "print",
		Short: "Write the full schema DDL to stdout",
		Long: `Write the full schema to stdout: every migration, rendered with the
settings, ready for clickhouse-client --multiquery (or, with --dialect duckdb,
the embedded store's migrations). Nothing is connected to.`,
		Example: `  pulse schema print > pulse.sql
  pulse schema print --database analytics --brokers kafka1:9092,kafka2:9092 --retention-days 90
  pulse schema print --dialect duckdb`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch opts.dialect {
			case string(sqlfiles.ClickHouse):
				if err := opts.validateParams(); err != nil {
					return err
				}
			case string(sqlfiles.DuckDB):
			default:
				return usageErrorf("unknown --dialect %q: use clickhouse or duckdb", opts.dialect)
			}
			return schemaPrintRun(opts, streams.Out)
		},
	}
	addSchemaFlags(cmd, opts)
	cmd.Flags().StringVar(&opts.dialect, "dialect", string(sqlfiles.ClickHouse), "schema to print: clickhouse or duckdb (the embedded store)")
	return cmd
}

func schemaPrintRun(opts *schemaOptions, out io.Writer) error {
	if opts.dialect == string(sqlfiles.DuckDB) {
		migrations, err := store.Migrations()
		if err != nil {
			return err
		}
		var b strings.Builder
		for _, m := range migrations {
			fmt.Fprintf(&b, "-- migration %04d_%s\n%s\n", m.Version, m.Name, strings.TrimRight(m.SQL, "\n"))
		}
		_, err = io.WriteString(out, b.String())
		return err
	}
	return chstore.WriteDDL(out, opts.params)
}

func newSchemaPlanCmd(streams Streams) *cobra.Command {
	opts := &schemaOptions{}
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "List the migrations that apply would run; exit 1 if there are any",
		Long: `List the pending migrations, changing nothing. The exit code says whether
the schema is current: 0 up to date, 1 migrations pending (or an error), 2
usage error; so 'pulse schema plan || pulse schema apply' works in scripts.`,
		Example: `  pulse schema plan --clickhouse clickhouse://localhost:9000
  pulse schema plan --data /var/lib/pulse.db`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.validateTarget(cmd); err != nil {
				return err
			}
			return schemaPlanRun(cmd.Context(), opts, streams.Out)
		},
	}
	addTargetFlags(cmd, opts)
	addSchemaFlags(cmd, opts)
	return cmd
}

// errPending makes plan exit 1 without an error message: the plan printed
// on stdout says what is pending.
var errPending = &ExitCodeError{Code: ExitRuntime, Err: errors.New("")}

func schemaPlanRun(ctx context.Context, opts *schemaOptions, out io.Writer) error {
	var pending []string
	var where string
	if opts.dataPath != "" {
		where = "embedded store " + opts.dataPath
		ids, err := duckdbPending(ctx, opts.dataPath)
		if err != nil {
			return err
		}
		pending = ids
	} else {
		conn, err := chstore.Open(ctx, opts.clickhouseDSN)
		if err != nil {
			return err
		}
		defer conn.Close()
		where = "clickhouse database " + opts.params.Database
		ms, err := chstore.Pending(ctx, conn, opts.params)
		if err != nil {
			return err
		}
		for _, m := range ms {
			pending = append(pending, m.ID())
		}
	}
	if len(pending) == 0 {
		fmt.Fprintf(out, "%s is up to date\n", where)
		return nil
	}
	fmt.Fprintf(out, "%d pending migration(s) for %s:\n", len(pending), where)
	for _, id := range pending {
		fmt.Fprintf(out, "  %s\n", id)
	}
	return errPending
}

func newSchemaApplyCmd(streams Streams) *cobra.Command {
	opts := &schemaOptions{}
	cmd := &cobra.Command{
		Use:   "apply",
		Short: "Run the pending migrations and record them",
		Long: `Create the database if needed and run the pending migrations in order,
recording each one. Running it again does nothing. The settings are rendered
into the DDL when a migration runs: changing one later (say --retention-days)
needs a new migration, not a re-apply.`,
		Example: `  pulse schema apply --clickhouse clickhouse://default:secret@ch1:9000 --brokers kafka1:9092
  pulse schema apply --data /var/lib/pulse.db`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.validateTarget(cmd); err != nil {
				return err
			}
			return schemaApplyRun(cmd.Context(), opts, streams.Out)
		},
	}
	addTargetFlags(cmd, opts)
	addSchemaFlags(cmd, opts)
	return cmd
}

func schemaApplyRun(ctx context.Context, opts *schemaOptions, out io.Writer) error {
	var applied []string
	var where string
	if opts.dataPath != "" {
		where = "embedded store " + opts.dataPath
		ids, err := duckdbApply(ctx, opts.dataPath)
		if err != nil {
			return err
		}
		applied = ids
	} else {
		conn, err := chstore.Open(ctx, opts.clickhouseDSN)
		if err != nil {
			return err
		}
		defer conn.Close()
		where = "clickhouse database " + opts.params.Database
		ms, err := chstore.Apply(ctx, conn, opts.params)
		for _, m := range ms {
			applied = append(applied, m.ID())
		}
		if err != nil {
			for _, id := range applied {
				fmt.Fprintf(out, "applied %s\n", id)
			}
			return err
		}
	}
	if len(applied) == 0 {
		fmt.Fprintf(out, "%s is up to date; nothing to apply\n", where)
		return nil
	}
	for _, id := range applied {
		fmt.Fprintf(out, "applied %s\n", id)
	}
	fmt.Fprintf(out, "%s is up to date\n", where)
	return nil
}

// duckdbPending lists the embedded store's pending migrations without
// creating the file when it does not exist yet.
func duckdbPending(ctx context.Context, path string) ([]string, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		all, err := store.Migrations()
		if err != nil {
			return nil, err
		}
		return duckdbIDs(all), nil
	}
	db, err := openDuckDB(path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	pending, err := store.Pending(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("embedded store %s: %w", path, err)
	}
	return duckdbIDs(pending), nil
}

// duckdbApply applies the embedded store's migrations the way 'pulse
// ingest' does, through store.Open (its memory limit, its advice when the
// file is locked), and reports what was pending before.
func duckdbApply(ctx context.Context, path string) ([]string, error) {
	pending, err := duckdbPending(ctx, path)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, store.Options{Path: path})
	if err != nil {
		return nil, err
	}
	if err := st.Close(); err != nil {
		return nil, fmt.Errorf("close embedded store %s: %w", path, err)
	}
	return pending, nil
}

// openDuckDB opens the file with database/sql; the store package registers
// the driver. One process writes a store file at a time.
func openDuckDB(path string) (*dbsql.DB, error) {
	db, err := dbsql.Open("duckdb", path)
	if err == nil {
		err = db.Ping()
	}
	if err != nil {
		if db != nil {
			db.Close()
		}
		return nil, fmt.Errorf("open embedded store %s: %w (is 'pulse ingest' running on it? stop it first)", path, err)
	}
	return db, nil
}

func duckdbIDs(ms []store.Migration) []string {
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = fmt.Sprintf("%04d_%s", m.Version, m.Name)
	}
	return ids
}

type tenantUserOptions struct {
	schemaOptions
	tenant      string
	passwordEnv string
}

func newSchemaTenantUserCmd(streams Streams) *cobra.Command {
	opts := &tenantUserOptions{}
	cmd := &cobra.Command{
		Use:   "tenant-user",
		Short: "Create or update a ClickHouse user that reads one tenant's rows",
		Long: `Create (or update) the ClickHouse user <database>_tenant_<tenant>: it holds
the <database>_tenant role and a row policy that shows it only rows of its
tenant, on the events table and every rollup. Running it again resets the
password and repairs the grant and policy. The password is read from the
environment variable named by --password-env, never from the command line.
Needs the schema applied and a user with access_management.`,
		Example: `  ACME_PW=$(openssl rand -hex 16) pulse schema tenant-user --clickhouse clickhouse://admin:secret@ch1:9000 --tenant acme --password-env ACME_PW`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.clickhouseDSN == "" {
				return usageErrorf("%s needs --clickhouse DSN", cmd.CommandPath())
			}
			if opts.tenant == "" || opts.passwordEnv == "" {
				return usageErrorf("%s needs --tenant and --password-env (the name of the variable holding the password)", cmd.CommandPath())
			}
			if err := opts.validateParams(); err != nil {
				return err
			}
			password := os.Getenv(opts.passwordEnv)
			if password == "" {
				return usageErrorf("environment variable %s (--password-env) is empty or unset", opts.passwordEnv)
			}
			return schemaTenantUserRun(cmd.Context(), opts, password, streams.Out)
		},
	}
	opts.params = chstore.DefaultParams()
	f := cmd.Flags()
	f.StringVar(&opts.clickhouseDSN, "clickhouse", "", "ClickHouse DSN of a user with access_management")
	annotateEnv(cmd, "clickhouse")
	f.StringVar(&opts.tenant, "tenant", "", "tenant_id whose rows the user may read")
	f.StringVar(&opts.passwordEnv, "password-env", "", "name of the environment variable that holds the user's password")
	f.StringVar(&opts.params.Database, "database", opts.params.Database, "ClickHouse database that holds pulse's tables")
	annotateEnv(cmd, "database")
	return cmd
}

func schemaTenantUserRun(ctx context.Context, opts *tenantUserOptions, password string, out io.Writer) error {
	conn, err := chstore.Open(ctx, opts.clickhouseDSN)
	if err != nil {
		return err
	}
	defer conn.Close()
	user, err := chstore.EnsureTenantReader(ctx, conn, opts.params, opts.tenant, password)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "user %s reads tenant %s in database %s\n", user, opts.tenant, opts.params.Database)
	return nil
}
