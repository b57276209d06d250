import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { buildGatewaySchema, schemaText } from '../graphql/schema';

// `npm run schema`: write schema.graphql from the code. test/schema.test.ts fails when the two differ.
buildGatewaySchema().then(
  (schema) => {
    writeFileSync('schema.graphql', schemaText(schema));
    process.stdout.write('wrote schema.graphql\n');
  },
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
