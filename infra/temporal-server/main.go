// Command fairscribe-temporal is the production-shaped Temporal server of `npm run cluster` and
// `npm run test:cluster`: the real server (all services in one process, not `temporal server start-dev`), its
// SQL schema tool and Temporal's Web UI, built from the same Go modules as the pinned CLI (infra/temporal-cli.sh)
// so the server is exactly Server 1.29.1.
//
// Subcommands (each runs as its own OS process; infra/cluster.ts starts them):
//
//	fairscribe-temporal start --config-dir DIR [--env NAME]
//	    Loads Temporal's own config files from DIR (DIR/NAME.yaml, format of the server's config/development-*.yaml)
//	    and runs frontend, history, matching and worker until SIGINT/SIGTERM. Membership is static (one host per
//	    service on the ports the config names), as the CLI's dev server does, so no ringpop gossip is needed on
//	    loopback.
//	fairscribe-temporal sql-tool ARGS...
//	    Temporal's temporal-sql-tool (go.temporal.io/server/tools/sql) with the schema files embedded in this
//	    module version: create-database, setup-schema -v 0.0, update-schema --schema-name postgresql/v12/temporal.
//	fairscribe-temporal ui --port N --temporal-address HOST:PORT [--ip IP]
//	    Temporal's Web UI (github.com/temporalio/ui-server/v2 v2.42.1, the version the pinned CLI embeds).
//
// Sources: go.temporal.io/server@v1.29.1/cmd/server/main.go (start), cmd/tools/sql/main.go (sql-tool), and
// github.com/temporalio/cli@v1.5.1/temporalcli/devserver/server.go (static hosts, UI options).
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uiserveroptions "github.com/temporalio/ui-server/v2/server/server_options"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/headers"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
	"go.temporal.io/server/common/membership/static"
	_ "go.temporal.io/server/common/persistence/sql/sqlplugin/postgresql" // registers postgres12 / postgres12_pgx
	"go.temporal.io/server/common/primitives"
	"go.temporal.io/server/temporal"
	sqltool "go.temporal.io/server/tools/sql"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "start":
		err = runServer(os.Args[2:])
	case "sql-tool":
		// urfave/cli wants the program name first.
		err = sqltool.RunTool(append([]string{"temporal-sql-tool"}, os.Args[2:]...))
	case "ui":
		err = runUI(os.Args[2:])
	case "version", "--version":
		fmt.Printf("fairscribe-temporal (Server %s)\n", headers.ServerVersion)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "fairscribe-temporal %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: fairscribe-temporal start --config-dir DIR [--env NAME] | sql-tool ARGS... | ui --port N --temporal-address HOST:PORT | version")
	os.Exit(2)
}

// runServer starts every Temporal service in this process from the config in --config-dir and blocks until
// SIGINT/SIGTERM (temporal.InterruptOn), then stops them.
func runServer(args []string) error {
	fs := flag.NewFlagSet("start", flag.ExitOnError)
	configDir := fs.String("config-dir", "", "directory holding ENV.yaml (Temporal's server config format)")
	env := fs.String("env", "cluster", "config file name without .yaml")
	_ = fs.Parse(args)
	if *configDir == "" {
		return fmt.Errorf("--config-dir is required")
	}
	cfg, err := config.LoadConfig(*env, *configDir, "")
	if err != nil {
		return fmt.Errorf("loading config: %w", err)
	}
	logger := log.NewZapLogger(log.BuildZapLogger(cfg.Log))
	logger.Info("starting", tag.NewStringTag("server-version", headers.ServerVersion))

	var dc dynamicconfig.Client = dynamicconfig.NewNoopClient()
	if cfg.DynamicConfigClient != nil {
		dc, err = dynamicconfig.NewFileBasedClient(cfg.DynamicConfigClient, logger, temporal.InterruptCh())
		if err != nil {
			return fmt.Errorf("dynamic config: %w", err)
		}
	}
	authorizer, err := authorization.GetAuthorizerFromConfig(&cfg.Global.Authorization)
	if err != nil {
		return fmt.Errorf("authorizer: %w", err)
	}
	claimMapper, err := authorization.GetClaimMapperFromConfig(&cfg.Global.Authorization, logger)
	if err != nil {
		return fmt.Errorf("claim mapper: %w", err)
	}

	// One host per service, on the gRPC ports the config gives (the dev server does the same).
	hosts := map[primitives.ServiceName]static.Hosts{}
	for _, svc := range []primitives.ServiceName{
		primitives.FrontendService, primitives.HistoryService, primitives.MatchingService, primitives.WorkerService,
	} {
		sc, ok := cfg.Services[string(svc)]
		if !ok {
			return fmt.Errorf("config has no services.%s", svc)
		}
		ip := sc.RPC.BindOnIP
		if ip == "" {
			ip = "127.0.0.1"
		}
		hosts[svc] = static.SingleLocalHost(fmt.Sprintf("%s:%d", ip, sc.RPC.GRPCPort))
	}

	s, err := temporal.NewServer(
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithConfig(cfg),
		temporal.WithStaticHosts(hosts),
		temporal.WithDynamicConfigClient(dc),
		temporal.WithLogger(logger),
		temporal.InterruptOn(temporal.InterruptCh()),
		temporal.WithAuthorizer(authorizer),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claimMapper }),
	)
	if err != nil {
		return fmt.Errorf("creating server: %w", err)
	}
	// Start blocks until an interrupt arrives, then stops all services.
	if err := s.Start(); err != nil {
		return fmt.Errorf("starting server: %w", err)
	}
	return nil
}

// runUI serves Temporal's Web UI until SIGINT/SIGTERM.
func runUI(args []string) error {
	fs := flag.NewFlagSet("ui", flag.ExitOnError)
	ip := fs.String("ip", "127.0.0.1", "address to bind")
	port := fs.Int("port", 0, "HTTP port")
	address := fs.String("temporal-address", "", "frontend gRPC HOST:PORT")
	_ = fs.Parse(args)
	if *port == 0 || *address == "" {
		return fmt.Errorf("--port and --temporal-address are required")
	}
	ui := uiserver.NewServer(uiserveroptions.WithConfigProvider(&uiconfig.Config{
		Host:                *ip,
		Port:                *port,
		TemporalGRPCAddress: *address,
		EnableUI:            true,
		CORS:                uiconfig.CORS{CookieInsecure: true},
		HideLogs:            true,
	}))
	errc := make(chan error, 1)
	go func() { errc <- ui.Start() }()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case err := <-errc:
		return err
	case <-sig:
		ui.Stop()
		return nil
	}
}
