// `npm run setup:ferretdb`: builds the FerretDB binary ahead of time, so that
// the first `npm test` or `npm start` does not pause for the Go build.
import { ensureFerretdbBinary } from './ferretdb.js';

try {
  const binary = await ensureFerretdbBinary({ log: (line) => console.error(line) });
  console.log(binary);
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
}
