// Run by tap before the suite (package.json "tap.before"): the host as it was.
import { writeFileSync } from 'node:fs';
import { BASELINE, hostState } from './host.js';

writeFileSync(BASELINE, JSON.stringify(hostState()), { mode: 0o600 });
