#!/usr/bin/env node
// Runs the compiled CLI (npm run build, or npm run setup, produces dist/).
require('../dist/src/cli/berthctl.js');
