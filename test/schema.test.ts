import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { buildGatewaySchema, schemaText } from '../src/graphql/schema';

it('schema.graphql is what the code generates (run `npm run schema` after changing the GraphQL types)', async () => {
  const committed = readFileSync('schema.graphql', 'utf8');
  expect(schemaText(await buildGatewaySchema())).toBe(committed);
});
