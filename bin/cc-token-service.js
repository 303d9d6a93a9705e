#!/usr/bin/env node
// The CLI as an installed command (package.json "bin"): runs src/cli/main.ts, TypeScript, through tsx's
// loader registered in this process, so arguments, signals and the exit status are the CLI's own. Paths are
// resolved from this file, so it works from any directory; the service's environment (DATA_DIR, KEYS_DIR,
// DATABASE_URL, ...) is read as usual, relative paths from the current directory.
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
await import(new URL('../src/cli/main.ts', import.meta.url).href);
