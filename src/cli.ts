#!/usr/bin/env node
// portcullis: the command-line entry point. Commands and their flags are a contract users script
// against; add around them, never rename.
import { readFileSync } from 'node:fs';
import { UsageError } from './cli/args.ts';
import { demoCommand } from './cli/demo.ts';
import { explainCommand } from './cli/explain.ts';
import { healthCommand } from './cli/health.ts';
import { runCommand } from './cli/run.ts';
import { schemaCommand } from './cli/schema.ts';
import { tokenCommand } from './cli/token.ts';
import { validateCommand } from './cli/validate.ts';
import { ConfigError, formatProblem } from './config/problems.ts';

const USAGE = `Usage: portcullis [command] [options]

Commands:
  (none)      run the gateway                      portcullis [--config FILE] [--port N] [--admin-port N]
                                                     [--allow-default-secrets]
  validate    check gateway.yaml, list problems    portcullis validate [--config FILE] [--json]
  token       mint a token for a provider          portcullis token --provider NAME --sub ID [--roles a,b]
                                                     [--scope "x y"] [--ttl 1h] [--claim k=v]... [--config FILE]
  explain     show how a request would be handled  portcullis explain [--config FILE] [--token JWT | --claims JSON]
                                                     [-H 'Name: value']... METHOD URL
  demo        run the gateway with the bundled echo backend (what npm start does); allows the config's
              \${VAR:-fallback} secrets, except with NODE_ENV=production
  health      ask a running gateway's admin port       portcullis health [--ready] [--config FILE] [--admin-port N] [--admin-host H]
              for /healthz (--ready: /readyz); exit 0 when it answers 200
  schema      print the JSON Schema of gateway.yaml

The config file is --config FILE, else $PORTCULLIS_CONFIG, else ./gateway.yaml.
`;

type Command = (args: readonly string[]) => number | Promise<number>;

const COMMANDS: Record<string, Command> = {
  validate: validateCommand,
  token: tokenCommand,
  explain: explainCommand,
  demo: demoCommand,
  schema: schemaCommand,
  health: healthCommand,
  run: runCommand,
};

async function main(argv: readonly string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === '--help' || first === '-h' || first === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (first === '--version' || first === '-v') {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    process.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  const command = first !== undefined && !first.startsWith('-') ? COMMANDS[first] : undefined;
  if (first !== undefined && !first.startsWith('-') && command === undefined) {
    throw new UsageError(`unknown command "${first}"`);
  }
  const serve = command ?? runCommand;
  // A serving gateway reloads on SIGHUP (cli/run.ts installs that once it listens). A hangup while it
  // starts, or while a cluster worker loads, must not kill it: the config it is loading is read now anyway.
  if (serve === runCommand || serve === demoCommand) process.on('SIGHUP', () => {});
  return command ? command(rest) : runCommand(argv);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof ConfigError) {
      for (const problem of err.problems) process.stderr.write(formatProblem(problem) + '\n');
      process.stderr.write(`portcullis: ${err.problems.filter((p) => p.severity === 'error').length} error(s) in the configuration; nothing was started\n`);
    } else if (err instanceof UsageError) {
      process.stderr.write(`portcullis: ${err.message}\n\n${USAGE}`);
    } else if ((err as NodeJS.ErrnoException)?.code === 'EADDRINUSE') {
      const e = err as NodeJS.ErrnoException & { port?: number; address?: string };
      process.stderr.write(`portcullis: ${e.address ?? ''}:${e.port ?? ''} is already in use; stop what listens there or change server.port / server.admin_port\n`);
    } else {
      process.stderr.write(`portcullis: ${err instanceof Error ? err.message : String(err)}\n`);
    }
    process.exitCode = 1;
  },
);
