#!/usr/bin/env node
// The `arq` executable. It is committed with its executable bit because npm never marks a root package's own bin
// executable when `prepare` builds it (dist/cli.js is written by tsc as 0644), and `npx arq` execs the file itself.
import '../dist/cli.js';
