#!/usr/bin/env node
// The `arq` executable. `npx arq` execs this file itself, and npm never marks a root package's own bin executable,
// so the file is committed as 0755 and `prepare` sets the bit again for checkouts copied without file modes.
import '../dist/cli.js';
