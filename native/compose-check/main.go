// Command compose-check loads a Compose project the way `docker compose config --format json`
// does, with the same parser: github.com/compose-spec/compose-go/v2, the library Docker Compose is
// built on. It prints the resolved project as JSON on stdout, or the error on stderr and exits 1.
//
//	compose-check DIR [FILE...]
//
// DIR is the project directory. As with `docker compose --project-directory DIR [-f FILE...] config`:
//
//   - the Compose files are the FILEs, relative to DIR, merged in order; without any, the Compose
//     file is found in DIR by the default names (compose.yaml, compose.yml, docker-compose.yml,
//     docker-compose.yaml, then any override file), searching the parent directories when DIR has
//     none;
//   - DIR/.env, when present, provides the variables for interpolation;
//   - the project name comes from the file's `name:` (else from COMPOSE_PROJECT_NAME in .env, else
//     from the directory name);
//   - the model is validated against the Compose schema, interpolated, normalized, its relative
//     paths resolved against DIR, checked for consistency (every depends_on, network, volume,
//     secret and config that a service names exists; no two containers share a name), and each
//     service's environment resolved.
//
// Unlike docker compose, the process environment is not read at all (no COMPOSE_FILE,
// COMPOSE_PROFILES, COMPOSE_PROJECT_NAME or interpolation variables from it): the result depends
// only on the files in DIR, so a test of the resolved project means the same thing everywhere.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if len(os.Args) < 2 || os.Args[1] == "" || os.Args[1] == "-h" || os.Args[1] == "--help" {
		fmt.Fprintln(os.Stderr, "usage: compose-check DIR [FILE...]   (prints the resolved Compose project of DIR as JSON)")
		os.Exit(2)
	}
	if err := run(context.Background(), os.Args[1], os.Args[2:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "compose-check:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dir string, files []string, out io.Writer) error {
	info, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}

	// The .env of the project directory, named explicitly: cli.WithEnvFiles() without a file
	// would find the same one, but consults COMPOSE_DISABLE_ENV_FILE in the process environment.
	var envFiles []string
	dotEnv := filepath.Join(dir, ".env")
	if info, err := os.Stat(dotEnv); err == nil && !info.IsDir() {
		envFiles = []string{dotEnv}
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}

	var configs []string
	for _, file := range files {
		configs = append(configs, filepath.Join(dir, file))
	}

	// The options of docker compose's `config` command and its project loading, in its order,
	// minus cli.WithOsEnv (and the process's PWD). WithDefaultConfigPath applies only without -f.
	options, err := cli.NewProjectOptions(configs,
		cli.WithInterpolation(true),
		cli.WithResolvedPaths(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
		cli.WithDefaultProfiles(),
		cli.WithDiscardEnvFile,
		cli.WithWorkingDirectory(dir),
		cli.WithEnvFiles(envFiles...),
		cli.WithDotEnv,
		cli.WithConfigFileEnv, // COMPOSE_FILE, here only from .env
		cli.WithDefaultConfigPath,
		cli.WithName(""), // no -p: the file's name:, COMPOSE_PROJECT_NAME or the directory's name
	)
	if err != nil {
		return err
	}
	if len(options.ConfigPaths) == 0 {
		return fmt.Errorf("no Compose file (compose.yaml, docker-compose.yml, ...) in %s or its parents", dir)
	}

	project, err := options.LoadProject(ctx)
	if err != nil {
		return err
	}
	// What `docker compose config` does after loading, unless told otherwise.
	project, err = project.WithServicesEnvironmentResolved(true)
	if err != nil {
		return err
	}
	if err := project.CheckContainerNameUnicity(); err != nil {
		return err
	}

	content, err := project.MarshalJSON()
	if err != nil {
		return err
	}
	if _, err := out.Write(append(content, '\n')); err != nil {
		return err
	}
	return nil
}
